import type { Router } from 'express';
import express from 'express';
import type { Logger } from 'pino';
import type { StreamRegistry } from '../../core/registry.js';
import type { z } from 'zod';
import type { rtspConfigSchema, sourcesConfigSchema } from './config.js';

export interface RtspDeps {
  readonly registry: StreamRegistry;
  readonly config: z.infer<typeof rtspConfigSchema>;
  readonly sources: z.infer<typeof sourcesConfigSchema>;
  readonly log: Logger;
}

/** RTSP server (ANNOUNCE/RECORD, DESCRIBE/PLAY) and camera pulls. Placeholder until the RTSP work lands. */
export class RtspServer {
  constructor(readonly deps: RtspDeps) {}

  /** Routes under /api/v1/sources. */
  router(): Router {
    return express.Router();
  }

  async listen(_port: number, _host: string): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {}
}

import express, { type Router } from 'express';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { StreamRegistry } from '../../core/registry.js';
import type { hlsConfigSchema } from './config.js';

export interface HlsDeps {
  readonly registry: StreamRegistry;
  readonly config: z.infer<typeof hlsConfigSchema>;
  readonly log: Logger;
}

/** HLS / LL-HLS output. Placeholder until the HLS work lands. */
export class HlsServer {
  constructor(readonly deps: HlsDeps) {}

  /** Routes for /{app}/{name}/index.m3u8 and its segments. */
  router(): Router {
    return express.Router();
  }

  async close(): Promise<void> {}
}

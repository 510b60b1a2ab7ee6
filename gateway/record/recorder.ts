import express, { type Router } from 'express';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { StreamRegistry } from '../core/registry.js';
import type { recordConfigSchema } from './config.js';

export interface RecorderDeps {
  readonly registry: StreamRegistry;
  readonly config: z.infer<typeof recordConfigSchema>;
  readonly dataDir: string;
  readonly log: Logger;
}

/** Crash-safe fMP4 recording. Placeholder until the recording work lands. */
export class Recorder {
  constructor(readonly deps: RecorderDeps) {}

  /** Routes for /api/v1/recordings and /api/v1/streams/{app}/{name}/record. */
  router(): Router {
    return express.Router();
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {}
}

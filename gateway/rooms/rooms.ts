import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import express, { type Router } from 'express';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { StreamRegistry } from '../core/registry.js';
import type { roomsConfigSchema } from './config.js';

export interface RoomsDeps {
  readonly registry: StreamRegistry;
  readonly config: z.infer<typeof roomsConfigSchema>;
  readonly dataDir: string;
  readonly log: Logger;
}

/** Rooms: chat, data channel, presence. Placeholder until the rooms work lands. */
export class Rooms {
  constructor(readonly deps: RoomsDeps) {}

  router(): Router {
    return express.Router();
  }

  handleUpgrade = (_req: IncomingMessage, _socket: Socket, _head: Buffer, _pathname: string): boolean => false;

  async close(): Promise<void> {}
}

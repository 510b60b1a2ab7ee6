import { pino, type Logger } from 'pino';

export type { Logger };

/** The gateway's root logger: JSON lines on stdout; children carry component and connection context. */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level, base: { pid: process.pid } };
  return destination ? pino(options, destination) : pino(options);
}

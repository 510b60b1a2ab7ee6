import { pino, type Logger } from 'pino';

export type { Logger };

/** The gateway's root logger: JSON lines on stdout; children carry component and connection context. */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level, base: { pid: process.pid } };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * Credentials in URLs (`?token=...`, `user:password@`) masked, for anything written to logs or
 * shown by the API: a request URL, an ffmpeg command line, ffmpeg's own words.
 */
export function maskSecrets(text: string): string {
  return text.replace(/([?&]token=)[^&\s'"]+/g, '$1***').replace(/(\/\/[^/\s:@]+:)[^@\s/]+@/g, '$1***@');
}

import type { Readable } from 'node:stream';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { configWith } from '../../gateway/config.js';
import { Gateway } from '../../gateway/gateway.js';

export interface TestGateway {
  gw: Gateway;
  http: string;
  ws: string;
  rtmp: string;
  rtsp: string;
  /** srt://127.0.0.1:PORT (no streamid), or '' when the SRT listener is off. */
  srt: string;
  /** Log lines (parsed JSON) the gateway wrote, for asserting on refusals. */
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

/** A logger that keeps lines in memory (printed when STREAMGATE_TEST_LOG=1). */
export function memoryLogger(level = 'debug'): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) {
        if (!line) continue;
        try {
          lines.push(JSON.parse(line));
        } catch {
          /* not JSON */
        }
        if (process.env.STREAMGATE_TEST_LOG) process.stderr.write(line + '\n');
      }
      cb();
    },
  });
  return { log: pino({ level }, sink), lines };
}

/**
 * Parses a child's stdout into JSON log lines as they arrive (lines split across chunks are
 * joined; lines that are not JSON are skipped), appending them to `lines`.
 */
export function collectJsonLines(stdout: Readable, lines: Record<string, any>[]): void {
  let rest = '';
  stdout.on('data', (d) => {
    rest += String(d);
    const parts = rest.split('\n');
    rest = parts.pop()!;
    for (const part of parts) {
      try {
        lines.push(JSON.parse(part));
      } catch {
        /* not JSON */
      }
    }
  });
}

/** Starts a gateway on loopback with every port 0, on the default config plus `partial`. */
export async function startGateway(partial: Record<string, any> = {}): Promise<TestGateway> {
  const config = configWith({
    ...partial,
    bind: '127.0.0.1',
    http: { ...(partial.http ?? {}), port: 0 },
    rtmp: { ...(partial.rtmp ?? {}), port: 0 },
    rtsp: { ...(partial.rtsp ?? {}), port: 0 },
    srt: { ...(partial.srt ?? {}), port: 0 },
    // A port per WebRTC session (port 0 cannot be shared by ICE UDP mux); tests of the mux set one.
    // The overload guard off: a test machine running suites side by side has event-loop delays a
    // gateway of its own would not; its test turns it on.
    webrtc: { udpPort: 0, overloadLagMs: 0, ...(partial.webrtc ?? {}) },
  });
  const { log, lines } = memoryLogger();
  const gw = new Gateway(config, { logger: log });
  const ports = await gw.start();
  return {
    gw,
    http: `http://127.0.0.1:${ports.http}`,
    ws: `ws://127.0.0.1:${ports.http}`,
    rtmp: `rtmp://127.0.0.1:${ports.rtmp}`,
    rtsp: `rtsp://127.0.0.1:${ports.rtsp}`,
    srt: ports.srt ? `srt://127.0.0.1:${ports.srt}` : '',
    logs: lines,
    stop: () => gw.stop(),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes (then throws with `what`). */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 10_000, everyMs = 50): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

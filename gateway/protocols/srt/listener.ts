/**
 * The SRT stack of one connection: an ffmpeg child whose libsrt listens on a loopback port for
 * exactly one caller (the gateway's relay) and writes the caller's bytes, untouched, to stdout
 * (`-f data`: no demuxing in ffmpeg; the gateway's TS demuxer does it). libsrt does the
 * handshake, ARQ retransmission, TSBPD latency and AES decryption.
 *
 * Spawned directly, not through transcode/'s fluent-ffmpeg wrapper: the argument list is fixed,
 * stdout is a raw byte stream, and fluent-ffmpeg starts the process a few event-loop turns
 * later (longer the first time, when it probes the binary), which a caller waiting in its
 * handshake would feel.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import type { SrtConfig } from './config.js';

/** How many of ffmpeg's last stderr lines are kept for the log line of a failure. */
const STDERR_LINES = 8;
/** After SIGTERM (ffmpeg closes the SRT socket: the caller learns at once), SIGKILL after this. */
const KILL_AFTER_MS = 2000;

export interface SrtChildHandlers {
  data(chunk: Buffer): void;
  /** A sending child's stdin took its backlog. */
  drain?(): void;
  /** The child is gone; `stderr` holds its last lines. */
  exit(code: number | null, signal: NodeJS.Signals | null, stderr: string): void;
}

/**
 * ffmpeg arguments for a listener on 127.0.0.1:`port`: `receive` (a publishing caller: its bytes
 * to stdout) or `send` (a playing caller: stdin's bytes to it, in 1316-byte messages of seven
 * TS packets, libsrt's live-mode payload).
 */
export function listenerArgs(port: number, config: SrtConfig, mode: 'receive' | 'send' = 'receive'): string[] {
  const params = new URLSearchParams({ mode: 'listener', latency: String(config.latencyMs * 1000) });
  // listen_timeout ends a child whose caller never finished connecting (µs).
  params.set('listen_timeout', String(config.handshakeTimeoutMs * 1000));
  if (config.passphrase !== '') {
    params.set('passphrase', config.passphrase);
    if (config.pbkeylen !== 0) params.set('pbkeylen', String(config.pbkeylen));
  }
  const url = `srt://127.0.0.1:${port}?${params.toString()}`;
  if (mode === 'send') {
    // -probesize/-analyzeduration minimal: raw bytes need no probing, so the listener opens at once.
    return ['-hide_banner', '-loglevel', 'warning', '-f', 'data', '-probesize', '32', '-analyzeduration', '0', '-i', 'pipe:0',
      '-map', '0', '-c', 'copy', '-f', 'data', url];
  }
  return [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'warning',
    '-f',
    'data',
    '-i',
    url,
    '-map',
    '0',
    '-c',
    'copy',
    '-f',
    'data',
    '-flush_packets',
    '1',
    'pipe:1',
  ];
}

/** A free UDP port on loopback for the child to listen on (bound and released: a small race the caller's retries absorb). */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export class SrtListenerChild {
  private readonly proc: ChildProcess;
  private readonly lines: string[] = [];
  private killTimer: NodeJS.Timeout | undefined;
  exited = false;
  /** Resolves when the process is gone. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(binary: string, readonly port: number, config: SrtConfig, handlers: SrtChildHandlers, readonly mode: 'receive' | 'send' = 'receive') {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.proc = spawn(binary, listenerArgs(port, config, mode), { stdio: [mode === 'send' ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    this.proc.stdin?.on('error', () => {}); // EPIPE when the child ends first: its exit reports it
    this.proc.stdin?.on('drain', () => handlers.drain?.());
    this.proc.stdout!.on('data', (chunk: Buffer) => handlers.data(chunk));
    let partial = '';
    this.proc.stderr!.on('data', (d: Buffer) => {
      partial += d.toString('utf8');
      const parts = partial.split(/\r?\n/);
      partial = parts.pop() ?? '';
      for (const line of parts) {
        if (line.trim() === '') continue;
        // ffmpeg repeats its input URL in errors: the passphrase stays out of logs.
        this.lines.push(line.trim().replace(/passphrase=[^&\s]*/g, 'passphrase=***').slice(0, 300));
        if (this.lines.length > STDERR_LINES) this.lines.shift();
      }
      if (partial.length > 4096) partial = '';
    });
    this.proc.on('error', (error) => {
      this.lines.push(`cannot run ${binary}: ${error.message}`);
    });
    this.proc.on('close', (code, signal) => {
      this.exited = true;
      clearTimeout(this.killTimer);
      this.resolveDone();
      handlers.exit(code, signal, this.lines.join(' | '));
    });
  }

  /** Bytes for a sending child; false when its stdin is backed up (the hub then drops to a keyframe). */
  write(bytes: Buffer): boolean {
    const stdin = this.proc.stdin;
    if (!stdin || this.exited || stdin.destroyed) return true;
    return stdin.write(bytes);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** SIGTERM (a clean SRT shutdown the caller sees at once), then SIGKILL. Idempotent. */
  stop(): void {
    if (this.exited || this.killTimer) return;
    this.proc.kill('SIGTERM');
    this.killTimer = setTimeout(() => {
      if (!this.exited) this.proc.kill('SIGKILL');
    }, KILL_AFTER_MS);
    this.killTimer.unref();
  }
}

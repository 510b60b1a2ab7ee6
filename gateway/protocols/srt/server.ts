/**
 * The SRT listener: one public UDP port for every caller. Each caller (address:port) gets an
 * SrtConnection, created by its first handshake packet (an induction request) and nothing
 * else, so stray datagrams start no process. See session.ts for the handshake relay and why.
 */
import { execFile } from 'node:child_process';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import type { Admission } from '../../core/admission.js';
import type { ConnectionGate } from '../../net/listen.js';
import type { SrtConfig } from './config.js';
import { HS_INDUCTION, parseHandshake } from './handshake.js';
import { tsWireFormat } from './from-stream.js';
import { SrtConnection } from './session.js';

export interface SrtServerOptions {
  readonly admission: Admission;
  readonly config: SrtConfig;
  readonly log: Logger;
  /** The ffmpeg binary to run per connection; throws when there is none. */
  ffmpegPath(): string;
}

export class SrtServer {
  private socket: Socket | undefined;
  private readonly connections = new Map<string, SrtConnection>();
  private readonly releases = new Map<SrtConnection, () => void>();
  /** Admits or refuses a new caller (connection limits); returns its release function. */
  connectionGate: ConnectionGate | undefined;
  /** Datagrams from unknown peers that were not an induction request (counted, not logged). */
  strayPackets = 0;
  /** Callers ignored because maxPendingHandshakes handshakes were running. */
  busyRefusals = 0;
  private readonly tsFormat = tsWireFormat();

  constructor(private readonly options: SrtServerOptions) {}

  async listen(port: number, host: string): Promise<number> {
    const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', reuseAddr: false });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (error) => this.options.log.error({ err: error }, 'SRT listener error'));
    socket.on('message', (pkt, rinfo) => this.onPacket(pkt, rinfo));
    return socket.address().port;
  }

  /**
   * Checks once that the ffmpeg binary has the srt protocol (libsrt) and logs the answer: without
   * it every caller would be dropped, so the operator learns at start, not from a field encoder.
   */
  async checkFfmpeg(): Promise<boolean> {
    let binary: string;
    try {
      binary = this.options.ffmpegPath();
    } catch (error) {
      this.options.log.error(`SRT callers cannot be served: ${(error as Error).message}`);
      return false;
    }
    const out = await new Promise<string>((resolve) => {
      execFile(binary, ['-hide_banner', '-protocols'], { timeout: 10_000 }, (_error, stdout) => resolve(String(stdout ?? '')));
    });
    const input = out.split(/^Output:/m)[0] ?? '';
    const ok = /^\s*srt\s*$/m.test(input);
    if (ok) this.options.log.info({ ffmpeg: binary }, `SRT connections run libsrt in ${binary}`);
    else this.options.log.error({ ffmpeg: binary }, `SRT callers cannot be served: ${binary} has no srt protocol (an ffmpeg built with libsrt is needed: Debian's is; set FFMPEG_PATH)`);
    return ok;
  }

  private onPacket(pkt: Buffer, rinfo: RemoteInfo): void {
    const key = `${rinfo.address}:${rinfo.port}`;
    const existing = this.connections.get(key);
    if (existing) {
      existing.fromCaller(pkt);
      return;
    }
    const hs = parseHandshake(pkt);
    if (!hs || hs.type !== HS_INDUCTION) {
      this.strayPackets++;
      return;
    }
    let pending = 0;
    for (const c of this.connections.values()) if (c.pending) pending++;
    if (pending >= this.options.config.maxPendingHandshakes) {
      // Not answered: the caller retries its induction, and gets in once a handshake finishes.
      this.busyRefusals++;
      return;
    }
    const release = this.connectionGate ? this.connectionGate(key) : () => {};
    if (!release) return;
    const connection = new SrtConnection(
      {
        admission: this.options.admission,
        config: this.options.config,
        ffmpegPath: () => this.options.ffmpegPath(),
        tsFormat: this.tsFormat,
        sendToCaller: (packet, port, address) => this.socket?.send(packet, port, address),
      },
      rinfo.address,
      rinfo.port,
      this.options.log,
      (c) => this.closed(key, c),
    );
    this.connections.set(key, connection);
    this.releases.set(connection, release);
    connection.fromCaller(pkt);
  }

  private closed(key: string, c: SrtConnection): void {
    if (this.connections.get(key) === c) this.connections.delete(key);
    this.releases.get(c)?.();
    this.releases.delete(c);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** The connections, for stats and tests. */
  list(): SrtConnection[] {
    return [...this.connections.values()];
  }

  async close(): Promise<void> {
    const connections = [...this.connections.values()];
    for (const c of connections) c.close('gateway stopping');
    // The children end the SRT sessions cleanly (SIGTERM); wait for them, bounded.
    await Promise.race([Promise.all(connections.map((c) => c.done)), new Promise((r) => setTimeout(r, 3000).unref())]);
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

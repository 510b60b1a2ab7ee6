/**
 * Camera pulls: one Source per configured path, supervised. A source publishes into the hub
 * while it runs and keeps that publish session across camera reconnects (capped exponential
 * backoff), so readers stay connected while the camera is away and continue when it returns.
 * On-demand sources start with the first reader (core DemandHandler) and stop `idleCloseMs`
 * after the last one leaves; `onDemand: false` sources run from start to stop.
 */
import type { Logger } from 'pino';
import { PublisherConflictError, StreamgateError, StreamNotFoundError } from '../../core/errors.js';
import type { DemandHandler } from '../../core/registry.js';
import type { PublishSession, Stream } from '../../core/stream.js';
import type { RtspConfig, SourceConfig } from './config.js';
import { RtspClient, RtspClientError } from './client.js';
import { maskSecrets } from '../../log.js';
import type { RtspPathManager } from './session.js';
import { RtpToStream } from './to-stream.js';

export type SourceState = 'idle' | 'connecting' | 'running' | 'retrying' | 'stopped';

/** What the API shows for a source. */
export interface SourceInfo {
  readonly path: string;
  readonly url: string;
  readonly onDemand: boolean;
  readonly transport: 'tcp' | 'udp';
  readonly state: SourceState;
  readonly lastError: string | null;
  readonly reconnects: number;
  readonly connectedSince: string | null;
  readonly readers: number;
  readonly packets: number;
  readonly lostPackets: number;
  /** UDP packets that arrived out of order and were put back in sequence (not lost). */
  readonly reorderedPackets: number;
  /**
   * How audio and video are lined up: `sender-reports` (by the camera's RTCP clock) once its
   * reports came, else `arrival` (by when each track's first packet arrived).
   */
  readonly avSync: 'sender-reports' | 'arrival';
}

/** A gap between the last frame of one camera connection and the first of the next. */
const RECONNECT_GAP_MS = 40;

/** A reader asked for a camera source that could not be played. */
export class SourceUnavailableError extends StreamgateError {
  readonly status = 502;
  constructor(path: string, detail: string) {
    super('SG_ERR_SOURCE_UNAVAILABLE', `camera source ${path} is not available: ${detail}`);
  }
}

/**
 * Failures another attempt will not fix: the camera refused our credentials or has no such
 * stream, or someone else publishes the path. Readers hear about these at once; anything else
 * (refused connection, timeout, a 5xx from a camera still booting) is retried while they wait.
 */
function isPermanent(error: Error): boolean {
  if (error instanceof StreamgateError && error.code === 'SG_ERR_PATH_BUSY') return true;
  return error instanceof RtspClientError && (error.status === 401 || error.status === 403 || error.status === 404);
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class Source {
  state: SourceState = 'idle';
  lastError: string | null = null;
  reconnects = 0;
  private connectedAt = 0;
  private client: RtspClient | undefined;
  private publishSession: PublishSession | undefined;
  private toStream: RtpToStream | undefined;
  private stream: Stream | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private nextStartMs = 0;
  private waiters: Waiter[] = [];
  /** The last failed attempt, until an attempt succeeds. */
  private lastFailure: Error | undefined;
  private packets = 0;
  private lostPackets = 0;
  private reorderedPackets = 0;
  private readonly log: Logger;
  private readonly onReaderAdded = () => this.clearIdle();
  /** Waiting readers are released by the first keyframe, not by PLAY: until then they still wait. */
  private readonly onStreamReady = () => this.settle();
  private readonly onReaderRemoved = () => this.checkIdle();

  constructor(
    readonly path: string,
    readonly config: SourceConfig,
    private readonly rtsp: RtspConfig,
    private readonly paths: RtspPathManager,
    parentLog: Logger,
  ) {
    this.log = parentLog.child({ source: path });
    this.backoffMs = rtsp.pull.retryInitialMs;
  }

  get transport(): 'tcp' | 'udp' {
    return this.config.transport ?? this.rtsp.pull.transport;
  }

  get idleCloseMs(): number {
    return this.config.idleCloseMs ?? this.rtsp.pull.idleCloseMs;
  }

  get running(): boolean {
    return this.state === 'connecting' || this.state === 'running' || this.state === 'retrying';
  }

  /**
   * Starts pulling (idempotent). Resolves once the stream has its first keyframe. A failed
   * attempt is retried (capped backoff) while the caller waits; the promise rejects on a failure
   * retrying cannot fix, or after `timeoutMs` with the last error. An on-demand source nobody
   * waits for or reads stops.
   */
  start(timeoutMs: number): Promise<void> {
    if (this.state === 'running' && this.stream?.ready) return Promise.resolve();
    // An always-on source waiting out its backoff after a refusal: the answer will not change.
    if (this.state === 'retrying' && this.lastFailure && isPermanent(this.lastFailure)) {
      return Promise.reject(new SourceUnavailableError(this.path, this.lastFailure.message));
    }
    const waiter = new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(new SourceUnavailableError(this.path, `no picture within ${timeoutMs} ms${this.lastError ? ` (last error: ${this.lastError})` : ''}`));
          if (this.state === 'retrying' && !this.wanted) this.stop('idle', 'no reader waits for it any more');
        }, timeoutMs),
      };
      this.waiters.push(w);
    });
    this.begin();
    return waiter;
  }

  /** Starts the pull loop unless it runs (always-on sources call this alone: nobody waits). */
  begin(): void {
    if (this.running) return;
    this.state = 'connecting';
    this.backoffMs = this.rtsp.pull.retryInitialMs;
    this.runAttempt();
  }

  /** Always-on sources are always wanted; on-demand ones while a reader waits or reads. */
  private get wanted(): boolean {
    return !this.config.onDemand || this.waiters.length > 0 || (this.stream?.readers.size ?? 0) > 0;
  }

  private settle(error?: Error): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      clearTimeout(w.timer);
      if (error) w.reject(error);
      else w.resolve();
    }
  }

  private runAttempt(): void {
    this.attempt().catch((error: unknown) => this.log.error({ err: error }, 'unexpected error in camera pull'));
  }

  private async attempt(): Promise<void> {
    this.retryTimer = undefined;
    const pull = this.rtsp.pull;
    const client = new RtspClient(
      {
        url: this.config.url,
        transport: this.transport,
        requestTimeoutMs: pull.requestTimeoutMs,
        readTimeoutMs: pull.readTimeoutMs,
        keepaliveMs: pull.keepaliveMs,
        limits: this.rtsp,
      },
      this.log,
    );
    this.client = client;
    try {
      const tracks = await client.setup();
      if (this.client !== client) return client.close();
      if (!this.publishSession) {
        this.publishSession = this.paths.publish(this.path, {
          protocol: 'rtsp-pull',
          remoteAddress: client.remote,
          query: {},
          close: (reason) => this.onKicked(reason),
        });
        this.watchStream(this.publishSession.stream);
      }
      const toStream = new RtpToStream(this.publishSession, tracks, this.nextStartMs);
      this.toStream = toStream;
      client.onPacket = (index, packet) => toStream.push(index, packet);
      client.onSenderReport = (index, report) => toStream.senderReport(index, report.ntpMs, report.rtpTimestamp);
      client.onClose = (error) => this.onClientClosed(client, error);
      await client.play();
      if (this.client !== client) return;
      this.state = 'running';
      this.connectedAt = Date.now();
      this.backoffMs = pull.retryInitialMs;
      this.log.info(`pulling ${maskSecrets(this.config.url)} (${tracks.map((t) => t.codec).join('+')} over ${this.transport.toUpperCase()})`);
      this.lastFailure = undefined;
      if (this.stream?.ready) this.settle();
      this.checkIdle();
    } catch (error) {
      if (this.client !== client) return;
      client.close();
      const e = error instanceof Error ? error : new Error(String(error));
      if (error instanceof PublisherConflictError) {
        // Someone publishes this path already: retrying will not help until they stop.
        this.retry(new StreamgateError(error.code, `cannot pull ${this.path}: ${error.message}`));
        return;
      }
      this.retry(e);
    }
  }

  private onClientClosed(client: RtspClient, error: Error): void {
    if (this.client !== client) return;
    this.retry(error);
  }

  /** Records the failure, keeps readers, schedules the next attempt. */
  private retry(error: Error): void {
    const wasRunning = this.state === 'running';
    const client = this.client;
    this.client = undefined;
    this.collectStats(client);
    this.lastError = error.message;
    this.lastFailure = error;
    this.reconnects++;
    this.state = 'retrying';
    if (isPermanent(error)) this.settle(new SourceUnavailableError(this.path, error.message));
    if (!this.wanted) {
      this.stop('idle', `no reader waits for it any more (${error.message})`);
      return;
    }
    // Readers joining during the outage must not get a GOP from before it.
    this.publishSession?.feedInterrupted();
    const wait = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.rtsp.pull.retryMaxMs);
    this.log.warn({ retryInMs: wait, reconnects: this.reconnects }, `camera pull ${wasRunning ? 'lost' : 'failed'}: ${error.message}`);
    this.retryTimer = setTimeout(() => this.runAttempt(), wait);
    this.retryTimer.unref();
  }

  private collectStats(client: RtspClient | undefined): void {
    const ts = this.toStream;
    if (!ts) return;
    this.packets += ts.stats.packets;
    this.lostPackets += ts.stats.lostPackets;
    this.reorderedPackets += client?.reorderedPackets ?? 0;
    if (ts.lastDts >= 0) this.nextStartMs = ts.lastDts + RECONNECT_GAP_MS;
    this.toStream = undefined;
  }

  private watchStream(stream: Stream): void {
    this.unwatchStream();
    this.stream = stream;
    stream.on('readerAdded', this.onReaderAdded);
    stream.on('ready', this.onStreamReady);
    stream.on('readerRemoved', this.onReaderRemoved);
  }

  private unwatchStream(): void {
    this.stream?.off('readerAdded', this.onReaderAdded);
    this.stream?.off('ready', this.onStreamReady);
    this.stream?.off('readerRemoved', this.onReaderRemoved);
    this.stream = undefined;
  }

  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /** On-demand: with no readers, stop after idleCloseMs (re-armed by every check). */
  private checkIdle(): void {
    if (!this.config.onDemand || !this.running) return;
    if (this.stream && this.stream.readers.size > 0) return this.clearIdle();
    if (this.idleTimer) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.stream && this.stream.readers.size > 0) return;
      if (this.stream && !this.stream.ready && this.state === 'running') {
        // Readers wait for the first keyframe before they join: not idle yet.
        this.checkIdle();
        return;
      }
      this.log.info(`no readers for ${this.idleCloseMs} ms: closing the on-demand pull`);
      this.stop('idle', 'idle');
    }, this.idleCloseMs);
    this.idleTimer.unref();
  }

  /** The hub ended our publish session (API DELETE, gateway stop). */
  private onKicked(reason: string): void {
    this.publishSession = undefined;
    this.unwatchStream();
    if (this.config.onDemand) {
      this.stop('idle', reason);
    } else if (this.running) {
      // An always-on source comes back: drop this connection and reconnect.
      const client = this.client;
      this.client = undefined;
      client?.close();
      this.retry(new StreamgateError('SG_ERR_STREAM_ENDED', `publish session ended: ${reason}`));
    }
  }

  /** Stops pulling; readers get the hub's grace period, then the stream ends. */
  stop(state: 'idle' | 'stopped' = 'stopped', reason = 'source stopped'): void {
    this.clearIdle();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const client = this.client;
    this.client = undefined;
    client?.close();
    this.collectStats(client);
    this.nextStartMs = 0;
    const session = this.publishSession;
    this.publishSession = undefined;
    this.unwatchStream();
    session?.close(reason);
    this.state = state;
    this.settle(new StreamgateError('SG_ERR_STREAM_ENDED', `source ${this.path} ${reason}`));
  }

  info(): SourceInfo {
    const live = this.toStream?.stats;
    return {
      path: this.path,
      url: maskSecrets(this.config.url),
      onDemand: this.config.onDemand,
      transport: this.transport,
      state: this.state,
      lastError: this.lastError,
      reconnects: this.reconnects,
      connectedSince: this.state === 'running' ? new Date(this.connectedAt).toISOString() : null,
      readers: this.stream?.readers.size ?? 0,
      packets: this.packets + (live?.packets ?? 0),
      lostPackets: this.lostPackets + (live?.lostPackets ?? 0),
      reorderedPackets: this.reorderedPackets + (live ? (this.client?.reorderedPackets ?? 0) : 0),
      avSync: this.toStream?.syncedBySenderReports ? 'sender-reports' : 'arrival',
    };
  }
}

/** All sources of one gateway; serves on-demand paths to the hub. */
export class SourceManager implements DemandHandler {
  private readonly sources = new Map<string, Source>();
  private started = false;

  constructor(
    private readonly rtsp: RtspConfig,
    private readonly paths: RtspPathManager,
    private readonly log: Logger,
  ) {}

  canServe(path: string): boolean {
    return this.sources.has(path);
  }

  start(path: string, timeoutMs: number): Promise<void> {
    const source = this.sources.get(path);
    if (!source) return Promise.reject(new StreamNotFoundError(path));
    return source.start(timeoutMs);
  }

  get(path: string): Source | undefined {
    return this.sources.get(path);
  }

  list(): Source[] {
    return [...this.sources.values()];
  }

  /** Adds a source; always-on sources start at once when the manager runs. */
  add(path: string, config: SourceConfig): Source {
    if (this.sources.has(path)) throw new StreamgateError('SG_ERR_PATH_BUSY', `a source for ${path} exists already; DELETE /api/v1/sources/${path} first`);
    const source = new Source(path, config, this.rtsp, this.paths, this.log);
    this.sources.set(path, source);
    if (this.started && !config.onDemand) this.startAlways(source);
    return source;
  }

  remove(path: string): boolean {
    const source = this.sources.get(path);
    if (!source) return false;
    this.sources.delete(path);
    source.stop('stopped', 'source removed');
    return true;
  }

  private startAlways(source: Source): void {
    // Failures are logged and retried by the source itself.
    source.begin();
  }

  run(): void {
    this.started = true;
    for (const source of this.sources.values()) if (!source.config.onDemand) this.startAlways(source);
  }

  close(): void {
    this.started = false;
    for (const source of this.sources.values()) source.stop('stopped', 'gateway stopping');
  }
}

/**
 * A supervised pull: one configured path fed by a remote source, whatever protocol reaches it (an
 * RTSP camera today: protocols/rtsp/pull.ts). The supervisor publishes into the hub through the
 * admission path while the source runs and keeps that publish session across reconnects (capped
 * exponential backoff), so readers stay connected while the camera is away and continue when it
 * returns. On-demand sources start with the first reader (core DemandHandler) and stop
 * `idleCloseMs` after the last one leaves (core/idle.ts); `onDemand: false` sources run from
 * start to stop. A driver only opens connections; everything else is here.
 */
import type { Logger } from 'pino';
import type { Admission } from '../core/admission.js';
import { PublisherConflictError, StreamEndedError, StreamgateError } from '../core/errors.js';
import { closeWhenUnread, type IdleCloser } from '../core/idle.js';
import type { PublishSession, Stream } from '../core/stream.js';
import { maskSecrets } from '../log.js';

/** `standby`: another gateway holds the source's lease (hot standby) and pulls it. */
export type SourceState = 'idle' | 'connecting' | 'running' | 'retrying' | 'stopped' | 'standby';

/** Counters a connection keeps; the supervisor adds them up across connections. */
export interface PullStats {
  readonly packets: number;
  readonly lostPackets: number;
  /** Packets that arrived out of order and were put back in sequence (not lost). */
  readonly reorderedPackets: number;
  /** `sender-reports`: tracks lined up by the source's clock reports; `arrival`: by first packet. */
  readonly avSync: 'sender-reports' | 'arrival';
}

/** One connection to the remote source. */
export interface PullConnection {
  /** Media timestamp of its last frame (the next connection continues after it); -1 before any. */
  readonly lastDts: number;
  stats(): PullStats;
  close(): void;
}

export interface ConnectRequest {
  /** The supervisor's publish session (claimed once, kept across connections), for `remote`. */
  claim(remote: string): Promise<PublishSession>;
  /** Where this connection's timestamps start (after the previous connection's last frame). */
  readonly startMs: number;
  /** A drop after the connection was up. */
  onClose(error: Error): void;
  /** Aborted when the source stops while connecting. */
  readonly signal: AbortSignal;
}

/** How one source is reached: opens connections; the supervisor does the rest. */
export interface PullDriver {
  /** The source's URL (shown with secrets masked). */
  readonly url: string;
  /** `tcp` / `udp`: how media comes (API). */
  readonly transport: 'tcp' | 'udp';
  /** The publisher protocol the hub shows (default `rtsp-pull`; edge relays say `edge-pull`). */
  readonly protocol?: string;
  /** Connects and starts media into `claim()`'s session; resolves once playing. */
  connect(request: ConnectRequest): Promise<PullConnection & { readonly description: string }>;
  /** Failures another attempt will not fix (credentials refused, no such stream). */
  isPermanent(error: Error): boolean;
}

export interface SourceSettings {
  readonly onDemand: boolean;
  readonly idleCloseMs: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  /**
   * Stop instead of retrying on a failure retrying will not fix (an edge relay whose origin no
   * longer publishes the path: its readers get the stream's end, not an endless wait). Cameras
   * keep retrying: a camera that is away usually comes back.
   */
  readonly stopOnPermanent?: boolean;
}

/** What the API shows for a source. */
export interface SourceInfo extends Omit<PullStats, 'avSync'> {
  readonly path: string;
  readonly url: string;
  readonly onDemand: boolean;
  readonly transport: 'tcp' | 'udp';
  readonly state: SourceState;
  readonly lastError: string | null;
  readonly reconnects: number;
  readonly connectedSince: string | null;
  readonly readers: number;
  readonly avSync: PullStats['avSync'];
}

/** A gap between the last frame of one connection and the first of the next. */
const RECONNECT_GAP_MS = 40;

/** A reader asked for a camera source that could not be played. */
export class SourceUnavailableError extends StreamgateError {
  constructor(path: string, detail: string) {
    super('SG_ERR_SOURCE_UNAVAILABLE', `camera source ${path} is not available: ${detail}`);
  }
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

const NO_STATS: PullStats = { packets: 0, lostPackets: 0, reorderedPackets: 0, avSync: 'arrival' };

export class Source {
  state: SourceState = 'idle';
  lastError: string | null = null;
  reconnects = 0;
  private connectedAt = 0;
  private connection: PullConnection | undefined;
  /** Aborts the attempt under way; replaced per attempt. */
  private attemptControl: AbortController | undefined;
  private publishSession: PublishSession | undefined;
  private stream: Stream | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private idle: IdleCloser | undefined;
  private backoffMs: number;
  private nextStartMs = 0;
  private waiters: Waiter[] = [];
  /** The last failed attempt, until an attempt succeeds. */
  private lastFailure: Error | undefined;
  private totals = { packets: 0, lostPackets: 0, reorderedPackets: 0 };
  private readonly log: Logger;
  /** Waiting readers are released by the first keyframe, not by the connection: until then they still wait. */
  private readonly onStreamReady = () => this.settle();

  constructor(
    readonly path: string,
    private readonly driver: PullDriver,
    readonly settings: SourceSettings,
    private readonly admission: Admission,
    parentLog: Logger,
  ) {
    this.log = parentLog.child({ source: path });
    this.backoffMs = settings.retryInitialMs;
  }

  get onDemand(): boolean {
    return this.settings.onDemand;
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
    if (this.state === 'retrying' && this.lastFailure && this.permanent(this.lastFailure)) {
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
    this.backoffMs = this.settings.retryInitialMs;
    this.runAttempt();
  }

  /** Always-on sources are always wanted; on-demand ones while a reader waits or reads. */
  private get wanted(): boolean {
    return !this.settings.onDemand || this.waiters.length > 0 || (this.stream?.readers.size ?? 0) > 0;
  }

  private permanent(error: Error): boolean {
    return error instanceof PublisherConflictError || this.driver.isPermanent(error);
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

  /** The publish session, claimed through admission on the first connection and kept across the next ones. */
  private async claim(remote: string): Promise<PublishSession> {
    if (this.publishSession) return this.publishSession;
    const { session } = await this.admission.publish(
      { path: this.path, protocol: this.driver.protocol ?? 'rtsp-pull', remoteAddress: remote, query: {} },
      { close: (reason) => this.onKicked(reason) },
      // The operator configured this source: no access check, hooks and counters still apply.
      { authenticated: { role: 'host', via: 'configured source' } },
    );
    this.publishSession = session;
    this.watchStream(session.stream);
    return session;
  }

  private async attempt(): Promise<void> {
    this.retryTimer = undefined;
    const control = new AbortController();
    this.attemptControl = control;
    try {
      const connection = await this.driver.connect({
        claim: (remote) => this.claim(remote),
        startMs: this.nextStartMs,
        // A drop of a connection that is up; one during connect rejects connect() instead.
        onClose: (error) => {
          if (this.attemptControl === control && this.connection) this.retry(error);
        },
        signal: control.signal,
      });
      if (this.attemptControl !== control) return connection.close();
      this.connection = connection;
      this.state = 'running';
      this.connectedAt = Date.now();
      this.backoffMs = this.settings.retryInitialMs;
      this.log.info(`pulling ${maskSecrets(this.driver.url)} (${connection.description})`);
      this.lastFailure = undefined;
      if (this.stream?.ready) this.settle();
      this.watchIdle();
    } catch (error) {
      if (this.attemptControl !== control) return;
      control.abort();
      const e = error instanceof Error ? error : new Error(String(error));
      // Someone publishes this path already: retrying will not help until they stop.
      this.retry(e instanceof PublisherConflictError ? new PublisherConflictError(this.path, `cannot pull ${this.path}: ${e.message}`) : e);
    }
  }

  /** Records the failure, keeps readers, schedules the next attempt. */
  private retry(error: Error): void {
    const wasRunning = this.state === 'running';
    this.dropConnection();
    this.lastError = error.message;
    this.lastFailure = error;
    this.reconnects++;
    this.state = 'retrying';
    if (this.permanent(error)) this.settle(new SourceUnavailableError(this.path, error.message));
    if (this.settings.stopOnPermanent && this.permanent(error)) {
      this.stop('idle', error.message);
      return;
    }
    if (!this.wanted) {
      this.stop('idle', `no reader waits for it any more (${error.message})`);
      return;
    }
    // Readers joining during the outage must not get a GOP from before it.
    this.publishSession?.feedInterrupted();
    const wait = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.settings.retryMaxMs);
    this.log.warn({ retryInMs: wait, reconnects: this.reconnects }, `camera pull ${wasRunning ? 'lost' : 'failed'}: ${error.message}`);
    this.retryTimer = setTimeout(() => this.runAttempt(), wait);
    this.retryTimer.unref();
  }

  /** Closes the current connection (or aborts the attempt) and adds its counters to the totals. */
  private dropConnection(): void {
    this.attemptControl?.abort();
    this.attemptControl = undefined;
    const connection = this.connection;
    this.connection = undefined;
    if (!connection) return;
    connection.close();
    const s = connection.stats();
    this.totals.packets += s.packets;
    this.totals.lostPackets += s.lostPackets;
    this.totals.reorderedPackets += s.reorderedPackets;
    if (connection.lastDts >= 0) this.nextStartMs = connection.lastDts + RECONNECT_GAP_MS;
  }

  private watchStream(stream: Stream): void {
    this.unwatchStream();
    this.stream = stream;
    stream.on('ready', this.onStreamReady);
  }

  private unwatchStream(): void {
    this.stream?.off('ready', this.onStreamReady);
    this.stream = undefined;
    this.idle?.dispose();
    this.idle = undefined;
  }

  /** On-demand and running: close idleCloseMs after the last reader left (readers waiting for the first keyframe keep it). */
  private watchIdle(): void {
    const stream = this.stream;
    if (!this.settings.onDemand || !stream || this.idle) return;
    this.idle = closeWhenUnread(
      stream,
      this.settings.idleCloseMs,
      () => {
        this.idle = undefined;
        this.log.info(`no readers for ${this.settings.idleCloseMs} ms: closing the on-demand pull`);
        this.stop('idle', 'idle');
      },
      () => !(this.state === 'running' && !stream.ready) && this.waiters.length === 0,
    );
  }

  /** The hub ended our publish session (API DELETE, gateway stop). */
  private onKicked(reason: string): void {
    this.publishSession = undefined;
    this.unwatchStream();
    if (this.settings.onDemand) {
      this.stop('idle', reason);
    } else if (this.running) {
      // An always-on source comes back: drop this connection and reconnect.
      this.retry(new StreamEndedError(this.path, `publish session ended: ${reason}`));
    }
  }

  /** Stops pulling; readers get the hub's grace period, then the stream ends. */
  stop(state: 'idle' | 'stopped' | 'standby' = 'stopped', reason = 'source stopped'): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.dropConnection();
    this.nextStartMs = 0;
    const session = this.publishSession;
    this.publishSession = undefined;
    this.unwatchStream();
    session?.close(reason);
    this.state = state;
    this.settle(new StreamEndedError(this.path, reason));
  }

  info(): SourceInfo {
    const live = this.connection?.stats() ?? NO_STATS;
    return {
      path: this.path,
      url: maskSecrets(this.driver.url),
      onDemand: this.settings.onDemand,
      transport: this.driver.transport,
      state: this.state,
      lastError: this.lastError,
      reconnects: this.reconnects,
      connectedSince: this.state === 'running' ? new Date(this.connectedAt).toISOString() : null,
      readers: this.stream?.readers.size ?? 0,
      packets: this.totals.packets + live.packets,
      lostPackets: this.totals.lostPackets + live.lostPackets,
      reorderedPackets: this.totals.reorderedPackets + live.reorderedPackets,
      avSync: live.avSync,
    };
  }
}

import type { Logger } from 'pino';
import { InternalError, PublisherConflictError, StreamEndedError, StreamgateError, StreamNotFoundError } from './errors.js';
import { TypedEmitter } from './events.js';
import { matchPathPattern, validatePath } from './path.js';
import { type PublisherInfo, type PublishSession, Stream, type StreamLimits } from './stream.js';

export interface HubOptions extends StreamLimits {
  /** Path patterns where a new publisher replaces the current one instead of being refused. */
  readonly takeoverPaths: readonly string[];
  /** How long a reader request waits for a stream to become ready (on-demand sources, reconnects). */
  readonly readyTimeoutMs: number;
}

/**
 * Something that can bring a stream into existence when a reader asks for it: an on-demand
 * camera pull, a transcoded rendition. Declared here, implemented by the feature that owns it.
 */
export interface DemandHandler {
  /** True when this handler serves `path`; `start` is then called and the reader waits. */
  canServe(path: string): boolean;
  /**
   * Starts publishing `path` (idempotent). Resolves once it publishes; rejects with a user-facing
   * error when it cannot, at the latest after `timeoutMs` (the reader's wait), saying why.
   */
  start(path: string, timeoutMs: number): Promise<void>;
  /**
   * How long a reader of `path` waits, given the reader's own wait; default that. A rendition
   * waits for its source and then for ffmpeg's first keyframe, so it asks for longer.
   */
  waitMs?(path: string, readerWaitMs: number): number;
}

/** How much later than a demand handler the registry's own wait gives up. */
const HANDLER_MARGIN_MS = 100;

export interface RegistryEvents {
  streamCreated: [Stream];
  publish: [Stream, PublisherInfo];
  unpublish: [Stream, PublisherInfo];
  streamEnded: [Stream, StreamgateError];
  listenerError: [unknown, string];
}

/** All streams of one gateway, by path. Not a singleton: each Gateway owns one. */
export class StreamRegistry extends TypedEmitter<RegistryEvents> {
  private readonly streams = new Map<string, Stream>();
  private readonly demandHandlers: DemandHandler[] = [];
  private sampler: NodeJS.Timeout | undefined;
  private lastSample = Date.now();
  private readonly lastCounters = new Map<Stream, { bytesIn: number; bytesOut: number; videoFrames: number }>();

  constructor(
    private readonly options: HubOptions,
    private readonly log: Logger,
  ) {
    super();
    this.sampler = setInterval(() => this.sample(), 1000);
    this.sampler.unref();
  }

  get(path: string): Stream | undefined {
    return this.streams.get(path);
  }

  list(): Stream[] {
    return [...this.streams.values()];
  }

  addDemandHandler(handler: DemandHandler): void {
    this.demandHandlers.push(handler);
  }

  /**
   * Claims `path` for a publisher. Throws PublisherConflictError when it has one already,
   * unless the path is configured for takeover (then the current publisher is kicked).
   */
  publish(path: string, info: PublisherInfo): PublishSession {
    validatePath(path);
    let stream = this.streams.get(path);
    if (stream?.publisher) {
      if (!this.options.takeoverPaths.some((p) => matchPathPattern(p, path))) {
        throw new PublisherConflictError(path);
      }
      this.log.info({ path, previous: stream.publisher.remoteAddress }, 'publisher taken over');
      stream.publisher.close('taken over by a new publisher');
    }
    if (!stream) {
      stream = this.createStream(path);
    }
    const session = stream.attachPublisher(info);
    this.safeEmit('publish', stream, info);
    return session;
  }

  private createStream(path: string): Stream {
    const stream = new Stream(path, this.options, this.log.child({ path }));
    this.streams.set(path, stream);
    this.lastCounters.set(stream, { bytesIn: 0, bytesOut: 0, videoFrames: 0 });
    stream.on('unpublish', (info) => this.safeEmit('unpublish', stream, info));
    stream.on('ended', (error) => {
      if (this.streams.get(path) === stream) this.streams.delete(path);
      this.lastCounters.delete(stream);
      this.safeEmit('streamEnded', stream, error);
    });
    this.safeEmit('streamCreated', stream);
    return stream;
  }

  /**
   * The stream at `path` once it is ready to read, starting an on-demand handler when one
   * serves the path. Rejects with StreamNotFoundError when nothing publishes it in time.
   */
  async waitReady(path: string, timeoutMs = this.options.readyTimeoutMs): Promise<Stream> {
    validatePath(path);
    const existing = this.streams.get(path);
    if (existing?.ready && existing.state !== 'ended') return existing;
    const handler = this.demandHandlers.find((h) => h.canServe(path));
    if (!existing && !handler) throw new StreamNotFoundError(path);
    if (handler?.waitMs) timeoutMs = handler.waitMs(path, timeoutMs);
    const started = handler ? handler.start(path, timeoutMs) : Promise.resolve();
    return new Promise<Stream>((resolve, reject) => {
      let settled = false;
      const finish = (error: StreamgateError | undefined, stream?: Stream) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.off('publish', onPublish);
        detach?.();
        if (error) reject(error);
        else resolve(stream!);
      };
      let detach: (() => void) | undefined;
      const watch = (stream: Stream) => {
        detach?.();
        if (stream.ready && stream.state !== 'ended') return finish(undefined, stream);
        const onReady = () => finish(undefined, stream);
        stream.once('ready', onReady);
        detach = () => stream.off('ready', onReady);
      };
      const onPublish = (stream: Stream) => {
        if (stream.path === path) watch(stream);
      };
      // A demand handler gives up by `timeoutMs` with its own reason (the camera's last error);
      // this timer is the backstop, and the limit when the stream is up but not yet ready.
      const timer = setTimeout(() => finish(new StreamNotFoundError(path)), handler ? timeoutMs + HANDLER_MARGIN_MS : timeoutMs);
      this.on('publish', onPublish);
      const current = this.streams.get(path);
      if (current) watch(current);
      started.catch((error: unknown) => finish(error instanceof StreamgateError ? error : new InternalError(error)));
    });
  }

  /** Ends every stream (gateway stop). */
  close(): void {
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = undefined;
    for (const stream of this.list()) stream.end(new StreamEndedError(stream.path, 'gateway stopping'));
  }

  /** Once a second: bitrates and measured fps from counter deltas. Never on the per-frame path. */
  private sample(): void {
    const now = Date.now();
    const seconds = Math.max(0.001, (now - this.lastSample) / 1000);
    this.lastSample = now;
    for (const stream of this.streams.values()) {
      const prev = this.lastCounters.get(stream)!; // set with the stream in createStream, deleted when it leaves the map
      stream.rate = {
        inKbps: Math.round(((stream.bytesIn - prev.bytesIn) * 8) / 1000 / seconds),
        outKbps: Math.round(((stream.bytesOut - prev.bytesOut) * 8) / 1000 / seconds),
        fps: Math.round(((stream.videoFramesIn - prev.videoFrames) / seconds) * 10) / 10,
      };
      this.lastCounters.set(stream, { bytesIn: stream.bytesIn, bytesOut: stream.bytesOut, videoFrames: stream.videoFramesIn });
    }
  }
}

/**
 * Stream: the state of one path (publishing, waiting out a publisher's grace period, ended), its
 * tracks, metadata, readers, counters and lifecycle events. The jobs around it have their own
 * files: publish-session.ts (media in, timestamps rebased), fanout.ts (media out to readers:
 * merge windows, audio hold), gop-cache.ts (where a joining reader starts).
 *
 * PublishSession and AUDIO_HOLD_MAX_MS are re-exported here on purpose and are imported from
 * here: protocols take the hub's API from this one module (their imports did not change when
 * the session and the fan-out moved out).
 */
import type { Logger } from 'pino';
import { StreamEndedError, type StreamgateError } from './errors.js';
import { TypedEmitter } from './events.js';
import { Fanout, type FanoutLimits } from './fanout.js';
import { GopCache, type GopCacheLimits, type GopCacheView } from './gop-cache.js';
import type { AudioTrack, MediaFrame, StreamMetadata, VideoTrack, WireFormat } from './media.js';
import { PublishSession } from './publish-session.js';
import { Reader, type ReaderHost, type ReaderLimits, type ReaderOutput, type ReaderStats } from './reader.js';

export { AUDIO_HOLD_MAX_MS } from './fanout.js';
export { PublishSession } from './publish-session.js';

/** Who is publishing, as the API shows it; `close` is how the hub kicks them. */
export interface PublisherInfo {
  readonly protocol: string;
  readonly remoteAddress: string;
  /** Query parameters of the publish URL (the stream key's `?token=...` and friends). */
  readonly query: Readonly<Record<string, string>>;
  /** Ends the publishing connection (API DELETE, takeover, gateway stop). */
  close(reason: string): void;
  /**
   * Asks the publisher for a keyframe now (WebRTC: an RTCP PLI upstream), for a reader that
   * cannot wait for the next one. Absent for publishers that cannot be asked (RTMP, RTSP).
   */
  requestKeyframe?(): void;
}

export interface StreamLimits extends GopCacheLimits, ReaderLimits, FanoutLimits {
  /** How long readers wait for a publisher that dropped before the stream ends. */
  readonly publisherGraceMs: number;
}

export type StreamState = 'publishing' | 'waiting' | 'ended';

export interface StreamEvents {
  ready: [];
  tracks: [];
  publisher: [PublisherInfo];
  unpublish: [PublisherInfo];
  readerAdded: [Reader];
  readerRemoved: [Reader];
  ended: [StreamgateError];
  listenerError: [unknown, string];
}

/** A gap inserted between two publish sessions so the timeline stays monotonic without a hole. */
const RECONNECT_GAP_MS = 40;

/**
 * The hub of one path: one publisher, many readers. `write` is the per-frame path: synchronous,
 * no logging, no per-reader allocation (the wire bytes are built once per format on the frame).
 */
export class Stream extends TypedEmitter<StreamEvents> implements ReaderHost {
  readonly createdAt = Date.now();
  state: StreamState = 'publishing';
  publisher: PublisherInfo | undefined;
  publishedAt = 0;
  videoTrack: VideoTrack | undefined;
  audioTrack: AudioTrack | undefined;
  metadata: StreamMetadata | undefined;
  /** True once decodable media arrived (the first video keyframe, or audio for audio-only). */
  ready = false;

  readonly readers = new Set<Reader>();
  private readonly gop: GopCache;
  private nextReaderId = 1;
  private graceTimer: NodeJS.Timeout | undefined;
  private session: PublishSession | undefined;
  /** Highest dts written, across publish sessions: the next session continues after it. */
  lastDts = -1;
  private readonly fanout: Fanout;
  /** Per-format cache of header bytes (sequence headers, metadata), cleared when tracks change. */
  private readonly headerCache = new Map<string, readonly Buffer[]>();

  // Counters (monotonic); rates are derived by the registry's sampler.
  bytesIn = 0;
  bytesOut = 0;
  videoFramesIn = 0;
  audioFramesIn = 0;
  droppedFrames = 0;
  publishCount = 0;
  /** Filled by the sampler: kbps over the last sampling interval, and measured fps. */
  rate = { inKbps: 0, outKbps: 0, fps: 0 };

  constructor(
    readonly path: string,
    private readonly limits: StreamLimits,
    readonly log: Logger,
  ) {
    super();
    this.gop = new GopCache(limits);
    this.fanout = new Fanout(limits);
  }

  get app(): string {
    return this.path.slice(0, this.path.indexOf('/'));
  }

  get name(): string {
    return this.path.slice(this.path.indexOf('/') + 1);
  }

  get hasVideo(): boolean {
    return this.videoTrack !== undefined;
  }

  /** The cache as the API and snapshots read it; only the hub changes it. */
  get gopCache(): GopCacheView {
    return this.gop;
  }

  /** Starts a publish session. The registry checks the one-publisher rule before calling this. */
  attachPublisher(info: PublisherInfo): PublishSession {
    if (this.graceTimer) {
      clearTimeout(this.graceTimer);
      this.graceTimer = undefined;
    }
    this.session?.detach();
    const isReconnect = this.publishCount > 0;
    this.publishCount++;
    this.publisher = info;
    this.publishedAt = Date.now();
    this.state = 'publishing';
    this.gop.clear();
    this.headerCache.clear();
    this.session = new PublishSession(this, isReconnect ? this.lastDts + RECONNECT_GAP_MS : 0);
    if (isReconnect) {
      // Readers stay; they get the new headers once the new publisher declares its tracks.
      this.ready = false;
      this.videoTrack = undefined;
      this.audioTrack = undefined;
      this.metadata = undefined;
    }
    this.safeEmit('publisher', info);
    return this.session;
  }

  /** The publisher left: keep readers for the grace period, then end. */
  detachPublisher(session: PublishSession, reason: string): void {
    if (this.session !== session) return;
    this.session = undefined;
    const info = this.publisher;
    this.publisher = undefined;
    if (info) this.safeEmit('unpublish', info);
    if (this.state === 'ended') return;
    if (this.limits.publisherGraceMs <= 0 || this.readers.size === 0) {
      this.end(new StreamEndedError(this.path, reason));
      return;
    }
    this.state = 'waiting';
    this.graceTimer = setTimeout(() => {
      this.graceTimer = undefined;
      this.end(new StreamEndedError(this.path, `${reason}; publisher did not return within ${this.limits.publisherGraceMs} ms`));
    }, this.limits.publisherGraceMs);
    this.graceTimer.unref();
  }

  /** Ends the stream: kicks the publisher, closes every reader. Idempotent. */
  end(error: StreamgateError): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    const session = this.session;
    this.session = undefined;
    const publisher = this.publisher;
    this.publisher = undefined;
    if (session) session.detach();
    if (publisher) {
      publisher.close(error.message);
      this.safeEmit('unpublish', publisher);
    }
    this.fanout.flushNow();
    for (const reader of [...this.readers]) reader.close(error);
    this.gop.clear();
    this.safeEmit('ended', error);
  }

  /** Adds a reader: it gets headers, the GOP cache, then live frames. Call when `ready`. */
  addReader(output: ReaderOutput): Reader {
    const reader = new Reader(this.nextReaderId++, this, output, this.limits);
    this.readers.add(reader);
    const gop = this.gop.snapshot();
    this.fanout.add(reader, output.cork !== undefined);
    reader.start(gop);
    this.safeEmit('readerAdded', reader);
    return reader;
  }

  removeReader(reader: Reader): void {
    this.fanout.remove(reader);
    if (this.readers.delete(reader)) this.safeEmit('readerRemoved', reader);
  }

  countBytesOut(bytes: number): void {
    this.bytesOut += bytes;
  }

  /** Rate-limited by the reader (SLOW_READER_LOG_INTERVAL_MS), so this line never comes per frame. */
  slowReader(reader: Reader, dropped: number, sinceMs: number): void {
    const { protocol, remoteAddress } = reader.output;
    const window = Number.isFinite(sinceMs) ? ` in the last ${Math.round(sinceMs / 1000)} s` : '';
    this.log.warn(
      { reader: reader.id, protocol, conn: remoteAddress, dropped },
      `reader ${reader.id} (${protocol} from ${remoteAddress}) is too slow: discarded ${dropped} frames${window}`,
    );
  }

  countDropped(frames: number): void {
    this.droppedFrames += frames;
  }

  /** A reader corked its transport for its join burst: the fan-out uncorks it when the window ends. */
  corked(reader: Reader): void {
    this.fanout.corked(reader);
  }

  /** Bytes of the batch being flushed in one wire format (built once for all readers). */
  batchBytes(format: WireFormat): Buffer {
    return this.fanout.batchBytes(format);
  }

  /**
   * Header bytes for a wire format, built once per track change and shared by all its readers.
   * `build` runs only on a cache miss.
   */
  cachedHeaders(format: string, build: () => readonly Buffer[]): readonly Buffer[] {
    let headers = this.headerCache.get(format);
    if (headers === undefined) {
      headers = build();
      this.headerCache.set(format, headers);
    }
    return headers;
  }

  readersByProtocol(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const reader of this.readers) counts[reader.protocol] = (counts[reader.protocol] ?? 0) + 1;
    return counts;
  }

  readerStats(): ReaderStats[] {
    return [...this.readers].map((r) => r.stats());
  }

  /** @internal per-frame path, called by PublishSession once the stream is ready. */
  deliver(frame: MediaFrame): void {
    if (frame.dts > this.lastDts) this.lastDts = frame.dts;
    this.gop.push(frame, this.hasVideo);
    this.fanout.write(frame, this.hasVideo);
  }

  /** @internal the publisher's feed broke (PublishSession.feedInterrupted): joiners wait for the next keyframe. */
  dropCachedGop(): void {
    this.gop.clear();
  }

  /** @internal the first decodable frame of a session arrived: readers kept through a reconnect get the new headers. */
  markReady(): void {
    this.ready = true;
    this.headerCache.clear();
    this.fanout.flushNow();
    for (const reader of this.readers) reader.restart();
    this.safeEmit('ready');
  }

  /** @internal tracks or metadata changed within a session. */
  tracksChanged(): void {
    this.headerCache.clear();
    if (this.ready) {
      this.fanout.flushNow();
      for (const reader of this.readers) reader.restart();
    }
    this.safeEmit('tracks');
  }
}

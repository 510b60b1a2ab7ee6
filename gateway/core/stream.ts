import type { Logger } from 'pino';
import { StreamEndedError, type StreamgateError } from './errors.js';
import { TypedEmitter } from './events.js';
import { GopCache, type GopCacheLimits } from './gop-cache.js';
import {
  type AudioTrack,
  FrameKind,
  MediaFrame,
  type StreamMetadata,
  type VideoTrack,
  WIRE_SLOTS,
  type WireFormat,
  wireBytes,
} from './media.js';
import { Reader, type ReaderHost, type ReaderLimits, type ReaderOutput, type ReaderStats } from './reader.js';

/** Who is publishing, as the API shows it; `close` is how the hub kicks them. */
export interface PublisherInfo {
  readonly protocol: string;
  readonly remoteAddress: string;
  /** Query parameters of the publish URL (the stream key's `?token=...` and friends). */
  readonly query: Readonly<Record<string, string>>;
  /** Ends the publishing connection (API DELETE, takeover, gateway stop). */
  close(reason: string): void;
}

export interface StreamLimits extends GopCacheLimits, ReaderLimits {
  /** How long readers wait for a publisher that dropped before the stream ends. */
  readonly publisherGraceMs: number;
  /**
   * Write-merge window. 0: frames delivered in the same event-loop turn go out in one write per
   * reader (no added delay). >0: frames are gathered for that many ms, then go out in one write.
   */
  readonly writeMergeMs: number;
  /**
   * With writeMergeMs 0: audio frames of a stream with video wait for the next video frame and
   * leave with it in one write per reader (video is never delayed; audio at most
   * AUDIO_HOLD_MAX_MS). Optional, off by default.
   */
  readonly holdAudioForVideo?: boolean;
}

/** Held audio leaves after this long even when no video frame comes (video paused or lost). */
export const AUDIO_HOLD_MAX_MS = 100;

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
  /** Readers over byte-stream transports: they get each merge window's frames in one write. */
  private readonly batchedReaders = new Set<Reader>();
  /** Readers that take frame by frame (segmenters, UDP): written at once in deliver(). */
  private readonly directReaders = new Set<Reader>();
  /** Frames of the current merge window (the event-loop turn when writeMergeMs is 0). */
  private batch: MediaFrame[] = [];
  private spareBatch: MediaFrame[] = [];
  /** The batch being flushed and its bytes per wire format (slot), built once for all readers. */
  private flushing: readonly MediaFrame[] = [];
  private readonly flushingBytes: (Buffer | undefined)[] = new Array<Buffer | undefined>(WIRE_SLOTS);
  /** holdAudioForVideo applies (it does only without a merge window). */
  private readonly holdsAudio: boolean;
  /** Readers that corked their transport for a join burst; uncorked when the window ends. */
  private corkedReaders: Reader[] = [];
  private mergeTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  /** mergeTimer is a setTimeout (merge window or audio hold), not a setImmediate. */
  private mergeTimerIsTimeout = false;
  /** The batch holds audio waiting for the next video frame (holdAudioForVideo). */
  private holdingAudio = false;
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
    this.holdsAudio = limits.holdAudioForVideo === true && limits.writeMergeMs === 0;
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

  get gopCache(): GopCache {
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
    this.flushNow();
    for (const reader of [...this.readers]) reader.close(error);
    this.gop.clear();
    this.safeEmit('ended', error);
  }

  /** Adds a reader: it gets headers, the GOP cache, then live frames. Call when `ready`. */
  addReader(output: ReaderOutput): Reader {
    const reader = new Reader(this.nextReaderId++, this, output, this.limits);
    this.readers.add(reader);
    const gop = this.gop.snapshot();
    if (output.cork) {
      this.batchedReaders.add(reader);
      // Frames gathered so far in this window came before the join: the GOP snapshot holds
      // them, or (audio only, no cache) they are older than this reader, as with direct readers.
      reader.skipInNextBatch = this.batch.length;
    } else {
      this.directReaders.add(reader);
    }
    reader.start(gop);
    this.safeEmit('readerAdded', reader);
    return reader;
  }

  removeReader(reader: Reader): void {
    this.batchedReaders.delete(reader);
    this.directReaders.delete(reader);
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

  /** A reader corked its transport for its join burst: uncork it when the window ends. */
  corked(reader: Reader): void {
    this.corkedReaders.push(reader);
    if (this.mergeTimer === undefined) this.scheduleFlush();
  }

  /**
   * Bytes of the batch being flushed in one wire format: the frames' cached bytes back to back,
   * concatenated once per stream and window, then written to every reader in step.
   */
  batchBytes(format: WireFormat): Buffer {
    const frames = this.flushing;
    if (frames.length === 1) return wireBytes(frames[0]!, format);
    let bytes = this.flushingBytes[format.slot];
    if (bytes === undefined) {
      const parts: Buffer[] = [];
      for (const frame of frames) parts.push(wireBytes(frame, format));
      bytes = Buffer.concat(parts);
      this.flushingBytes[format.slot] = bytes;
    }
    return bytes;
  }

  private scheduleFlush(): void {
    const ms = this.limits.writeMergeMs > 0 ? this.limits.writeMergeMs : this.holdingAudio ? AUDIO_HOLD_MAX_MS : 0;
    this.mergeTimerIsTimeout = ms > 0;
    this.mergeTimer = ms > 0 ? setTimeout(this.flushMerged, ms) : setImmediate(this.flushMerged);
  }

  private cancelMergeTimer(): void {
    const timer = this.mergeTimer;
    if (timer === undefined) return;
    if (this.mergeTimerIsTimeout) clearTimeout(timer as NodeJS.Timeout);
    else clearImmediate(timer as NodeJS.Immediate);
    this.mergeTimer = undefined;
  }

  /** Ends the window now: before headers change, and when the stream ends. */
  private flushNow(): void {
    this.cancelMergeTimer();
    this.flushMerged();
  }

  /**
   * End of a merge window: one write per batched reader carrying every frame of the window
   * (a reader out of step, congested or waiting for a keyframe, takes them one by one).
   */
  private readonly flushMerged = (): void => {
    this.mergeTimer = undefined;
    this.holdingAudio = false;
    const frames = this.batch;
    if (frames.length > 0) {
      this.batch = this.spareBatch;
      this.flushing = frames;
      for (const reader of this.batchedReaders) reader.pushBatch(frames);
      this.flushing = [];
      this.flushingBytes.fill(undefined);
      frames.length = 0;
      this.spareBatch = frames;
    }
    if (this.corkedReaders.length > 0) {
      const readers = this.corkedReaders;
      this.corkedReaders = [];
      for (const reader of readers) reader.uncork();
    }
  };

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
    for (const reader of this.directReaders) reader.push(frame);
    if (this.batchedReaders.size === 0) return;
    this.batch.push(frame);
    if (this.holdsAudio && this.videoTrack !== undefined) {
      if (frame.kind !== FrameKind.Video) {
        if (this.mergeTimer === undefined) this.holdingAudio = true; // else it leaves with this turn's frames
      } else if (this.holdingAudio) {
        // The held audio leaves with this video frame, at the end of this turn as usual.
        this.holdingAudio = false;
        this.cancelMergeTimer();
      }
    }
    if (this.mergeTimer === undefined) this.scheduleFlush();
  }

  /** @internal the first decodable frame of a session arrived: readers kept through a reconnect get the new headers. */
  markReady(): void {
    this.ready = true;
    this.headerCache.clear();
    this.flushNow();
    for (const reader of this.readers) reader.restart();
    this.safeEmit('ready');
  }

  /** @internal tracks or metadata changed within a session. */
  tracksChanged(): void {
    this.headerCache.clear();
    if (this.ready) {
      this.flushNow();
      for (const reader of this.readers) reader.restart();
    }
    this.safeEmit('tracks');
  }
}

/**
 * A publisher's handle on a stream. Protocols call these with the wire's own timestamps; the
 * session rebases them onto the stream's timeline (starting at 0, continuing after the previous
 * session on reconnect) and keeps them monotonic per track.
 */
export class PublishSession {
  private active = true;
  private offset: number | undefined;
  /** Per track; start at the session's base, so no frame lands before the first one (or before the previous session's). */
  private lastVideoDts: number;
  private lastAudioDts: number;

  constructor(
    readonly stream: Stream,
    private readonly base: number,
  ) {
    this.lastVideoDts = base;
    this.lastAudioDts = base;
  }

  setVideoTrack(track: VideoTrack): void {
    if (!this.active) return;
    this.stream.videoTrack = track;
    this.announce();
  }

  setAudioTrack(track: AudioTrack): void {
    if (!this.active) return;
    this.stream.audioTrack = track;
    this.announce();
  }

  setMetadata(metadata: StreamMetadata): void {
    if (!this.active) return;
    this.stream.metadata = metadata;
    this.announce();
  }

  private announce(): void {
    // Before the first keyframe of this session, readers get headers when it arrives.
    if (this.stream.ready) this.stream.tracksChanged();
  }

  /** Video access unit; `payload` is 4-byte length-prefixed NAL units. */
  writeVideo(dts: number, pts: number, keyframe: boolean, payload: Buffer): void {
    if (!this.active) return;
    const stream = this.stream;
    const track = stream.videoTrack;
    if (track === undefined) return;
    let d = this.rebase(dts);
    if (d < this.lastVideoDts) d = this.lastVideoDts;
    this.lastVideoDts = d;
    let p = pts - dts + d;
    if (p < d) p = d;
    stream.bytesIn += payload.length;
    stream.videoFramesIn++;
    this.deliver(new MediaFrame(FrameKind.Video, d, p, keyframe, payload, Date.now(), track));
  }

  /** Audio access unit (raw AAC or G.711 samples). */
  writeAudio(dts: number, payload: Buffer): void {
    if (!this.active) return;
    const stream = this.stream;
    const track = stream.audioTrack;
    if (track === undefined) return;
    let d = this.rebase(dts);
    if (d < this.lastAudioDts) d = this.lastAudioDts;
    this.lastAudioDts = d;
    stream.bytesIn += payload.length;
    stream.audioFramesIn++;
    this.deliver(new MediaFrame(FrameKind.Audio, d, d, true, payload, Date.now(), track));
  }

  private deliver(frame: MediaFrame): void {
    const stream = this.stream;
    if (!stream.ready) {
      // Nothing before the first keyframe is decodable; audio-only streams start at once.
      if (frame.kind === FrameKind.Video ? !frame.keyframe : stream.hasVideo) return;
      stream.markReady();
    }
    stream.deliver(frame);
  }

  private rebase(dts: number): number {
    if (this.offset === undefined) this.offset = this.base - dts;
    return dts + this.offset;
  }

  /** The publisher's connection ended. */
  close(reason = 'publisher disconnected'): void {
    if (!this.active) return;
    this.active = false;
    this.stream.detachPublisher(this, reason);
  }

  /** @internal the stream replaced or ended this session. */
  detach(): void {
    this.active = false;
  }
}

import { ReaderStalledError } from './errors.js';
import { FrameKind, type MediaFrame, NOT_CARRIED, type WireFormat, wireBytes } from './media.js';

/**
 * What a protocol provides to read a stream: the hub calls these synchronously from the
 * publisher's write, so they must not block or await.
 */
export interface ReaderOutput {
  /** Protocol name for stats (`flv`, `ws-flv`, `rtmp`, ...). */
  readonly protocol: string;
  readonly remoteAddress: string;
  /** How frames are serialized for this reader; frames cache the bytes per format. */
  readonly format: WireFormat;
  /**
   * Bytes to send before frames: container header (when `initial`), metadata and decoder
   * configuration for the stream's current tracks. Called at join and whenever the publisher
   * changes codec headers (an OBS reconnect); return an empty array when nothing is needed.
   */
  headers(initial: boolean): readonly Buffer[];
  /** Writes bytes; returns false when the transport is backed up (socket.write semantics). */
  write(bytes: Buffer): boolean;
  /** Ends the transport. `error` is set when the hub closes the reader for a reason. */
  close(error?: Error): void;
  /**
   * Present on byte-stream transports (a TCP socket), where consecutive writes may be joined:
   * the hub then writes each merge window's frames as one Buffer, and corks the transport around
   * a join burst. Outputs without them (segmenters, UDP) get frame by frame.
   */
  cork?(): void;
  uncork?(): void;
}

export interface ReaderLimits {
  /** A congested reader whose queue spans more than this (dts) drops to the next keyframe. */
  readonly maxReaderLagMs: number;
  /** Same, in queued payload bytes. */
  readonly maxReaderQueueBytes: number;
  /** A reader congested this long without the transport draining is closed. */
  readonly readerStallTimeoutMs: number;
}

/** Counters a reader reports and the API shows. */
export interface ReaderStats {
  readonly id: number;
  readonly protocol: string;
  readonly remoteAddress: string;
  readonly since: number;
  readonly bytesSent: number;
  readonly framesSent: number;
  readonly droppedFrames: number;
  /** Frames of a track this reader's format cannot carry (Opus audio to FLV/RTMP/TS): skipped, not sent. */
  readonly framesNotCarried: number;
  readonly queuedFrames: number;
  /** Payload bytes of queued live frames (bounded by maxReaderQueueBytes). */
  readonly queuedBytes: number;
  readonly lagMs: number;
  /** Present on another process's relay pull (a worker or an edge), not a viewer. */
  readonly relay?: true;
}

/** The part of Stream a Reader needs: declared here so Reader does not depend on Stream. */
export interface ReaderHost {
  readonly hasVideo: boolean;
  countBytesOut(bytes: number): void;
  countDropped(frames: number): void;
  /**
   * A reader dropped frames because it is too slow: at most one call per reader per
   * SLOW_READER_LOG_INTERVAL_MS, with the frames dropped since the previous call (`sinceMs`
   * after it; Infinity for the first). The host logs it; the drop path itself never does.
   */
  slowReader(reader: Reader, dropped: number, sinceMs: number): void;
  removeReader(reader: Reader): void;
  /** The reader corked its transport; the host uncorks it when the merge window ends. */
  corked(reader: Reader): void;
  /** The bytes of the batch being flushed, in one wire format (built once for all readers). */
  batchBytes(format: WireFormat): Buffer;
}

type QueueItem = MediaFrame | Buffer;

/** A slow reader's drops are reported (logged) at most this often per reader (MediaMTX: "reader is too slow"). */
export const SLOW_READER_LOG_INTERVAL_MS = 10_000;

/**
 * One reader of a stream with its own bounded queue. While the transport accepts writes,
 * frames go straight through; once `write()` returns false, frames queue until `drain()`.
 * A queue spanning more than maxReaderLagMs (or maxReaderQueueBytes) is dropped and the reader
 * resumes at the next keyframe, so a slow reader never makes memory grow or delays others.
 */
export class Reader {
  readonly since = Date.now();
  bytesSent = 0;
  framesSent = 0;
  droppedFrames = 0;
  framesNotCarried = 0;
  private closed = false;
  private congested = false;
  private congestedSince = 0;
  /** Skip frames until a keyframe: at join (before the GOP cache) and after a lag drop. */
  private waitKeyframe = true;
  private countSkipped = false;
  private queue: QueueItem[] = [];
  private queueHead = 0;
  /** Queue items before this index came from the join burst (GOP cache, headers): never dropped. */
  private protectedUntil = 0;
  private liveQueueBytes = 0;
  private liveQueueFirstDts = -1;
  private lastLiveDts = 0;
  private isCorked = false;
  /** Drops not yet reported to the host, and when it was last told (rate-limited warning). */
  private dropsSinceReport = 0;
  private lastDropReportAt = -Infinity;
  /** Frames at the start of the next batch that this reader already got in its join burst. */
  skipInNextBatch = 0;
  /** Another process's relay pull (set by admission): shown in the stats, counted apart in whole-box views. */
  relay = false;

  constructor(
    readonly id: number,
    private readonly host: ReaderHost,
    readonly output: ReaderOutput,
    private readonly limits: ReaderLimits,
  ) {}

  get protocol(): string {
    return this.output.protocol;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Join: headers, then the GOP cache (protected from lag drops), then live frames. */
  start(gop: readonly MediaFrame[]): void {
    for (const bytes of this.output.headers(true)) this.writeRaw(bytes);
    for (const frame of gop) this.pushFrame(frame, true);
    if (gop.length === 0 && !this.host.hasVideo) this.waitKeyframe = false;
  }

  /** The publisher changed (reconnect): send new headers, then resume at its first keyframe. */
  restart(): void {
    if (this.closed) return;
    for (const bytes of this.output.headers(false)) this.writeRaw(bytes);
    this.waitKeyframe = this.host.hasVideo;
    this.countSkipped = false;
  }

  /** Called by the stream for every live frame. Synchronous and allocation-free when not congested. */
  push(frame: MediaFrame): void {
    this.pushFrame(frame, false);
  }

  /**
   * A merge window's frames. A reader in step (not congested, not waiting for a keyframe) gets
   * them in one write of bytes shared with every other reader of its format.
   */
  pushBatch(frames: readonly MediaFrame[]): void {
    const skip = this.skipInNextBatch;
    this.skipInNextBatch = 0;
    if (this.closed) return;
    if (skip === 0 && !this.congested && !this.waitKeyframe) {
      const last = frames[frames.length - 1]!;
      this.lastLiveDts = last.dts;
      const bytes = this.host.batchBytes(this.output.format);
      // batchBytes serialized every frame of the window: count those this format does not carry.
      const slot = this.output.format.slot;
      let notCarried = 0;
      for (let i = 0; i < frames.length; i++) if (frames[i]!.wire[slot] === NOT_CARRIED) notCarried++;
      this.framesNotCarried += notCarried;
      if (notCarried < frames.length) this.send(bytes, frames.length - notCarried, last.ingestTime);
      return;
    }
    for (let i = skip; i < frames.length; i++) this.pushFrame(frames[i]!, false);
  }

  private pushFrame(frame: MediaFrame, burst: boolean): void {
    if (this.closed) return;
    if (this.waitKeyframe) {
      if (frame.keyframe && (frame.kind === FrameKind.Video || !this.host.hasVideo)) {
        this.waitKeyframe = false;
        this.countSkipped = false;
      } else {
        if (this.countSkipped) this.countDrop(1);
        return;
      }
    }
    if (!burst) this.lastLiveDts = frame.dts;
    if (!this.congested) {
      if (burst && !this.isCorked && this.output.cork) {
        this.output.cork();
        this.isCorked = true;
        this.host.corked(this);
      }
      this.send(wireBytes(frame, this.output.format), 1, frame.ingestTime);
      return;
    }
    this.enqueue(frame, burst);
    if (burst) return;
    if (frame.ingestTime - this.congestedSince > this.limits.readerStallTimeoutMs) {
      this.close(new ReaderStalledError(frame.ingestTime - this.congestedSince));
      return;
    }
    if (
      frame.dts - this.liveQueueFirstDts > this.limits.maxReaderLagMs ||
      this.liveQueueBytes > this.limits.maxReaderQueueBytes
    ) {
      this.dropLiveQueue();
    }
  }

  /** Header bytes: never dropped (dropLiveQueue keeps every Buffer), so they need no protection. */
  private writeRaw(bytes: Buffer): void {
    if (this.closed) return;
    if (this.congested) {
      this.enqueue(bytes, false);
      return;
    }
    this.send(bytes, 0, Date.now());
  }

  /** One counted write to the transport; a refused write marks the reader congested since `at`. */
  private send(bytes: Buffer, frames: number, at: number): boolean {
    if (bytes === NOT_CARRIED) {
      // A frame this reader's format cannot carry (WireFormat): nothing to write.
      this.framesNotCarried += frames;
      return true;
    }
    this.framesSent += frames;
    this.bytesSent += bytes.length;
    this.host.countBytesOut(bytes.length);
    if (this.output.write(bytes)) return true;
    this.congested = true;
    this.congestedSince = at;
    return false;
  }

  private enqueue(item: QueueItem, burst: boolean): void {
    this.queue.push(item);
    if (burst) {
      this.protectedUntil = this.queue.length;
    } else if (!Buffer.isBuffer(item)) {
      if (this.liveQueueFirstDts < 0) this.liveQueueFirstDts = item.dts;
      this.liveQueueBytes += item.payload.length;
    }
  }

  /** Drops every queued live frame (headers and the join burst stay) and waits for a keyframe. */
  private dropLiveQueue(): void {
    let kept = Math.max(this.protectedUntil, this.queueHead);
    let dropped = 0;
    for (let i = kept; i < this.queue.length; i++) {
      const item = this.queue[i]!;
      if (Buffer.isBuffer(item)) this.queue[kept++] = item;
      else dropped++;
    }
    this.queue.length = kept;
    this.liveQueueBytes = 0;
    this.liveQueueFirstDts = -1;
    this.waitKeyframe = true;
    this.countSkipped = true;
    this.countDrop(dropped);
  }

  private countDrop(n: number): void {
    this.droppedFrames += n;
    this.host.countDropped(n);
    this.dropsSinceReport += n;
    // A counter and a clock check per drop; the host hears about it once per interval.
    const now = Date.now();
    const sinceMs = now - this.lastDropReportAt;
    if (this.dropsSinceReport === 0 || sinceMs < SLOW_READER_LOG_INTERVAL_MS) return;
    const dropped = this.dropsSinceReport;
    this.dropsSinceReport = 0;
    this.lastDropReportAt = now;
    this.host.slowReader(this, dropped, sinceMs);
  }

  /** End of the write-merge window: the transport sends what it gathered in one go. */
  uncork(): void {
    if (!this.isCorked) return;
    this.isCorked = false;
    this.output.uncork?.();
  }

  /** The transport can take more: flush the queue until it backs up again. */
  drain(): void {
    if (this.closed || !this.congested) return;
    this.congested = false;
    while (this.queueHead < this.queue.length) {
      const item = this.queue[this.queueHead]!;
      this.queue[this.queueHead] = undefined as unknown as QueueItem;
      this.queueHead++;
      if (Buffer.isBuffer(item)) {
        if (!this.send(item, 0, Date.now())) break;
        continue;
      }
      if (this.queueHead > this.protectedUntil) this.liveQueueBytes -= item.payload.length;
      if (!this.send(wireBytes(item, this.output.format), 1, Date.now())) break;
    }
    if (this.queueHead >= this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
      this.protectedUntil = 0;
      this.liveQueueBytes = 0;
      this.liveQueueFirstDts = -1;
    } else {
      // The first queued live frame (headers queued in between are skipped).
      this.liveQueueFirstDts = -1;
      for (let i = Math.max(this.queueHead, this.protectedUntil); i < this.queue.length; i++) {
        const next = this.queue[i]!;
        if (!Buffer.isBuffer(next)) {
          this.liveQueueFirstDts = next.dts;
          break;
        }
      }
    }
  }

  /** Closes this reader only; idempotent. */
  close(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.queueHead = 0;
    this.host.removeReader(this);
    this.output.close(error);
  }

  stats(): ReaderStats {
    const queued = this.queue.length - this.queueHead;
    return {
      id: this.id,
      protocol: this.output.protocol,
      remoteAddress: this.output.remoteAddress,
      since: this.since,
      bytesSent: this.bytesSent,
      framesSent: this.framesSent,
      droppedFrames: this.droppedFrames,
      framesNotCarried: this.framesNotCarried,
      queuedFrames: queued,
      queuedBytes: this.liveQueueBytes,
      lagMs: this.liveQueueFirstDts >= 0 ? Math.max(0, this.lastLiveDts - this.liveQueueFirstDts) : 0,
      ...(this.relay ? { relay: true as const } : {}),
    };
  }
}

/**
 * Fan-out of one stream's live frames to its readers. Readers that take frame by frame
 * (segmenters, UDP) get each frame at once; readers over byte-stream transports get each merge
 * window's frames (the event-loop turn, or `writeMergeMs`) in one write, the bytes concatenated
 * once per wire format and shared by every reader of that format. With `holdAudioForVideo`,
 * audio waits for the next video frame and leaves with it (at most AUDIO_HOLD_MAX_MS).
 *
 * `write` is on the per-frame path: synchronous, no logging, no allocation per frame or reader
 * (the two batch arrays are swapped, not reallocated).
 */
import { FrameKind, type MediaFrame, WIRE_SLOTS, type WireFormat, wireBytes } from './media.js';

const NO_FRAMES: readonly MediaFrame[] = [];

export interface FanoutLimits {
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

/** The part of a Reader the fan-out drives: declared here so tests can pass small fakes. */
export interface FanoutReader {
  /** Frames at the start of the next batch that this reader already got in its join burst. */
  skipInNextBatch: number;
  push(frame: MediaFrame): void;
  pushBatch(frames: readonly MediaFrame[]): void;
  uncork(): void;
}

export class Fanout {
  /** Readers over byte-stream transports: they get each merge window's frames in one write. */
  private readonly batchedReaders = new Set<FanoutReader>();
  /** Readers that take frame by frame (segmenters, UDP): written at once in write(). */
  private readonly directReaders = new Set<FanoutReader>();
  /** Frames of the current merge window (the event-loop turn when writeMergeMs is 0). */
  private batch: MediaFrame[] = [];
  private spareBatch: MediaFrame[] = [];
  /** The batch being flushed and its bytes per wire format (slot), built once for all readers. */
  private flushing = NO_FRAMES;
  private readonly flushingBytes: (Buffer | undefined)[] = new Array<Buffer | undefined>(WIRE_SLOTS);
  /** holdAudioForVideo applies (it does only without a merge window). */
  private readonly holdsAudio: boolean;
  /** Readers that corked their transport for a join burst; uncorked when the window ends. */
  private corkedReaders: FanoutReader[] = [];
  private mergeTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  /** mergeTimer is a setTimeout (merge window or audio hold), not a setImmediate. */
  private mergeTimerIsTimeout = false;
  /** The batch holds audio waiting for the next video frame (holdAudioForVideo). */
  private holdingAudio = false;

  constructor(private readonly limits: FanoutLimits) {
    this.holdsAudio = limits.holdAudioForVideo === true && limits.writeMergeMs === 0;
  }

  /**
   * Adds a reader, `batched` when its transport is a byte stream (the output can cork). Frames
   * gathered so far in this window came before the join: the reader's GOP snapshot holds them,
   * or (audio only, no cache) they are older than the reader, as with direct readers.
   */
  add(reader: FanoutReader, batched: boolean): void {
    if (batched) {
      this.batchedReaders.add(reader);
      reader.skipInNextBatch = this.batch.length;
    } else {
      this.directReaders.add(reader);
    }
  }

  remove(reader: FanoutReader): void {
    this.batchedReaders.delete(reader);
    this.directReaders.delete(reader);
  }

  /** A reader corked its transport for its join burst: uncork it when the window ends. */
  corked(reader: FanoutReader): void {
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

  /** Per-frame path: direct readers now, batched readers when the window ends. */
  write(frame: MediaFrame, streamHasVideo: boolean): void {
    for (const reader of this.directReaders) reader.push(frame);
    if (this.batchedReaders.size === 0) return;
    this.batch.push(frame);
    if (this.holdsAudio && streamHasVideo) {
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

  /** Ends the window now: before headers change, and when the stream ends. */
  flushNow(): void {
    this.cancelMergeTimer();
    this.flushMerged();
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
      this.flushing = NO_FRAMES;
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
}

import { FrameKind, type MediaFrame } from './media.js';

export interface GopCacheLimits {
  /** Payload bytes kept at most; past it the cache empties until the next keyframe. */
  readonly maxBytes: number;
  /** Span of dts kept at most, in ms. */
  readonly maxDurationMs: number;
}

/** What code outside the hub may do with a stream's cache: read it (stats, snapshots). */
export type GopCacheView = Pick<GopCache, 'snapshot' | 'byteSize' | 'frameCount'>;

/**
 * The frames (audio and video) since the last video keyframe, so a joining reader starts
 * decoding at once instead of waiting for the publisher's next keyframe.
 */
export class GopCache {
  private frames: MediaFrame[] = [];
  private bytes = 0;
  private startDts = 0;
  /** True after a cap was hit: nothing is cached until the next keyframe. */
  private overflowed = false;

  constructor(private readonly limits: GopCacheLimits) {}

  push(frame: MediaFrame, streamHasVideo: boolean): void {
    if (frame.kind === FrameKind.Video && frame.keyframe) {
      this.frames = [];
      this.bytes = 0;
      this.startDts = frame.dts;
      this.overflowed = false;
    } else if (!streamHasVideo) {
      // Audio-only streams need no cache to start decoding.
      return;
    } else if (this.overflowed || this.frames.length === 0) {
      return;
    }
    this.frames.push(frame);
    this.bytes += frame.payload.length;
    if (this.bytes > this.limits.maxBytes || frame.dts - this.startDts > this.limits.maxDurationMs) {
      this.clear();
      this.overflowed = true;
    }
  }

  clear(): void {
    this.frames = [];
    this.bytes = 0;
  }

  /** The cached frames, oldest first; read it synchronously (the next push may change it). */
  snapshot(): readonly MediaFrame[] {
    return this.frames;
  }

  get byteSize(): number {
    return this.bytes;
  }

  get frameCount(): number {
    return this.frames.length;
  }
}

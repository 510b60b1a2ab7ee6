/**
 * One HLS muxer per requested stream, in process: a frame reader of the hub feeds the shared
 * Segmenter, whose parts become fMP4 fragments (or MPEG-TS packets) held in memory for a sliding
 * window. Created by the first playlist request, closed after `closeAfterMs` without requests or
 * when the stream ends.
 */
import { IdleCloser } from '../../core/idle.js';
import type { Logger } from 'pino';
import type { Reader } from '../../core/reader.js';
import type { Stream } from '../../core/stream.js';
import { codecStrings } from '../../formats/mp4/codecs.js';
import { FragmentWriter } from '../../formats/mp4/fragment.js';
import { initSegment } from '../../formats/mp4/init.js';
import { TsMuxer } from '../../formats/mpegts.js';
import { type Part, type SegmentStart, Segmenter, type SegmentTracks } from '../../formats/segmenter.js';
import { readFrames } from '../../formats/segmenter-reader.js';
import type { HlsConfig } from './config.js';

export interface HlsPart {
  readonly index: number;
  readonly durationMs: number;
  readonly independent: boolean;
  readonly bytes: Buffer;
}

export interface HlsSegment {
  readonly msn: number;
  readonly startDts: number;
  readonly wallClock: number;
  readonly initId: number;
  /** Tracks changed at this segment (a new EXT-X-MAP, EXT-X-DISCONTINUITY). */
  readonly discontinuity: boolean;
  durationMs: number;
  byteLength: number;
  complete: boolean;
  readonly parts: HlsPart[];
}

interface Waiter {
  ready: () => boolean;
  resolve: (ok: boolean) => void;
  timer: NodeJS.Timeout;
}

/** Parts are listed for segments this close to the live edge (RFC 8216bis §6.2.2: about 3 target durations). */
const PART_SEGMENTS = 3;

export class HlsMuxer {
  readonly segments: HlsSegment[] = [];
  readonly inits = new Map<number, Buffer>();
  tracks: SegmentTracks | undefined;
  codecs: string[] = [];
  audioOmitted: string | undefined;
  /**
   * Requests being answered hold it (a blocking reload is activity too); hls.closeAfterMs after
   * the last one ended the muxer closes (it starts again on demand).
   */
  readonly idle: IdleCloser;
  closed = false;
  /** Discontinuities that slid out of the window (EXT-X-DISCONTINUITY-SEQUENCE). */
  discontinuitySequence = 0;
  private nextMsn = 0;
  private initId = 0;
  private current: HlsSegment | undefined;
  private fmp4: FragmentWriter | undefined;
  private ts: TsMuxer | undefined;
  private readonly segmenter: Segmenter;
  private readonly reader: Reader;
  private waiters: Waiter[] = [];
  /** Longest complete segment in the window, ms (EXT-X-TARGETDURATION). */
  maxSegmentMs = 0;
  /** Frames or parts that could not be muxed (counted, logged once). */
  errors = 0;

  constructor(
    readonly stream: Stream,
    readonly config: HlsConfig,
    private readonly log: Logger,
    private readonly onClose: (muxer: HlsMuxer) => void,
  ) {
    this.idle = new IdleCloser(config.closeAfterMs, () => this.close());
    this.idle.arm();
    this.segmenter = new Segmenter({ segmentMs: config.segmentMs, partMs: config.lowLatency ? config.partMs : config.segmentMs }, {
      segmentStart: (s) => this.segmentStart(s),
      part: (p) => this.part(p),
      segmentEnd: () => this.segmentEnd(),
    });
    this.reader = readFrames(stream, 'hls', {
      tracks: (t) => {
        if (t.audioOmitted && this.audioOmitted !== t.audioOmitted) this.log.info({ path: stream.path }, `HLS without audio: ${t.audioOmitted}`);
        this.audioOmitted = t.audioOmitted;
        this.segmenter.setTracks({ video: t.video, audio: t.audio });
      },
      frame: (f) => this.segmenter.push(f),
      closed: (error) => this.close(error),
    }, config.container === 'ts' ? 'ts' : 'fmp4');
    stream.on('unpublish', this.onUnpublish);
  }

  /**
   * The publisher left (the stream waits out its grace period): the open segment is complete as
   * it is, and a returning publisher starts a new one whose PROGRAM-DATE-TIME is re-anchored on
   * the wall clock. The hub continues the media timeline across the gap; the clock does not.
   */
  private readonly onUnpublish = (): void => this.segmenter.finish();

  get path(): string {
    return this.stream.path;
  }

  get extension(): 'm4s' | 'ts' {
    return this.config.container === 'ts' ? 'ts' : 'm4s';
  }

  get openSegment(): HlsSegment | undefined {
    return this.current;
  }

  segment(msn: number): HlsSegment | undefined {
    const first = this.segments[0];
    if (!first) return undefined;
    return this.segments[msn - first.msn];
  }

  private segmentStart(s: SegmentStart): void {
    try {
      if (s.changed || (!this.fmp4 && !this.ts)) {
        this.tracks = s.tracks;
        this.codecs = codecStrings(s.tracks);
        this.initId++;
        if (this.config.container === 'ts') {
          this.ts = new TsMuxer(s.tracks);
        } else {
          this.fmp4 = new FragmentWriter(s.tracks, 0);
          this.inits.set(this.initId, initSegment(s.tracks));
        }
      }
    } catch (error) {
      this.countError(error);
    }
    const segment: HlsSegment = {
      msn: this.nextMsn++,
      startDts: s.startDts,
      wallClock: s.wallClock,
      initId: this.initId,
      discontinuity: s.changed && this.segments.length > 0,
      durationMs: 0,
      byteLength: 0,
      complete: false,
      parts: [],
    };
    this.current = segment;
    this.segments.push(segment);
    this.trimWindow();
  }

  private part(p: Part): void {
    const segment = this.current;
    if (!segment) return;
    let bytes: Buffer;
    try {
      if (this.ts) {
        // Every part starts with PAT/PMT so a client can start decoding at any independent part;
        // fresh packets each time, as a repeated continuity_counter is a duplicate (ISO/IEC 13818-1 §2.4.3.3).
        bytes = Buffer.concat([this.ts.tables(), this.ts.mux(p.frames)]);
      } else if (this.fmp4) {
        bytes = Buffer.concat(this.fmp4.write(p.frames, p.endDts).chunks);
      } else {
        return;
      }
    } catch (error) {
      this.countError(error);
      return;
    }
    const durationMs = p.endDts - p.startDts;
    segment.parts.push({ index: segment.parts.length, durationMs, independent: p.independent, bytes });
    segment.durationMs += durationMs;
    segment.byteLength += bytes.length;
    this.wake();
  }

  private segmentEnd(): void {
    const segment = this.current;
    if (!segment) return;
    this.current = undefined;
    if (segment.parts.length === 0) {
      this.segments.pop();
      this.nextMsn--;
      return;
    }
    segment.complete = true;
    this.trimWindow();
    this.wake();
  }

  private trimWindow(): void {
    let complete = 0;
    for (const s of this.segments) if (s.complete) complete++;
    while (complete > this.config.windowSegments && this.segments[0]?.complete) {
      const gone = this.segments.shift()!;
      complete--;
      if (gone.discontinuity) this.discontinuitySequence++;
    }
    // Keep only the init segments the window refers to.
    const first = this.segments[0]?.initId ?? this.initId;
    for (const id of this.inits.keys()) if (id < first) this.inits.delete(id);
    let max = 0;
    for (const s of this.segments) if (s.complete && s.durationMs > max) max = s.durationMs;
    this.maxSegmentMs = max;
  }

  private countError(error: unknown): void {
    if (this.errors++ === 0) this.log.warn({ path: this.path, err: error }, 'HLS muxing failed; the playlist may stall');
  }

  /** True once a playlist can be served: a complete segment exists. */
  get started(): boolean {
    return this.segments.some((s) => s.complete);
  }

  /** Parts are listed only for the last few segments. */
  listsParts(segment: HlsSegment): boolean {
    const last = this.segments[this.segments.length - 1];
    return this.config.lowLatency && last !== undefined && last.msn - segment.msn < PART_SEGMENTS;
  }

  /** Resolves true once `ready()` holds, false after `timeoutMs` or when the muxer closes. */
  waitUntil(ready: () => boolean, timeoutMs: number): Promise<boolean> {
    if (ready()) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        ready,
        resolve,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(false);
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.ready()) {
        clearTimeout(w.timer);
        w.resolve(true);
      } else {
        still.push(w);
      }
    }
    this.waiters = still;
  }

  /** Bits per second over the window: peak segment and average (EXT-X-STREAM-INF BANDWIDTH). */
  bandwidth(): { peak: number; average: number } {
    let peak = 0;
    let bytes = 0;
    let ms = 0;
    for (const s of this.segments) {
      if (!s.complete || s.durationMs <= 0) continue;
      peak = Math.max(peak, (s.byteLength * 8000) / s.durationMs);
      bytes += s.byteLength;
      ms += s.durationMs;
    }
    const average = ms > 0 ? (bytes * 8000) / ms : 0;
    return { peak: Math.ceil(peak || average || 1_000_000), average: Math.ceil(average || peak || 1_000_000) };
  }

  close(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.idle.dispose();
    this.stream.off('unpublish', this.onUnpublish);
    this.reader.close();
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.resolve(false);
    }
    this.waiters = [];
    this.log.debug({ path: this.path, reason: error?.message ?? 'idle' }, 'HLS muxer closed');
    this.onClose(this);
  }
}

/**
 * Cuts the hub's frames into segments and parts, independently of the container: HLS (fMP4 or
 * MPEG-TS segments with LL-HLS parts) and recording (a fragment per GOP, a file per segment) both
 * run this one segmenter and serialize what it emits.
 *
 * - A segment starts on a video keyframe (any frame for audio-only streams) once the current one
 *   reached the target duration, or at once when the tracks change (a reconnect with new codec
 *   headers): the next segment then carries `changed` so containers emit a new header.
 * - A part (an fMP4 fragment) ends before the frame that would carry it past the part target, and
 *   before every keyframe, so a part that starts with a keyframe is independent. Part target 0
 *   means "a part per GOP".
 * - Boundaries are decided on the video timeline; audio frames join the part that is open when
 *   they arrive. A part's end is the next part's first video dts, so durations add up exactly.
 *
 * Synchronous and allocation-light: one array per part.
 */
import { type AudioTrack, FrameKind, type MediaFrame, type VideoTrack } from '../core/media.js';
import { sameConfig } from './tracks.js';

export interface SegmenterOptions {
  /** Target segment duration (ms); segments are cut on the first keyframe past it. */
  readonly segmentMs: number;
  /** Target part duration (ms); 0: a part per GOP. */
  readonly partMs: number;
}

/** The tracks a segment carries (G.711 audio is left out by callers that cannot carry it). */
export interface SegmentTracks {
  readonly video?: VideoTrack | undefined;
  readonly audio?: AudioTrack | undefined;
}

export interface SegmentStart {
  readonly tracks: SegmentTracks;
  readonly startDts: number;
  /**
   * Wall clock (Unix ms) of startDts: anchored on the first frame so media time maps linearly,
   * and again after the input arrived more than a second late (an outage inside a session).
   */
  readonly wallClock: number;
  /** True when the tracks differ from the previous segment's (a container header is due). */
  readonly changed: boolean;
}

export interface Part {
  /** Frames in arrival order (video and audio interleaved). */
  readonly frames: MediaFrame[];
  readonly startDts: number;
  /** The next part's start: the duration of the last video sample is `endDts - its dts`. */
  readonly endDts: number;
  /** Starts with a video keyframe (always true for audio-only). */
  readonly independent: boolean;
}

export interface SegmenterSink {
  segmentStart(segment: SegmentStart): void;
  part(part: Part): void;
  segmentEnd(endDts: number): void;
}

function sameTrack(a: { codec: string; config: Buffer } | undefined, b: { codec: string; config: Buffer } | undefined): boolean {
  return a === b || (b !== undefined && sameConfig(a, b.codec, b.config));
}

export function sameTracks(a: SegmentTracks, b: SegmentTracks): boolean {
  return sameTrack(a.video, b.video) && sameTrack(a.audio, b.audio);
}

/** A segment start arriving this much later than its media time says re-anchors the wall clock. */
const REANCHOR_LATE_MS = 1000;

export class Segmenter {
  /** Tracks announced by the stream; the last segment's are `active` (the same object once found equal). */
  private tracks: SegmentTracks | undefined;
  private active: SegmentTracks | undefined;
  private open = false;
  private segmentStartDts = 0;
  private partStartDts = 0;
  private partIndependent = false;
  private frames: MediaFrame[] = [];
  private lastVideoDts = -1;
  private lastFrameDuration = 0;
  private lastDts = 0;
  private anchorDts = 0;
  private anchorWall = -1;
  /** Frames dropped because their track is not the segment's (G.711, or a track not yet cut in). */
  skippedFrames = 0;

  constructor(
    readonly options: SegmenterOptions,
    private readonly sink: SegmenterSink,
  ) {}

  /** The stream's current tracks (at join and whenever its publisher changes codec headers). */
  setTracks(tracks: SegmentTracks): void {
    this.tracks = tracks;
  }

  push(frame: MediaFrame): void {
    const tracks = this.tracks;
    if (!tracks) return;
    const isVideo = frame.kind === FrameKind.Video;
    const cutsOnVideo = tracks.video !== undefined;
    // Frames of a track the segment does not carry are skipped (checked by reference first: cheap).
    const own = isVideo ? tracks.video : tracks.audio;
    if (own === undefined || !sameTrack(frame.track, own)) {
      this.skippedFrames++;
      return;
    }
    const boundary = cutsOnVideo ? isVideo : true;
    if (!this.open) {
      if (cutsOnVideo && !(isVideo && frame.keyframe)) return;
      this.startSegment(frame, tracks);
    } else if (boundary) {
      const changed = !this.sameAsActive(tracks);
      if (changed && isVideo && !frame.keyframe) return;
      const independent = !cutsOnVideo || frame.keyframe;
      if (changed || (independent && frame.dts - this.segmentStartDts >= this.options.segmentMs)) {
        this.closePart(frame.dts);
        this.sink.segmentEnd(frame.dts);
        this.startSegment(frame, tracks);
      } else if (this.frames.length > 0 && this.partDue(frame, independent && cutsOnVideo)) {
        this.closePart(frame.dts);
        this.partStartDts = frame.dts;
        this.partIndependent = independent;
      }
    } else if (!this.sameAsActive(tracks)) {
      // Audio of new tracks waits for the video cut that brings them in.
      this.skippedFrames++;
      return;
    }
    if (isVideo) {
      if (this.lastVideoDts >= 0 && frame.dts > this.lastVideoDts) this.lastFrameDuration = frame.dts - this.lastVideoDts;
      this.lastVideoDts = frame.dts;
    } else if (!cutsOnVideo && frame.dts > this.lastDts) {
      this.lastFrameDuration = frame.dts - this.lastDts;
    }
    if (frame.dts > this.lastDts) this.lastDts = frame.dts;
    this.frames.push(frame);
  }

  /**
   * True when `tracks` equal the last segment's. An equal new object (the same headers sent again)
   * becomes `active`, so later frames take the reference check instead of comparing configs.
   */
  private sameAsActive(tracks: SegmentTracks): boolean {
    if (this.active === tracks) return true;
    if (this.active === undefined || !sameTracks(this.active, tracks)) return false;
    this.active = tracks;
    return true;
  }

  private partDue(frame: MediaFrame, keyframe: boolean): boolean {
    const partMs = this.options.partMs;
    if (keyframe) return true;
    if (partMs <= 0) return false;
    // End the part before the frame that would carry it past the target (§4.4.4.9: parts at most PART-TARGET).
    return frame.dts + this.lastFrameDuration - this.partStartDts > partMs + 1;
  }

  private startSegment(frame: MediaFrame, tracks: SegmentTracks): void {
    // Anchored on the first frame; anchored again when a frame arrives well after the time the
    // timeline gives it: the publisher was away inside one publish session (a camera source
    // reconnecting keeps its session, and the hub continues the timeline across the gap). Never
    // moved back: input sent faster than real time keeps its files back to back.
    if (this.anchorWall < 0 || frame.ingestTime - (this.anchorWall + frame.dts - this.anchorDts) > REANCHOR_LATE_MS) {
      this.anchorWall = frame.ingestTime;
      this.anchorDts = frame.dts;
    }
    const changed = !this.sameAsActive(tracks);
    this.active = tracks;
    this.open = true;
    this.segmentStartDts = frame.dts;
    this.partStartDts = frame.dts;
    this.partIndependent = true;
    this.sink.segmentStart({ tracks, startDts: frame.dts, wallClock: this.anchorWall + (frame.dts - this.anchorDts), changed });
  }

  private closePart(endDts: number): void {
    if (this.frames.length === 0) return;
    const frames = this.frames;
    this.frames = [];
    this.sink.part({ frames, startDts: this.partStartDts, endDts: Math.max(endDts, this.partStartDts), independent: this.partIndependent });
  }

  /** Ends the open part and segment (the publisher left); the next frame starts a new segment. */
  finish(): void {
    if (!this.open) return;
    const end = this.lastDts + (this.lastFrameDuration > 0 ? this.lastFrameDuration : 40);
    this.closePart(end);
    this.sink.segmentEnd(end);
    this.open = false;
    this.lastVideoDts = -1;
    // A returning publisher continues the timeline but not the wall clock: re-anchor on it.
    this.anchorWall = -1;
  }
}

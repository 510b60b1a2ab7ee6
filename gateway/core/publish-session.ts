/**
 * A publisher's handle on a stream, the one way media gets into the hub. Protocols call these
 * with the wire's own timestamps; the session rebases them onto the stream's timeline (starting
 * at 0, continuing after the previous session on reconnect) and keeps them monotonic per track.
 * A session the stream replaced or ended ignores every call.
 *
 * Imported through `core/stream.js`, which re-exports it with the Stream.
 */
import { type AudioTrack, FrameKind, MediaFrame, type StreamMetadata, type VideoTrack } from './media.js';
import type { Stream } from './stream.js';

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

  /**
   * The publisher's media stopped but it keeps this session (a camera pull between reconnect
   * attempts): the cached GOP is from before the outage, so a reader joining now waits for the
   * next keyframe instead of starting from it. Readers already joined are not touched.
   */
  feedInterrupted(): void {
    if (!this.active) return;
    this.stream.dropCachedGop();
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

/**
 * MPEG-TS from an SRT caller to core tracks and frames (the only place that does): the shared
 * TS demuxer's tracks and access units written to the publish session, timestamps rounded to ms.
 */
import type { AudioTrack, VideoTrack } from '../../core/media.js';
import type { PublishSession } from '../../core/stream.js';
import { TsDemuxer } from '../../formats/mpegts/demux.js';
import { sameConfig } from '../../formats/tracks.js';

export class TsToStream {
  readonly demuxer: TsDemuxer;

  constructor(private readonly session: PublishSession) {
    this.demuxer = new TsDemuxer({
      videoTrack: (track: VideoTrack) => {
        if (!sameConfig(this.session.stream.videoTrack, track.codec, track.config)) this.session.setVideoTrack(track);
      },
      audioTrack: (track: AudioTrack) => {
        if (!sameConfig(this.session.stream.audioTrack, track.codec, track.config)) this.session.setAudioTrack(track);
      },
      video: (dts, pts, keyframe, payload) => this.session.writeVideo(Math.round(dts), Math.round(pts), keyframe, payload),
      audio: (dts, payload) => this.session.writeAudio(Math.round(dts), payload),
    });
  }

  /** Bytes of the caller's transport stream; throws UnsupportedCodecError for media the hub cannot carry. */
  push(chunk: Buffer): void {
    this.demuxer.push(chunk);
  }

  get stats() {
    return this.demuxer.stats;
  }
}

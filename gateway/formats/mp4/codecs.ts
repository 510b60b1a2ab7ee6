/** RFC 6381 `codecs` values for the tracks of a segment (HLS CODECS, the recordings index). */
import { aacCodecString } from '../../codecs/aac.js';
import { h264CodecString, parseAvcDecoderConfig } from '../../codecs/h264.js';
import { h265CodecString, parseHevcDecoderConfig } from '../../codecs/h265.js';
import type { AudioTrack, VideoTrack } from '../../core/media.js';

export function videoCodecString(track: VideoTrack): string {
  try {
    if (track.codec === 'H264') {
      const sps = parseAvcDecoderConfig(track.config).sps[0];
      if (sps) return h264CodecString(sps);
      return 'avc1.42e01e';
    }
    const sps = parseHevcDecoderConfig(track.config).sps[0];
    if (sps) return h265CodecString(sps);
    return 'hvc1.1.6.L93.B0';
  } catch {
    return track.codec === 'H264' ? 'avc1.42e01e' : 'hvc1.1.6.L93.B0';
  }
}

export function audioCodecString(track: AudioTrack): string {
  try {
    return aacCodecString(track.config);
  } catch {
    return 'mp4a.40.2';
  }
}

export function codecStrings(tracks: { video?: VideoTrack | undefined; audio?: AudioTrack | undefined }): string[] {
  const out: string[] = [];
  if (tracks.video) out.push(videoCodecString(tracks.video));
  if (tracks.audio && tracks.audio.codec === 'AAC') out.push(audioCodecString(tracks.audio));
  // RFC 6381 value for Opus in ISOBMFF ("Encapsulation of Opus in ISOBMFF" §4.3.1): the sample entry name.
  else if (tracks.audio && tracks.audio.codec === 'OPUS') out.push('opus');
  return out;
}

/**
 * Core frames to RTP for RTSP play: the shared RTP stream format (formats/rtp/stream-format.ts)
 * in RTSP's cache slot. Its TCP-interleaved Buffer is shared by every RTSP reader; readers that
 * chose other channels, or UDP, walk the same bytes (see `forEachInterleaved`, `remapChannels`).
 */
import type { Track } from '../../core/media.js';
import type { Stream } from '../../core/stream.js';
import { DEFAULT_MAX_PAYLOAD } from '../../formats/rtp/rtp.js';
import { forEachInterleaved, RtpStreamFormat } from '../../formats/rtp/stream-format.js';

export { forEachInterleaved };

/** MediaFrame.wire slot of RTSP (0 = FLV, 1 = RTMP). */
export const RTSP_WIRE_SLOT = 2;

/** The tracks a stream is played with, in SDP order. */
export function playTracks(stream: Stream): Track[] {
  const tracks: Track[] = [];
  if (stream.videoTrack) tracks.push(stream.videoTrack);
  if (stream.audioTrack) tracks.push(stream.audioTrack);
  return tracks;
}


/** The RTSP wire format of one stream. */
export class RtspStreamFormat extends RtpStreamFormat {
  constructor(stream: Stream, maxPayload = DEFAULT_MAX_PAYLOAD) {
    super(stream, 'rtsp', RTSP_WIRE_SLOT, maxPayload);
  }
}

/** Channel value in a remap table for tracks the reader did not set up: their frames are left out. */
export const NOT_SET_UP = 255;

/**
 * A copy of `bytes` with each interleaved channel replaced through `map` (indexed by the
 * default channel), leaving out frames of tracks mapped to NOT_SET_UP. Only for readers whose
 * SETUP picked non-default channels or fewer tracks: the wire truly differs for them, so this
 * is the one per-reader copy on the play path.
 */
export function remapChannels(bytes: Buffer, map: Uint8Array): Buffer {
  let size = 0;
  forEachInterleaved(bytes, (channel, _offset, length) => {
    if (map[channel] !== NOT_SET_UP) size += 4 + length;
  });
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  forEachInterleaved(bytes, (channel, offset, length) => {
    const mapped = map[channel]!;
    if (mapped === NOT_SET_UP) return;
    bytes.copy(out, pos, offset - 4, offset + length);
    out[pos + 1] = mapped;
    pos += 4 + length;
  });
  return out;
}

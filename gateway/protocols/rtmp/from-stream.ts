/**
 * Core frames to RTMP messages (the only place that does): each frame is framed once into
 * chunks on a fixed message stream id and the same bytes go to every RTMP reader.
 */
import { FrameKind, type MediaFrame, type WireFormat } from '../../core/media.js';
import type { Stream } from '../../core/stream.js';
import {
  audioConfigBody,
  audioFramePrefixSize,
  flvAudioTrack,
  flvCarriesAudio,
  NOT_CARRIED,
  onMetaDataBody,
  videoConfigBody,
  videoFramePrefixSize,
  writeAudioFramePrefix,
  writeVideoFramePrefix,
} from '../../formats/flv-tag.js';
import { RTMP_TYPE_AUDIO, RTMP_TYPE_DATA, RTMP_TYPE_VIDEO } from './engine.js';

/** The message stream id of the first createStream: what every RTMP player we know plays on. */
export const PLAY_STREAM_ID = 1;
const CSID_DATA = 5;
const CSID_AUDIO = 4;
const CSID_VIDEO = 6;

/**
 * Writes one message as chunks (RTMP 1.0 §5.3.1): a type-0 header, then type-3 headers every
 * `chunkSize` bytes. Timestamps past 0xFFFFFF use the extended field, repeated on type-3 chunks.
 * `fill` writes the body into the allocated buffer at the offsets it is given, so a frame's
 * payload is copied once, straight into its final place.
 */
function writeMessage(
  csid: number,
  type: number,
  streamId: number,
  timestamp: number,
  bodyLength: number,
  chunkSize: number,
  fill: (out: Buffer, bodyOffset: number, take: number, bodyPos: number) => void,
): Buffer {
  const extended = timestamp >= 0xffffff;
  const ext = extended ? 4 : 0;
  const chunks = Math.max(1, Math.ceil(bodyLength / chunkSize));
  const out = Buffer.allocUnsafe(12 + ext + bodyLength + (chunks - 1) * (1 + ext));
  out[0] = csid; // fmt 0, csid < 64
  const ts = extended ? 0xffffff : timestamp;
  out[1] = (ts >> 16) & 0xff;
  out[2] = (ts >> 8) & 0xff;
  out[3] = ts & 0xff;
  out[4] = (bodyLength >> 16) & 0xff;
  out[5] = (bodyLength >> 8) & 0xff;
  out[6] = bodyLength & 0xff;
  out[7] = type;
  out.writeUInt32LE(streamId, 8);
  let pos = 12;
  if (extended) {
    out.writeUInt32BE(timestamp >>> 0, pos);
    pos += 4;
  }
  let bodyPos = 0;
  while (bodyPos < bodyLength || (bodyLength === 0 && bodyPos === 0)) {
    if (bodyPos > 0) {
      out[pos++] = 0xc0 | csid;
      if (extended) {
        out.writeUInt32BE(timestamp >>> 0, pos);
        pos += 4;
      }
    }
    const take = Math.min(chunkSize, bodyLength - bodyPos);
    fill(out, pos, take, bodyPos);
    pos += take;
    bodyPos += take;
    if (bodyLength === 0) break;
  }
  return out;
}

/** Copies `body` (a whole message body) piecewise into the chunked output. */
function bodyFiller(body: Buffer) {
  return (out: Buffer, at: number, take: number, bodyPos: number) => {
    body.copy(out, at, bodyPos, bodyPos + take);
  };
}

export function rtmpMessage(csid: number, type: number, streamId: number, timestamp: number, body: Buffer, chunkSize: number): Buffer {
  return writeMessage(csid, type, streamId, timestamp, body.length, chunkSize, bodyFiller(body));
}

/** A WireFormat for RTMP play at a given outgoing chunk size. */
export function rtmpFormat(chunkSize: number): WireFormat {
  // The tag prefix is written here first and copied out by writeMessage before serialize returns:
  // room for the longest one (enhanced-RTMP video, 8 bytes), owned by this format, not allocated per frame.
  const scratch = Buffer.alloc(16);
  return {
    name: `rtmp-${chunkSize}`,
    slot: 1,
    serialize(frame: MediaFrame): Buffer {
      const track = frame.track;
      const payload = frame.payload;
      const prefix = scratch;
      let p: number;
      if (frame.kind === FrameKind.Video && track.kind === 'video') {
        p = videoFramePrefixSize(track.codec);
        writeVideoFramePrefix(prefix, 0, track.codec, frame.keyframe, frame.pts - frame.dts);
      } else if (track.kind === 'audio') {
        // RTMP without Enhanced RTMP v2 audio has no Opus SoundFormat: video only (see FlvAudioCodec).
        if (!flvCarriesAudio(track.codec)) return NOT_CARRIED;
        p = audioFramePrefixSize(track.codec);
        writeAudioFramePrefix(prefix, 0, track);
      } else {
        throw new Error('frame kind and track disagree');
      }
      return writeMessage(
        frame.kind === FrameKind.Video ? CSID_VIDEO : CSID_AUDIO,
        frame.kind === FrameKind.Video ? RTMP_TYPE_VIDEO : RTMP_TYPE_AUDIO,
        PLAY_STREAM_ID,
        frame.dts,
        p + payload.length,
        chunkSize,
        (out, at, take, bodyPos) => {
          let o = at;
          let b = bodyPos;
          const end = bodyPos + take;
          while (b < p && b < end) out[o++] = prefix[b++]!;
          if (b < end) payload.copy(out, o, b - p, end - p);
        },
      );
    },
  };
}

/** onMetaData, then the video and audio sequence headers, as RTMP messages. */
export function rtmpHeaderMessages(stream: Stream, chunkSize: number): Buffer[] {
  const out: Buffer[] = [];
  const v = stream.videoTrack;
  const a = flvAudioTrack(stream.audioTrack);
  out.push(rtmpMessage(CSID_DATA, RTMP_TYPE_DATA, PLAY_STREAM_ID, 0, onMetaDataBody(stream), chunkSize));
  if (v) out.push(rtmpMessage(CSID_VIDEO, RTMP_TYPE_VIDEO, PLAY_STREAM_ID, 0, videoConfigBody(v), chunkSize));
  if (a) {
    const body = audioConfigBody(a);
    if (body) out.push(rtmpMessage(CSID_AUDIO, RTMP_TYPE_AUDIO, PLAY_STREAM_ID, 0, body, chunkSize));
  }
  return out;
}

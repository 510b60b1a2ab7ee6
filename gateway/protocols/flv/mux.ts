/**
 * FLV muxing for HTTP-FLV and WS-FLV readers (Adobe FLV spec v10.1 Annex E; HEVC as Enhanced
 * FLV `hvc1`, which mpegts.js plays). One serialization per frame, shared by every reader.
 */
import { FrameKind, type MediaFrame, type WireFormat, wireBytes } from '../../core/media.js';
import type { Stream } from '../../core/stream.js';
import { EcmaArray, encodeAmf0 } from '../../formats/amf0.js';
import {
  audioConfigBody,
  audioFramePrefixSize,
  FLV_TAG_AUDIO,
  FLV_TAG_SCRIPT,
  FLV_TAG_VIDEO,
  flvAudioTrack,
  flvCarriesAudio,
  NOT_CARRIED,
  onMetaDataBody,
  videoConfigBody,
  videoFramePrefixSize,
  writeAudioFramePrefix,
  writeVideoFramePrefix,
} from '../../formats/flv-tag.js';

const TAG_HEADER = 11;
const PREV_SIZE = 4;

function writeTagHeader(buf: Buffer, type: number, dataSize: number, timestamp: number): void {
  buf[0] = type;
  buf[1] = (dataSize >> 16) & 0xff;
  buf[2] = (dataSize >> 8) & 0xff;
  buf[3] = dataSize & 0xff;
  // E.4.1: 24-bit timestamp then the upper 8 bits (TimestampExtended).
  buf[4] = (timestamp >> 16) & 0xff;
  buf[5] = (timestamp >> 8) & 0xff;
  buf[6] = timestamp & 0xff;
  buf[7] = (timestamp >>> 24) & 0xff;
  buf[8] = 0;
  buf[9] = 0;
  buf[10] = 0;
}

/** A complete tag (header, body, PreviousTagSize) around an already-built body. */
export function flvTag(type: number, timestamp: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(TAG_HEADER + body.length + PREV_SIZE);
  writeTagHeader(out, type, body.length, timestamp);
  body.copy(out, TAG_HEADER);
  out.writeUInt32BE(TAG_HEADER + body.length, TAG_HEADER + body.length);
  return out;
}

/** The 9-byte FLV header plus PreviousTagSize0, with flags for the tracks present. */
export function flvFileHeader(hasAudio: boolean, hasVideo: boolean): Buffer {
  const out = Buffer.from([0x46, 0x4c, 0x56, 0x01, 0, 0, 0, 0, 9, 0, 0, 0, 0]);
  out[4] = (hasAudio ? 4 : 0) | (hasVideo ? 1 : 0);
  return out;
}

/**
 * The latency stamp: an FLV event cue point (`onCuePoint`, video_file_format_spec_v10 E.4.4.1)
 * named `streamgate-time` whose parameters map a stream timestamp (`dts`, ms) to the wall clock
 * (`ingest`, Unix ms) at which the gateway received that frame. Players compute live latency as
 * now - ingest of the frame on screen. The tag's own timestamp is 0: ffmpeg's FLV demuxer then
 * skips it instead of opening a data stream (which would break `-c copy` remuxing); flv.js and
 * mpegts.js ignore cue points they are not asked about.
 */
export const LATENCY_STAMP_NAME = 'streamgate-time';

/** A stamp goes before every video keyframe and before the first frame of each second. */
const STAMP_WINDOW_MS = 50;

function needsStamp(frame: MediaFrame): boolean {
  return frame.keyframe || frame.dts % 1000 < STAMP_WINDOW_MS;
}

function stampBody(frame: MediaFrame): Buffer {
  return encodeAmf0(
    'onCuePoint',
    new EcmaArray({
      name: LATENCY_STAMP_NAME,
      time: frame.dts / 1000,
      type: 'event',
      parameters: { dts: frame.dts, ingest: frame.ingestTime },
    }),
  );
}

function serializeFrame(frame: MediaFrame): Buffer {
  const payload = frame.payload;
  const track = frame.track;
  if (frame.kind === FrameKind.Video && track.kind === 'video') {
    const stamp = needsStamp(frame) ? stampBody(frame) : undefined;
    const stampSize = stamp ? TAG_HEADER + stamp.length + PREV_SIZE : 0;
    const prefix = videoFramePrefixSize(track.codec);
    const size = prefix + payload.length;
    const out = Buffer.allocUnsafe(stampSize + TAG_HEADER + size + PREV_SIZE);
    if (stamp) {
      writeTagHeader(out, FLV_TAG_SCRIPT, stamp.length, 0);
      stamp.copy(out, TAG_HEADER);
      out.writeUInt32BE(TAG_HEADER + stamp.length, TAG_HEADER + stamp.length);
    }
    const v = out.subarray(stampSize);
    writeTagHeader(v, FLV_TAG_VIDEO, size, frame.dts);
    writeVideoFramePrefix(v, TAG_HEADER, track.codec, frame.keyframe, frame.pts - frame.dts);
    payload.copy(v, TAG_HEADER + prefix);
    v.writeUInt32BE(TAG_HEADER + size, TAG_HEADER + size);
    return out;
  }
  if (track.kind !== 'audio') throw new Error('frame kind and track disagree');
  if (!flvCarriesAudio(track.codec)) return NOT_CARRIED;
  const prefix = audioFramePrefixSize(track.codec);
  const size = prefix + payload.length;
  const out = Buffer.allocUnsafe(TAG_HEADER + size + PREV_SIZE);
  writeTagHeader(out, FLV_TAG_AUDIO, size, frame.dts);
  writeAudioFramePrefix(out, TAG_HEADER, track);
  payload.copy(out, TAG_HEADER + prefix);
  out.writeUInt32BE(TAG_HEADER + size, TAG_HEADER + size);
  return out;
}

/** HTTP-FLV: one serialization per frame, shared by every reader. */
export const flvFormat: WireFormat = { name: 'flv', slot: 0, serialize: serializeFrame };

/** A complete unmasked binary WebSocket frame (RFC 6455 §5.2) around `payload`. */
export function wsBinaryFrame(payload: Buffer): Buffer {
  const n = payload.length;
  const headerSize = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(headerSize + n);
  out[0] = 0x82; // FIN + binary
  if (n < 126) {
    out[1] = n;
  } else if (n < 65536) {
    out[1] = 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 127;
    out.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    out.writeUInt32BE(n >>> 0, 6);
  }
  payload.copy(out, headerSize);
  return out;
}

/**
 * WS-FLV: each frame's FLV bytes wrapped once in a WebSocket frame, so WS readers also share one
 * Buffer per frame (built from the cached FLV bytes, not re-muxed).
 */
export const wsFlvFormat: WireFormat = {
  name: 'ws-flv',
  slot: 4,
  serialize: (frame) => {
    const flv = wireBytes(frame, flvFormat);
    return flv === NOT_CARRIED ? NOT_CARRIED : wsBinaryFrame(flv);
  },
};

/**
 * Metadata and sequence-header tags for the stream's current tracks, built once per track
 * change and shared by every FLV reader, at timestamp 0. Audio FLV cannot carry (Opus) is left
 * out here and in the file header, so players see a video-only stream, not a mislabeled one.
 */
export function flvHeaderTags(stream: Stream): Buffer[] {
  const tags = [flvTag(FLV_TAG_SCRIPT, 0, onMetaDataBody(stream))];
  if (stream.videoTrack) tags.push(flvTag(FLV_TAG_VIDEO, 0, videoConfigBody(stream.videoTrack)));
  const audio = flvAudioTrack(stream.audioTrack);
  if (audio) {
    const body = audioConfigBody(audio);
    if (body) tags.push(flvTag(FLV_TAG_AUDIO, 0, body));
  }
  return tags;
}

/**
 * FLV tag bodies: the audio/video payload layout shared by FLV files and RTMP messages
 * (Adobe "Video File Format Specification" v10.1, Annex E.4.2/E.4.3, and Enhanced RTMP v1
 * "ExVideoTagHeader" for HEVC as fourcc `hvc1`). Parsing here, writing here; RTMP and FLV
 * only add their own framing around these bytes.
 */
import { ProtocolError, UnsupportedCodecError } from '../core/errors.js';
import type { AudioCodec, AudioTrack, StreamMetadata, VideoCodec, VideoTrack } from '../core/media.js';
import { type Amf0Value, EcmaArray, encodeAmf0 } from './amf0.js';

export const FLV_TAG_AUDIO = 8;
export const FLV_TAG_VIDEO = 9;
export const FLV_TAG_SCRIPT = 18;

const CODEC_ID_AVC = 7;
/** HEVC in the legacy tag layout: not in Adobe's spec, but what many camera encoders send. */
const CODEC_ID_HEVC_LEGACY = 12;
const FRAME_TYPE_KEY = 1;
const FRAME_TYPE_INTER = 2;
const FRAME_TYPE_COMMAND = 5;

// Enhanced RTMP v1 VideoPacketType
const PT_SEQUENCE_START = 0;
const PT_CODED_FRAMES = 1;
const PT_SEQUENCE_END = 2;
const PT_CODED_FRAMES_X = 3;
const PT_METADATA = 4;

const FOURCC_HVC1 = 0x68766331; // 'hvc1'
const FOURCC_AVC1 = 0x61766331; // 'avc1' (Enhanced RTMP v2)

const SOUND_FORMAT_PCMA = 7;
const SOUND_FORMAT_PCMU = 8;
const SOUND_FORMAT_AAC = 10;

const SUPPORTED_VIDEO = ['H264 (codec id 7)', 'H265 (Enhanced RTMP hvc1 or codec id 12)'];
const SUPPORTED_AUDIO = ['AAC (sound format 10)', 'G.711 A-law (7)', 'G.711 mu-law (8)'];

export type VideoTagBody =
  | { readonly type: 'config'; readonly codec: VideoCodec; readonly config: Buffer }
  | { readonly type: 'frame'; readonly codec: VideoCodec; readonly keyframe: boolean; readonly cts: number; readonly data: Buffer }
  | { readonly type: 'ignore'; readonly reason: string };

/**
 * The audio codecs FLV/RTMP carry here (E.4.2.1 SoundFormat 10, 7, 8). Opus has no SoundFormat;
 * only Enhanced RTMP v2's multitrack/FourCC audio carries it, which mpegts.js and ffmpeg 5.1 do
 * not read, so FLV and RTMP readers of an Opus stream get its video only.
 */
export type FlvAudioCodec = 'AAC' | 'PCMA' | 'PCMU';

/** True when FLV/RTMP can carry `codec` (false for Opus: see FlvAudioCodec). */
export function flvCarriesAudio(codec: AudioCodec): codec is FlvAudioCodec {
  return codec === 'AAC' || codec === 'PCMA' || codec === 'PCMU';
}

export type AudioTagBody =
  | { readonly type: 'config'; readonly codec: 'AAC'; readonly config: Buffer }
  | { readonly type: 'frame'; readonly codec: FlvAudioCodec; readonly data: Buffer; readonly channels: number }
  | { readonly type: 'ignore'; readonly reason: string };

function truncated(what: string, len: number): ProtocolError {
  return new ProtocolError('flv', `${what} tag body of ${len} bytes is truncated`);
}

/** Reads a signed 24-bit big-endian composition time offset. */
function readSI24(buf: Buffer, offset: number): number {
  const v = buf.readUIntBE(offset, 3);
  return v & 0x800000 ? v - 0x1000000 : v;
}

export function parseVideoTagBody(body: Buffer): VideoTagBody {
  if (body.length < 1) throw truncated('video', body.length);
  const b0 = body[0]!;
  if (b0 & 0x80) {
    // Enhanced RTMP ExVideoTagHeader: [1][frameType:3][packetType:4][fourcc:32]
    if (body.length < 5) throw truncated('video', body.length);
    const frameType = (b0 >> 4) & 0x07;
    const packetType = b0 & 0x0f;
    const fourcc = body.readUInt32BE(1);
    const codec: VideoCodec | undefined = fourcc === FOURCC_HVC1 ? 'H265' : fourcc === FOURCC_AVC1 ? 'H264' : undefined;
    if (codec === undefined) throw new UnsupportedCodecError(`video fourcc ${body.toString('latin1', 1, 5)}`, SUPPORTED_VIDEO);
    if (frameType === FRAME_TYPE_COMMAND) return { type: 'ignore', reason: 'video command frame' };
    switch (packetType) {
      case PT_SEQUENCE_START:
        return { type: 'config', codec, config: body.subarray(5) };
      case PT_CODED_FRAMES:
        if (body.length < 8) throw truncated('video', body.length);
        return { type: 'frame', codec, keyframe: frameType === FRAME_TYPE_KEY, cts: readSI24(body, 5), data: body.subarray(8) };
      case PT_CODED_FRAMES_X:
        return { type: 'frame', codec, keyframe: frameType === FRAME_TYPE_KEY, cts: 0, data: body.subarray(5) };
      case PT_SEQUENCE_END:
        return { type: 'ignore', reason: 'end of sequence' };
      case PT_METADATA:
        return { type: 'ignore', reason: 'video metadata' };
      default:
        return { type: 'ignore', reason: `video packet type ${packetType}` };
    }
  }
  const frameType = b0 >> 4;
  const codecId = b0 & 0x0f;
  const codec: VideoCodec | undefined = codecId === CODEC_ID_AVC ? 'H264' : codecId === CODEC_ID_HEVC_LEGACY ? 'H265' : undefined;
  if (codec === undefined) throw new UnsupportedCodecError(`FLV video codec id ${codecId}`, SUPPORTED_VIDEO);
  if (frameType === FRAME_TYPE_COMMAND) return { type: 'ignore', reason: 'video command frame' };
  if (body.length < 5) throw truncated('video', body.length);
  const packetType = body[1]!;
  if (packetType === 0) return { type: 'config', codec, config: body.subarray(5) };
  if (packetType === 1) {
    return { type: 'frame', codec, keyframe: frameType === FRAME_TYPE_KEY, cts: readSI24(body, 2), data: body.subarray(5) };
  }
  return { type: 'ignore', reason: 'end of sequence' };
}

export function parseAudioTagBody(body: Buffer): AudioTagBody {
  if (body.length < 1) throw truncated('audio', body.length);
  const b0 = body[0]!;
  const format = b0 >> 4;
  const channels = (b0 & 1) + 1;
  switch (format) {
    case SOUND_FORMAT_AAC:
      if (body.length < 2) throw truncated('audio', body.length);
      if (body[1] === 0) return { type: 'config', codec: 'AAC', config: body.subarray(2) };
      return { type: 'frame', codec: 'AAC', data: body.subarray(2), channels };
    case SOUND_FORMAT_PCMA:
      return { type: 'frame', codec: 'PCMA', data: body.subarray(1), channels };
    case SOUND_FORMAT_PCMU:
      return { type: 'frame', codec: 'PCMU', data: body.subarray(1), channels };
    default:
      throw new UnsupportedCodecError(`FLV sound format ${format}`, SUPPORTED_AUDIO);
  }
}

/** Bytes before a coded video frame's payload: 5 for AVC, 8 for Enhanced `hvc1` CodedFrames. */
export function videoFramePrefixSize(codec: VideoCodec): number {
  return codec === 'H264' ? 5 : 8;
}

export function writeVideoFramePrefix(buf: Buffer, offset: number, codec: VideoCodec, keyframe: boolean, cts: number): void {
  const frameType = keyframe ? FRAME_TYPE_KEY : FRAME_TYPE_INTER;
  const c = cts & 0xffffff;
  if (codec === 'H264') {
    buf[offset] = (frameType << 4) | CODEC_ID_AVC;
    buf[offset + 1] = 1;
    buf[offset + 2] = c >> 16;
    buf[offset + 3] = (c >> 8) & 0xff;
    buf[offset + 4] = c & 0xff;
  } else {
    buf[offset] = 0x80 | (frameType << 4) | PT_CODED_FRAMES;
    buf.writeUInt32BE(FOURCC_HVC1, offset + 1);
    buf[offset + 5] = c >> 16;
    buf[offset + 6] = (c >> 8) & 0xff;
    buf[offset + 7] = c & 0xff;
  }
}

/** Tag body carrying the decoder configuration record (AVC sequence header / Enhanced SequenceStart). */
export function videoConfigBody(track: VideoTrack): Buffer {
  if (track.codec === 'H264') {
    const out = Buffer.alloc(5 + track.config.length);
    out[0] = (FRAME_TYPE_KEY << 4) | CODEC_ID_AVC;
    track.config.copy(out, 5);
    return out;
  }
  const out = Buffer.alloc(5 + track.config.length);
  out[0] = 0x80 | (FRAME_TYPE_KEY << 4) | PT_SEQUENCE_START;
  out.writeUInt32BE(FOURCC_HVC1, 1);
  track.config.copy(out, 5);
  return out;
}

function soundFlags(track: AudioTrack): number {
  if (!flvCarriesAudio(track.codec)) throw new UnsupportedCodecError(`FLV audio ${track.codec}`, SUPPORTED_AUDIO);
  if (track.codec === 'AAC') {
    // AAC always signals 44 kHz, 16-bit, stereo; the AudioSpecificConfig has the truth (E.4.2.1).
    return (SOUND_FORMAT_AAC << 4) | (3 << 2) | (1 << 1) | 1;
  }
  const format = track.codec === 'PCMA' ? SOUND_FORMAT_PCMA : SOUND_FORMAT_PCMU;
  // G.711 in FLV is 8 kHz by definition; the rate field is unused (0).
  return (format << 4) | (1 << 1) | (track.channels > 1 ? 1 : 0);
}

export function audioFramePrefixSize(codec: AudioCodec): number {
  return codec === 'AAC' ? 2 : 1;
}

export function writeAudioFramePrefix(buf: Buffer, offset: number, track: AudioTrack): void {
  buf[offset] = soundFlags(track);
  if (track.codec === 'AAC') buf[offset + 1] = 1;
}

/** The stream's audio track when FLV/RTMP can carry it, else undefined (Opus: video only). */
export function flvAudioTrack(track: AudioTrack | undefined): AudioTrack | undefined {
  return track !== undefined && flvCarriesAudio(track.codec) ? track : undefined;
}

/** What the FLV and RTMP wire formats return for frames they cannot carry (see WireFormat). */
export { NOT_CARRIED } from '../core/media.js';

/** AAC sequence header body, or undefined for codecs without one (G.711, and Opus, not carried). */
export function audioConfigBody(track: AudioTrack): Buffer | undefined {
  if (track.codec !== 'AAC') return undefined;
  const out = Buffer.alloc(2 + track.config.length);
  out[0] = soundFlags(track);
  out[1] = 0;
  track.config.copy(out, 2);
  return out;
}

/** FLV codec ids for onMetaData: videocodecid/audiocodecid. */
function flvVideoCodecId(codec: VideoCodec): number {
  return codec === 'H264' ? CODEC_ID_AVC : FOURCC_HVC1;
}

function flvAudioCodecId(codec: FlvAudioCodec): number {
  return codec === 'AAC' ? SOUND_FORMAT_AAC : codec === 'PCMA' ? SOUND_FORMAT_PCMA : SOUND_FORMAT_PCMU;
}

/**
 * The `onMetaData` script body (AMF0 "onMetaData" + ECMA array): whatever the publisher sent,
 * with size and codec fields taken from the tracks (SPS-derived, not trusted from metadata).
 */
export function onMetaDataBody(
  tracks: { videoTrack?: VideoTrack | undefined; audioTrack?: AudioTrack | undefined; metadata?: StreamMetadata | undefined },
): Buffer {
  const meta: Record<string, Amf0Value> = {};
  for (const [k, v] of Object.entries(tracks.metadata ?? {})) meta[k] = v;
  const v = tracks.videoTrack;
  const a = tracks.audioTrack;
  if (v) {
    meta.width = v.width;
    meta.height = v.height;
    if (v.fps) meta.framerate = v.fps;
    meta.videocodecid = flvVideoCodecId(v.codec);
  }
  // Audio FLV cannot carry (Opus) is left out of the metadata, as its frames are left out.
  if (a && flvCarriesAudio(a.codec)) {
    meta.audiocodecid = flvAudioCodecId(a.codec);
    meta.audiosamplerate = a.sampleRate;
    meta.stereo = a.channels > 1;
  }
  meta.server = 'Streamgate';
  return encodeAmf0('onMetaData', new EcmaArray(meta));
}

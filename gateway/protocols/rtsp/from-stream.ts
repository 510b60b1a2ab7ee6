/**
 * Core frames to RTP (the only place that does) for RTSP play. A frame is packetized once per
 * stream into its TCP-interleaved form (RFC 2326 §10.12: '$', channel, length, RTP packet) on
 * the default channels (track i on 2i, its RTCP on 2i+1), and that Buffer is shared by every
 * RTSP reader. Readers that chose other channels, or UDP, walk the same bytes (see
 * `forEachInterleaved`, `remapChannels`).
 *
 * RTP sequence numbers are assigned when a frame is first serialized. Readers write frames in
 * stream order and the first serialization of a frame happens no later than that of the frames
 * after it, so every reader sees increasing sequence numbers; frames a reader skipped (lag
 * drop) appear to it as a gap, which is what they are.
 */
import { splitLengthPrefixed } from '../../codecs/annexb.js';
import { FrameKind, type MediaFrame, type Track, type VideoCodec, type WireFormat } from '../../core/media.js';
import type { Stream } from '../../core/stream.js';
import { AAC_PT, OPUS_PT, parameterSetsOf, VIDEO_PT } from '../../formats/rtp/sdp.js';
import { packetizeAac, packetizeG711, packetizeOpus } from '../../formats/rtp/audio.js';
import { packetizeVideo } from '../../formats/rtp/video.js';
import { DEFAULT_MAX_PAYLOAD, RTCP_SR_SIZE, RTP_HEADER_SIZE, writeRtcpSenderReport, writeRtpHeader } from '../../formats/rtp/rtp.js';

/** MediaFrame.wire slot of RTSP (0 = FLV, 1 = RTMP). */
export const RTSP_WIRE_SLOT = 2;

/** How often an audio-only track repeats its RTCP sender report (video sends one per keyframe). */
const AUDIO_SR_INTERVAL_MS = 1000;

/** Output state of one RTP stream (a track as a reader sees it). */
class RtpOut {
  readonly ssrc = (Math.random() * 0x100000000) >>> 0;
  sequence = (Math.random() * 0x10000) & 0xffff;
  private readonly tsOffset = (Math.random() * 0x100000000) >>> 0;
  packets = 0;
  octets = 0;
  lastSrMs = -Infinity;

  constructor(
    readonly payloadType: number,
    readonly clockRate: number,
  ) {}

  /** RTP timestamp for a stream time in ms (mod 2^32). */
  timestamp(ms: number): number {
    return (Math.round((ms * this.clockRate) / 1000) + this.tsOffset) % 0x100000000;
  }
}

/** The tracks a stream is played with, in SDP order. */
export function playTracks(stream: Stream): Track[] {
  const tracks: Track[] = [];
  if (stream.videoTrack) tracks.push(stream.videoTrack);
  if (stream.audioTrack) tracks.push(stream.audioTrack);
  return tracks;
}


/** True when the access unit carries an SPS itself (then it carries the other sets too). */
function hasSps(codec: VideoCodec, nalus: readonly Buffer[]): boolean {
  for (const n of nalus) {
    if (codec === 'H264' ? (n[0]! & 0x1f) === 7 : ((n[0]! >> 1) & 0x3f) === 33) return true;
  }
  return false;
}

/**
 * The RTSP wire format of one stream: RTP state (SSRC, sequence numbers, timestamp offsets)
 * is per stream, so the format is too. `maxPayload` bounds each RTP payload.
 */
export class RtspStreamFormat implements WireFormat {
  readonly name = 'rtsp';
  readonly slot = RTSP_WIRE_SLOT;
  private video: RtpOut | undefined;
  private audio: RtpOut | undefined;
  /** Parameter sets of the current video config, parsed once per track change. */
  private paramSets: { config: Buffer; sets: Buffer[] } | undefined;
  /** Wall clock of stream time 0, for sender reports: one mapping for all tracks keeps them in sync. */
  private readonly epochMs: number;

  constructor(
    private readonly stream: Stream,
    private readonly maxPayload = DEFAULT_MAX_PAYLOAD,
  ) {
    this.epochMs = Date.now() - Math.max(0, stream.lastDts);
  }

  /** RTP state for the stream's current tracks (payload type and clock follow the codec). */
  outFor(track: Track): RtpOut {
    if (track.kind === 'video') {
      if (!this.video) this.video = new RtpOut(VIDEO_PT, 90000);
      return this.video;
    }
    const pt = track.codec === 'AAC' ? AAC_PT : track.codec === 'OPUS' ? OPUS_PT : track.codec === 'PCMU' ? 0 : 8;
    if (!this.audio || this.audio.payloadType !== pt || this.audio.clockRate !== track.sampleRate) this.audio = new RtpOut(pt, track.sampleRate);
    return this.audio;
  }

  private parameterSets(codec: VideoCodec, config: Buffer): Buffer[] {
    if (this.paramSets?.config !== config) {
      const { vps, sps, pps } = parameterSetsOf(codec, config);
      this.paramSets = { config, sets: [...vps, ...sps, ...pps] };
    }
    return this.paramSets.sets;
  }

  serialize(frame: MediaFrame): Buffer {
    const track = frame.track;
    const index = track.kind === 'video' || this.stream.videoTrack === undefined ? 0 : 1;
    const channel = index * 2;
    const out = this.outFor(track);
    let payloads: Buffer[];
    let markers: boolean[] | undefined;
    let offsets: number[] | undefined;
    if (frame.kind === FrameKind.Video && track.kind === 'video') {
      let nalus = splitLengthPrefixed(frame.payload);
      // Keyframes carry their parameter sets in-band, so a player that joins (or a publisher
      // that reconnects with new ones) always has them next to the picture.
      if (frame.keyframe && !hasSps(track.codec, nalus)) nalus = [...this.parameterSets(track.codec, track.config), ...nalus];
      payloads = packetizeVideo(track.codec, nalus, this.maxPayload);
    } else if (track.kind === 'audio' && track.codec === 'AAC') {
      const packets = packetizeAac([frame.payload], this.maxPayload);
      payloads = packets.map((p) => p.payload);
      markers = packets.map((p) => p.last);
    } else if (track.kind === 'audio' && track.codec === 'OPUS') {
      payloads = [packetizeOpus(frame.payload)];
    } else if (track.kind === 'audio') {
      const packets = packetizeG711(frame.payload, this.maxPayload, track.channels);
      payloads = packets.map((p) => p.payload);
      offsets = packets.map((p) => p.offset);
    } else {
      throw new Error('frame kind and track disagree');
    }
    const timestamp = out.timestamp(frame.kind === FrameKind.Video ? frame.pts : frame.dts);
    const sr = frame.kind === FrameKind.Video ? frame.keyframe : frame.dts - out.lastSrMs >= AUDIO_SR_INTERVAL_MS;
    let size = sr ? 4 + RTCP_SR_SIZE : 0;
    for (const p of payloads) size += 4 + RTP_HEADER_SIZE + p.length;
    const buf = Buffer.allocUnsafe(size);
    let pos = 0;
    if (sr) {
      out.lastSrMs = frame.dts;
      buf[pos] = 0x24;
      buf[pos + 1] = channel + 1;
      buf.writeUInt16BE(RTCP_SR_SIZE, pos + 2);
      const ms = frame.kind === FrameKind.Video ? frame.pts : frame.dts;
      writeRtcpSenderReport(buf, pos + 4, out.ssrc, this.epochMs + ms, timestamp, out.packets, out.octets);
      pos += 4 + RTCP_SR_SIZE;
    }
    for (let i = 0; i < payloads.length; i++) {
      const p = payloads[i]!;
      buf[pos] = 0x24;
      buf[pos + 1] = channel;
      buf.writeUInt16BE(RTP_HEADER_SIZE + p.length, pos + 2);
      const marker = markers ? markers[i]! : offsets ? false : i === payloads.length - 1;
      const ts = offsets ? (timestamp + offsets[i]!) % 0x100000000 : timestamp;
      writeRtpHeader(buf, pos + 4, marker, out.payloadType, out.sequence, ts, out.ssrc);
      out.sequence = (out.sequence + 1) & 0xffff;
      p.copy(buf, pos + 4 + RTP_HEADER_SIZE);
      pos += 4 + RTP_HEADER_SIZE + p.length;
      out.packets++;
      out.octets += p.length;
    }
    return buf;
  }
}

/** Calls `fn` for each interleaved frame in `bytes` (channel, offset and length of its packet). */
export function forEachInterleaved(bytes: Buffer, fn: (channel: number, offset: number, length: number) => void): void {
  let pos = 0;
  while (pos + 4 <= bytes.length) {
    const length = bytes.readUInt16BE(pos + 2);
    fn(bytes[pos + 1]!, pos + 4, length);
    pos += 4 + length;
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

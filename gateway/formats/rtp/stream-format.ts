/**
 * Core frames to RTP, packetized once per stream into the TCP-interleaved form of RFC 2326
 * §10.12 ('$', channel, length, RTP packet) on fixed channels (track i on 2i, its RTCP on
 * 2i+1). The Buffer is shared by every reader of the format: RTSP readers write it as is (or
 * remap channels), WebRTC readers walk its packets (`forEachInterleaved`).
 *
 * RTP sequence numbers are assigned when a frame is first serialized. Readers write frames in
 * stream order and the first serialization of a frame happens no later than that of the frames
 * after it, so every reader sees increasing sequence numbers; frames a reader skipped (lag
 * drop) appear to it as a gap, which is what they are.
 */
import { splitLengthPrefixed } from '../../codecs/annexb.js';
import { FrameKind, type MediaFrame, type Track, type VideoCodec, type WireFormat } from '../../core/media.js';
import { AAC_PT, OPUS_PT, parameterSetsOf, VIDEO_PT } from './sdp.js';
import { packetizeAac, packetizeG711, packetizeOpus } from './audio.js';
import { packetizeVideo } from './video.js';
import { DEFAULT_MAX_PAYLOAD, RTCP_SR_SIZE, RTP_HEADER_SIZE, writeRtcpSenderReport, writeRtpHeader } from './rtp.js';

/** How often an audio-only track repeats its RTCP sender report (video sends one per keyframe). */
const AUDIO_SR_INTERVAL_MS = 1000;

/** Output state of one RTP stream (a track as a reader sees it). */
export class RtpOut {
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

/** True when the access unit carries an SPS itself (then it carries the other sets too). */
function hasSps(codec: VideoCodec, nalus: readonly Buffer[]): boolean {
  for (const n of nalus) {
    if (codec === 'H264' ? (n[0]! & 0x1f) === 7 : ((n[0]! >> 1) & 0x3f) === 33) return true;
  }
  return false;
}

/** What the format needs of the stream it serializes. */
export interface RtpStreamSource {
  readonly videoTrack: Track | undefined;
  readonly lastDts: number;
}

/**
 * RTP wire format of one stream: RTP state (SSRC, sequence numbers, timestamp offsets) is per
 * stream, so the format is too. `maxPayload` bounds each RTP payload. RTSP play uses it with
 * its cache slot and 1400-byte payloads, WebRTC with its own slot and smaller payloads (SRTP
 * and tunnels add headers).
 */
export class RtpStreamFormat implements WireFormat {
  private video: RtpOut | undefined;
  private audio: RtpOut | undefined;
  /** Parameter sets of the current video config, parsed once per track change. */
  private paramSets: { config: Buffer; sets: Buffer[] } | undefined;
  /** Wall clock of stream time 0, for sender reports: one mapping for all tracks keeps them in sync. */
  private readonly epochMs: number;

  constructor(
    private readonly stream: RtpStreamSource,
    readonly name: string,
    readonly slot: number,
    private readonly maxPayload = DEFAULT_MAX_PAYLOAD,
    /** G.711 samples per packet (per channel); RTP over UDP to browsers wants 20 ms (160 at 8 kHz). */
    private readonly g711Samples = maxPayload,
  ) {
    this.epochMs = Date.now() - Math.max(0, stream.lastDts);
  }

  /** The SSRC the format sends a track kind with (undefined before its first packet). */
  ssrcOf(kind: 'video' | 'audio'): number | undefined {
    return kind === 'video' ? this.video?.ssrc : this.audio?.ssrc;
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
      // RFC 7587 §4.2: one Opus packet per RTP payload, timestamps at 48 kHz.
      payloads = [packetizeOpus(frame.payload)];
    } else if (track.kind === 'audio') {
      const packets = packetizeG711(frame.payload, Math.min(this.maxPayload, this.g711Samples * track.channels), track.channels);
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


/**
 * MPEG-2 transport stream muxing (ISO/IEC 13818-1) for HLS clients that predate fMP4: PAT/PMT at
 * the start of each segment (and LL-HLS part), H.264/H.265 as Annex-B access units with an AUD
 * (and the parameter sets before each keyframe), AAC as ADTS, PCR on the video PID. Continuity
 * counters run across segments, as one muxer serves one stream.
 */
import { buildAdtsHeader, parseAudioSpecificConfig, type AacConfig } from '../codecs/aac.js';
import { parseAvcDecoderConfig } from '../codecs/h264.js';
import { parseHevcDecoderConfig } from '../codecs/h265.js';
import { FrameKind, type MediaFrame } from '../core/media.js';
import type { SegmentTracks } from './segmenter.js';

const PACKET = 188;
const PID_PMT = 0x1000;
const PID_VIDEO = 0x100;
const PID_AUDIO = 0x101;
/** stream_type values, ISO/IEC 13818-1 Table 2-34 (0x24: HEVC, Amd.3). */
const STREAM_TYPE_H264 = 0x1b;
const STREAM_TYPE_H265 = 0x24;
const STREAM_TYPE_AAC_ADTS = 0x0f;
const START_CODE = Buffer.from([0, 0, 0, 1]);
const AUD_H264 = Buffer.from([0, 0, 0, 1, 0x09, 0xf0]);
const AUD_H265 = Buffer.from([0, 0, 0, 1, 0x46, 0x01, 0x50]);
const TS_MASK = 2 ** 33;

/** CRC-32/MPEG-2 (polynomial 0x04C11DB7, no reflection), Annex A. */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let j = 0; j < 8; j++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32Mpeg2(buf: Buffer, start = 0, end = buf.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ buf[i]!) & 0xff]!) >>> 0;
  return crc >>> 0;
}

export class TsMuxer {
  private readonly cc = new Map<number, number>();
  private readonly videoType: number;
  private readonly parameterSets: Buffer;
  private readonly aac: AacConfig | undefined;
  /**
   * The track's 7-byte ADTS header (for an empty payload), built at the first AAC frame: a config
   * ADTS cannot signal then fails the parts carrying audio, not the whole muxer.
   */
  private adts: Buffer | undefined;

  constructor(readonly tracks: SegmentTracks) {
    const video = tracks.video;
    this.videoType = video?.codec === 'H265' ? STREAM_TYPE_H265 : STREAM_TYPE_H264;
    let sets: Buffer[] = [];
    if (video?.codec === 'H264') {
      const r = parseAvcDecoderConfig(video.config);
      sets = [...r.sps, ...r.pps];
    } else if (video?.codec === 'H265') {
      const r = parseHevcDecoderConfig(video.config);
      sets = [...r.vps, ...r.sps, ...r.pps];
    }
    this.parameterSets = Buffer.concat(sets.flatMap((s) => [START_CODE, s]));
    this.aac = tracks.audio?.codec === 'AAC' ? parseAudioSpecificConfig(tracks.audio.config) : undefined;
  }

  private nextCc(pid: number): number {
    const c = ((this.cc.get(pid) ?? -1) + 1) & 0x0f;
    this.cc.set(pid, c);
    return c;
  }

  /** PAT and PMT (§2.4.4.3, §2.4.4.8), one packet each. */
  tables(): Buffer {
    const pat = Buffer.from([0x00, 0xb0, 0x0d, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xe0 | (PID_PMT >> 8), PID_PMT & 0xff]);
    const streams: number[] = [];
    if (this.tracks.video) streams.push(this.videoType, 0xe0 | (PID_VIDEO >> 8), PID_VIDEO & 0xff, 0xf0, 0x00);
    if (this.aac) streams.push(STREAM_TYPE_AAC_ADTS, 0xe0 | (PID_AUDIO >> 8), PID_AUDIO & 0xff, 0xf0, 0x00);
    const pcrPid = this.tracks.video ? PID_VIDEO : PID_AUDIO;
    const sectionLength = 9 + streams.length + 4;
    const pmt = Buffer.from([0x02, 0xb0 | (sectionLength >> 8), sectionLength & 0xff, 0x00, 0x01, 0xc1, 0x00, 0x00, 0xe0 | (pcrPid >> 8), pcrPid & 0xff, 0xf0, 0x00, ...streams]);
    return Buffer.concat([this.section(0, pat), this.section(PID_PMT, pmt)]);
  }

  private section(pid: number, body: Buffer): Buffer {
    const out = Buffer.alloc(PACKET, 0xff);
    out[0] = 0x47;
    out[1] = 0x40 | (pid >> 8);
    out[2] = pid & 0xff;
    out[3] = 0x10 | this.nextCc(pid);
    out[4] = 0; // pointer_field
    body.copy(out, 5);
    out.writeUInt32BE(crc32Mpeg2(body), 5 + body.length);
    return out;
  }

  /** Transport packets for `frames` (a part or a segment), in order. */
  mux(frames: readonly MediaFrame[]): Buffer {
    const packets: Buffer[] = [];
    for (const f of frames) {
      if (f.kind === FrameKind.Video) {
        if (!this.tracks.video) continue;
        this.packetize(packets, PID_VIDEO, this.videoPes(f), f.dts * 90, f.keyframe);
      } else if (this.aac) {
        this.packetize(packets, PID_AUDIO, this.audioPes(f), this.tracks.video ? -1 : f.dts * 90, false);
      }
    }
    return Buffer.concat(packets);
  }

  private videoPes(f: MediaFrame): Buffer {
    const h265 = this.tracks.video!.codec === 'H265';
    const aud = h265 ? AUD_H265 : AUD_H264;
    const payload = f.payload;
    let size = aud.length + (f.keyframe ? this.parameterSets.length : 0);
    for (let o = 0; o + 4 <= payload.length; ) {
      const n = payload.readUInt32BE(o);
      size += 4 + n;
      o += 4 + n;
    }
    const withDts = f.pts !== f.dts;
    const headerLength = withDts ? 10 : 5;
    const out = Buffer.allocUnsafe(9 + headerLength + size);
    writePesHeader(out, 0xe0, 0, f.pts, withDts ? f.dts : undefined);
    let o = 9 + headerLength;
    o += aud.copy(out, o);
    if (f.keyframe) o += this.parameterSets.copy(out, o);
    for (let p = 0; p + 4 <= payload.length; ) {
      const n = Math.min(payload.readUInt32BE(p), payload.length - p - 4);
      const type = h265 ? (payload[p + 4]! >> 1) & 0x3f : payload[p + 4]! & 0x1f;
      if (n > 0 && type !== (h265 ? 35 : 9)) {
        o += START_CODE.copy(out, o);
        o += payload.copy(out, o, p + 4, p + 4 + n);
      }
      p += 4 + n;
    }
    return out.subarray(0, o);
  }

  private audioPes(f: MediaFrame): Buffer {
    // Only frame_length (13 bits over bytes 3-5, ISO/IEC 14496-3 §1.A.3.2.2) varies per frame.
    const frameLength = 7 + f.payload.length;
    if (frameLength > 0x1fff) buildAdtsHeader(this.aac!, f.payload.length); // throws its "does not fit a frame" error
    this.adts ??= buildAdtsHeader(this.aac!, 0);
    const out = Buffer.allocUnsafe(14 + frameLength);
    writePesHeader(out, 0xc0, 8 + frameLength, f.pts, undefined);
    this.adts.copy(out, 14);
    out[17] = (this.adts[3]! & 0xfc) | (frameLength >> 11);
    out[18] = (frameLength >> 3) & 0xff;
    out[19] = ((frameLength & 7) << 5) | 0x1f;
    f.payload.copy(out, 21);
    return out;
  }

  /** Splits a PES into packets (§2.4.3.2), with PCR and random_access_indicator in the first. */
  private packetize(packets: Buffer[], pid: number, pes: Buffer, pcr: number, randomAccess: boolean): void {
    let pos = 0;
    let first = true;
    while (pos < pes.length) {
      const pkt = Buffer.allocUnsafe(PACKET);
      pkt[0] = 0x47;
      pkt[1] = (first ? 0x40 : 0) | (pid >> 8);
      pkt[2] = pid & 0xff;
      const withPcr = first && pcr >= 0;
      // Adaptation field: length byte + flags (+ 6 bytes PCR).
      let afBody = first && (withPcr || randomAccess) ? 1 + (withPcr ? 6 : 0) : -1;
      const room = PACKET - 4 - (afBody >= 0 ? afBody + 1 : 0);
      const remaining = pes.length - pos;
      let stuffing = 0;
      if (remaining < room) {
        stuffing = room - remaining;
        if (afBody < 0) {
          // An adaptation field just for stuffing: the length byte alone is one byte.
          afBody = stuffing - 1;
          stuffing = 0;
          if (afBody > 0) {
            stuffing = afBody - 1;
            afBody = 1;
          }
        }
      }
      pkt[3] = (afBody >= 0 ? 0x30 : 0x10) | this.nextCc(pid);
      let o = 4;
      if (afBody >= 0) {
        pkt[o++] = afBody + stuffing;
        if (afBody > 0) {
          pkt[o++] = (randomAccess && first ? 0x40 : 0) | (withPcr ? 0x10 : 0);
          if (withPcr) {
            const base = Math.floor(pcr) % TS_MASK;
            pkt[o++] = Math.floor(base / 2 ** 25) & 0xff;
            pkt[o++] = (base >>> 17) & 0xff;
            pkt[o++] = (base >>> 9) & 0xff;
            pkt[o++] = (base >>> 1) & 0xff;
            pkt[o++] = ((base & 1) << 7) | 0x7e;
            pkt[o++] = 0;
          }
        }
        pkt.fill(0xff, o, o + stuffing);
        o += stuffing;
      }
      const n = PACKET - o;
      pes.copy(pkt, o, pos, pos + n);
      pos += n;
      first = false;
      packets.push(pkt);
    }
  }
}

/** PES header (§2.4.3.7) with PTS and optionally DTS, 90 kHz. `length` 0: unbounded (video). */
function writePesHeader(out: Buffer, streamId: number, length: number, pts: number, dts: number | undefined): void {
  out[0] = 0;
  out[1] = 0;
  out[2] = 1;
  out[3] = streamId;
  out.writeUInt16BE(length > 0xffff ? 0 : length, 4);
  out[6] = 0x80;
  out[7] = dts === undefined ? 0x80 : 0xc0;
  out[8] = dts === undefined ? 5 : 10;
  writeTimestamp(out, 9, dts === undefined ? 0x2 : 0x3, pts * 90);
  if (dts !== undefined) writeTimestamp(out, 14, 0x1, dts * 90);
}

function writeTimestamp(out: Buffer, o: number, prefix: number, ts90: number): void {
  const t = Math.round(ts90) % TS_MASK;
  const hi = Math.floor(t / 2 ** 30) & 0x7;
  const mid = Math.floor(t / 2 ** 15) & 0x7fff;
  const lo = t & 0x7fff;
  out[o] = (prefix << 4) | (hi << 1) | 1;
  out[o + 1] = mid >> 7;
  out[o + 2] = ((mid & 0x7f) << 1) | 1;
  out[o + 3] = lo >> 7;
  out[o + 4] = ((lo & 0x7f) << 1) | 1;
}

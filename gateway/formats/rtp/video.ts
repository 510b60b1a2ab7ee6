/**
 * H.264 (RFC 6184) and H.265 (RFC 7798) RTP payloads: packetizing an access unit's NAL units
 * and reassembling access units from packets.
 *
 * Packetizer: consecutive small NAL units are aggregated (STAP-A §5.7.1 / AP §4.4.2), a NAL unit
 * larger than the payload limit is fragmented (FU-A §5.8 / FU §4.4.3), others travel alone
 * (single NAL unit packet §5.6 / §4.4.1). Depacketizer: the same three forms; an access unit
 * ends at the marker bit or when the timestamp changes; a sequence gap discards the access unit
 * in progress and reports the loss, so the caller can wait for the next keyframe instead of
 * feeding a decoder a broken frame.
 */
import type { VideoCodec } from '../../core/media.js';
import type { RtpPacket } from './rtp.js';

const H264_STAP_A = 24;
const H264_FU_A = 28;
const H265_AP = 48;
const H265_FU = 49;

function nalType(codec: VideoCodec, nal: Buffer): number {
  return codec === 'H264' ? nal[0]! & 0x1f : (nal[0]! >> 1) & 0x3f;
}

/**
 * RTP payloads for one access unit, in order (the last one carries the marker bit).
 * Single-NAL payloads are views of the input; aggregates and fragments are new buffers.
 */
export function packetizeVideo(codec: VideoCodec, nalus: readonly Buffer[], maxPayload: number): Buffer[] {
  const hdr = codec === 'H264' ? 1 : 2;
  const out: Buffer[] = [];
  let i = 0;
  while (i < nalus.length) {
    const nal = nalus[i]!;
    if (nal.length === 0) {
      i++;
      continue;
    }
    if (nal.length > maxPayload) {
      fragment(codec, nal, maxPayload, out);
      i++;
      continue;
    }
    // Aggregate as many following NAL units as fit (each costs a 2-byte size field).
    let size = hdr + 2 + nal.length;
    let j = i + 1;
    while (j < nalus.length && nalus[j]!.length > 0 && size + 2 + nalus[j]!.length <= maxPayload) {
      size += 2 + nalus[j]!.length;
      j++;
    }
    if (j - i < 2) {
      out.push(nal);
      i++;
      continue;
    }
    const agg = Buffer.allocUnsafe(size);
    if (codec === 'H264') {
      // F is the OR of the F bits, NRI the maximum NRI (RFC 6184 §5.7.1).
      let f = 0;
      let nri = 0;
      for (let k = i; k < j; k++) {
        f |= nalus[k]![0]! & 0x80;
        nri = Math.max(nri, nalus[k]![0]! & 0x60);
      }
      agg[0] = f | nri | H264_STAP_A;
    } else {
      // Lowest LayerId and TID of the aggregated units (RFC 7798 §4.4.2).
      let layer = 63;
      let tid = 7;
      let f = 0;
      for (let k = i; k < j; k++) {
        const n = nalus[k]!;
        f |= n[0]! & 0x80;
        layer = Math.min(layer, ((n[0]! & 1) << 5) | (n[1]! >> 3));
        tid = Math.min(tid, n[1]! & 7);
      }
      agg[0] = f | (H265_AP << 1) | (layer >> 5);
      agg[1] = ((layer & 0x1f) << 3) | tid;
    }
    let pos = hdr;
    for (let k = i; k < j; k++) {
      const n = nalus[k]!;
      agg.writeUInt16BE(n.length, pos);
      pos += 2 + n.copy(agg, pos + 2);
    }
    out.push(agg);
    i = j;
  }
  return out;
}

function fragment(codec: VideoCodec, nal: Buffer, maxPayload: number, out: Buffer[]): void {
  const hdr = codec === 'H264' ? 1 : 2;
  const fuHeaderSize = hdr + 1;
  const chunk = maxPayload - fuHeaderSize;
  const type = nalType(codec, nal);
  let pos = hdr; // the NAL header is carried in the FU indicator/header, not the payload
  while (pos < nal.length) {
    const take = Math.min(chunk, nal.length - pos);
    const p = Buffer.allocUnsafe(fuHeaderSize + take);
    const start = pos === hdr ? 0x80 : 0;
    const end = pos + take >= nal.length ? 0x40 : 0;
    if (codec === 'H264') {
      p[0] = (nal[0]! & 0xe0) | H264_FU_A;
      p[1] = start | end | type;
    } else {
      p[0] = (nal[0]! & 0x81) | (H265_FU << 1);
      p[1] = nal[1]!;
      p[2] = start | end | type;
    }
    nal.copy(p, fuHeaderSize, pos, pos + take);
    out.push(p);
    pos += take;
  }
}

/** What a video depacketizer reports. */
export interface VideoDepacketizerSink {
  /** A complete access unit: its NAL units (views or fresh buffers) and RTP timestamp. */
  accessUnit(nalus: Buffer[], timestamp: number): void;
  /** Packets were lost or could not be used: the access unit in progress was discarded. */
  lost(reason: string): void;
}

/** Upper bound on one reassembled NAL unit / access unit; past it the unit is discarded as broken. */
const MAX_AU_BYTES = 16 * 1024 * 1024;

/** Reassembles access units from H.264 or H.265 RTP packets. */
export class VideoDepacketizer {
  private nalus: Buffer[] = [];
  private bytes = 0;
  private timestamp = 0;
  private hasTimestamp = false;
  private expectedSeq = -1;
  /** FU reassembly: fragments of the NAL unit in progress. */
  private fu: Buffer[] | undefined;
  private fuBytes = 0;
  /** True after a loss until the access unit in progress ends: its packets are dropped. */
  private broken = false;
  /** Counters for stats (never logged per packet). */
  packets = 0;
  lostPackets = 0;
  unsupportedPackets = 0;

  constructor(
    readonly codec: VideoCodec,
    private readonly sink: VideoDepacketizerSink,
  ) {}

  push(pkt: RtpPacket): void {
    this.packets++;
    if (this.expectedSeq >= 0 && pkt.sequence !== this.expectedSeq) {
      const gap = (pkt.sequence - this.expectedSeq) & 0xffff;
      if (gap > 0x8000) return; // a late or duplicate packet: already given up on
      this.lostPackets += gap;
      this.discard(`${gap} RTP packet(s) lost`);
    }
    this.expectedSeq = (pkt.sequence + 1) & 0xffff;
    if (this.hasTimestamp && pkt.timestamp !== this.timestamp) {
      // A new access unit started without a marker on the previous one.
      this.flush();
      this.broken = false;
    }
    this.timestamp = pkt.timestamp;
    this.hasTimestamp = true;
    if (!this.broken) this.payload(pkt.payload);
    if (pkt.marker) {
      this.flush();
      this.broken = false;
      this.hasTimestamp = false;
    }
  }

  private discard(reason: string): void {
    this.nalus = [];
    this.bytes = 0;
    this.fu = undefined;
    this.fuBytes = 0;
    this.broken = true;
    this.sink.lost(reason);
  }

  private flush(): void {
    if (this.fu) {
      // A fragmented NAL unit without its end: the access unit is incomplete.
      this.discard('fragmented NAL unit without its last fragment');
    }
    if (this.nalus.length > 0 && !this.broken) {
      const nalus = this.nalus;
      this.nalus = [];
      this.bytes = 0;
      this.sink.accessUnit(nalus, this.timestamp);
    }
    this.nalus = [];
    this.bytes = 0;
  }

  private add(nal: Buffer): void {
    if (nal.length === 0) return;
    this.bytes += nal.length;
    if (this.bytes > MAX_AU_BYTES) {
      this.discard(`access unit larger than ${MAX_AU_BYTES} bytes`);
      return;
    }
    this.nalus.push(nal);
  }

  private payload(p: Buffer): void {
    const hdr = this.codec === 'H264' ? 1 : 2;
    if (p.length < hdr) {
      this.discard(`RTP payload of ${p.length} bytes is shorter than a NAL unit header`);
      return;
    }
    const type = nalType(this.codec, p);
    const aggregate = this.codec === 'H264' ? H264_STAP_A : H265_AP;
    const fuType = this.codec === 'H264' ? H264_FU_A : H265_FU;
    if (type === aggregate) {
      let pos = hdr;
      while (pos + 2 <= p.length) {
        const size = p.readUInt16BE(pos);
        pos += 2;
        if (pos + size > p.length) {
          this.discard(`aggregation packet: a ${size}-byte NAL unit runs past the end of the payload`);
          return;
        }
        this.add(p.subarray(pos, pos + size));
        pos += size;
      }
      return;
    }
    if (type === fuType) {
      if (p.length < hdr + 2) {
        this.discard('fragmentation unit without payload');
        return;
      }
      const fuHeader = p[hdr]!;
      const start = (fuHeader & 0x80) !== 0;
      const end = (fuHeader & 0x40) !== 0;
      const innerType = this.codec === 'H264' ? fuHeader & 0x1f : fuHeader & 0x3f;
      const data = p.subarray(hdr + 1);
      if (start) {
        if (this.fu) this.discard('fragmentation unit restarted before its end');
        this.broken = false;
        const header = Buffer.allocUnsafe(hdr);
        if (this.codec === 'H264') header[0] = (p[0]! & 0xe0) | innerType;
        else {
          header[0] = (p[0]! & 0x81) | (innerType << 1);
          header[1] = p[1]!;
        }
        this.fu = [header, data];
        this.fuBytes = hdr + data.length;
      } else if (!this.fu) {
        // A middle or end fragment whose start we never saw.
        this.discard('fragmentation unit without its first fragment');
        return;
      } else {
        this.fu.push(data);
        this.fuBytes += data.length;
        if (this.fuBytes > MAX_AU_BYTES) {
          this.discard(`fragmented NAL unit larger than ${MAX_AU_BYTES} bytes`);
          return;
        }
      }
      if (end) {
        const nal = Buffer.concat(this.fu!, this.fuBytes);
        this.fu = undefined;
        this.fuBytes = 0;
        this.add(nal);
      }
      return;
    }
    if ((this.codec === 'H264' && type >= 1 && type <= 23) || (this.codec === 'H265' && type < 48)) {
      this.add(p);
      return;
    }
    // STAP-B, MTAP, FU-B (H.264) or PACI (H.265): not used by the cameras and encoders we serve.
    this.unsupportedPackets++;
    this.discard(`unsupported ${this.codec} RTP packet type ${type}`);
  }
}

/**
 * Audio RTP payloads: AAC as RFC 3640 mpeg4-generic AAC-hbr (§3.3.6: 13-bit AU-size, 3-bit
 * AU-Index/AU-Index-delta), G.711 PCMA/PCMU (RFC 3551 §4.5.14, one byte per sample), and Opus
 * (RFC 7587 §4.2: exactly one Opus packet per RTP payload, 48 kHz RTP clock).
 */
import type { RtpPacket } from './rtp.js';

/** AAC samples per access unit (AAC-LC frame length; RFC 3640 timestamps step by it). */
export const AAC_SAMPLES_PER_AU = 1024;

export interface AacPayloadParams {
  readonly sizeLength: number;
  readonly indexLength: number;
  readonly indexDeltaLength: number;
}

export const AAC_HBR: AacPayloadParams = { sizeLength: 13, indexLength: 3, indexDeltaLength: 3 };

/**
 * RTP payloads for consecutive AAC access units (AAC-hbr). Units are aggregated while they fit
 * (§3.2.3.1); a unit larger than the limit is fragmented over packets that each repeat its AU
 * header (§3.2.3.2). Returns each payload with the index of its first unit, so the caller can
 * set the RTP timestamp (first unit's) and the marker (set on every packet except non-final
 * fragments).
 */
export function packetizeAac(aus: readonly Buffer[], maxPayload: number): { payload: Buffer; firstAu: number; last: boolean }[] {
  const out: { payload: Buffer; firstAu: number; last: boolean }[] = [];
  let i = 0;
  while (i < aus.length) {
    const au = aus[i]!;
    if (4 + au.length > maxPayload) {
      const chunk = maxPayload - 4;
      for (let pos = 0; pos < au.length; pos += chunk) {
        const take = Math.min(chunk, au.length - pos);
        const p = Buffer.allocUnsafe(4 + take);
        p.writeUInt16BE(16, 0);
        p.writeUInt16BE((au.length << 3) & 0xffff, 2);
        au.copy(p, 4, pos, pos + take);
        out.push({ payload: p, firstAu: i, last: pos + take >= au.length });
      }
      i++;
      continue;
    }
    let j = i + 1;
    let size = 4 + au.length;
    while (j < aus.length && size + 2 + aus[j]!.length <= maxPayload) {
      size += 2 + aus[j]!.length;
      j++;
    }
    const n = j - i;
    const p = Buffer.allocUnsafe(2 + 2 * n + (size - 4 - 2 * (n - 1)));
    p.writeUInt16BE(16 * n, 0);
    let pos = 2;
    for (let k = i; k < j; k++) {
      // AU-size (13 bits) then AU-Index / AU-Index-delta = 0 (3 bits): consecutive units.
      p.writeUInt16BE((aus[k]!.length << 3) & 0xffff, pos);
      pos += 2;
    }
    for (let k = i; k < j; k++) pos += aus[k]!.copy(p, pos);
    out.push({ payload: p.subarray(0, pos), firstAu: i, last: true });
    i = j;
  }
  return out;
}

function readBits(buf: Buffer, bitOffset: number, count: number): number {
  let value = 0;
  for (let i = 0; i < count; i++) {
    const bit = bitOffset + i;
    value = value * 2 + ((buf[bit >> 3]! >> (7 - (bit & 7))) & 1);
  }
  return value;
}

export interface AudioDepacketizerSink {
  /** One access unit (AAC raw_data_block, G.711 samples or one Opus packet) with its RTP timestamp. */
  frame(payload: Buffer, timestamp: number): void;
  lost(reason: string): void;
}

/** Largest reassembled AAC unit accepted (the AU-size field caps hbr at 8191 anyway). */
const MAX_AAC_AU = 1 << 16;

/** Access units from RFC 3640 AAC packets, fragments reassembled. */
export class AacDepacketizer {
  private fragments: Buffer[] | undefined;
  private fragmentBytes = 0;
  private fragmentSize = 0;
  private fragmentTimestamp = 0;
  private expectedSeq = -1;
  packets = 0;
  lostPackets = 0;

  constructor(
    private readonly params: AacPayloadParams,
    private readonly sink: AudioDepacketizerSink,
  ) {}

  push(pkt: RtpPacket): void {
    this.packets++;
    if (this.expectedSeq >= 0 && pkt.sequence !== this.expectedSeq) {
      const gap = (pkt.sequence - this.expectedSeq) & 0xffff;
      if (gap > 0x8000) return;
      this.lostPackets += gap;
      this.fragments = undefined;
      this.sink.lost(`${gap} RTP packet(s) lost`);
    }
    this.expectedSeq = (pkt.sequence + 1) & 0xffff;
    const p = pkt.payload;
    if (p.length < 2) return this.bad('AAC payload shorter than its AU-headers-length');
    const headersBits = p.readUInt16BE(0);
    const headersBytes = Math.ceil(headersBits / 8);
    if (2 + headersBytes > p.length) return this.bad('AAC AU headers run past the end of the payload');
    const { sizeLength, indexLength, indexDeltaLength } = this.params;
    if (sizeLength === 0) return this.bad('AAC payload without AU-size is not supported');
    const sizes: number[] = [];
    let bit = 0;
    const headers = p.subarray(2, 2 + headersBytes);
    while (bit + sizeLength <= headersBits && sizes.length < 64) {
      sizes.push(readBits(headers, bit, sizeLength));
      bit += sizeLength + (sizes.length === 1 ? indexLength : indexDeltaLength);
    }
    let pos = 2 + headersBytes;
    if (this.fragments) {
      // Continuation of a fragmented unit: one AU header repeating the full size (§3.2.3.2).
      if (pkt.timestamp !== this.fragmentTimestamp || sizes.length !== 1 || sizes[0] !== this.fragmentSize) {
        this.fragments = undefined;
        this.sink.lost('AAC fragment does not continue the unit in progress');
      } else {
        this.fragments.push(p.subarray(pos));
        this.fragmentBytes += p.length - pos;
        if (this.fragmentBytes >= this.fragmentSize || pkt.marker) {
          const au = Buffer.concat(this.fragments, this.fragmentBytes);
          this.fragments = undefined;
          if (au.length !== this.fragmentSize) return this.bad(`AAC fragments add up to ${au.length} bytes, the AU header says ${this.fragmentSize}`);
          this.sink.frame(au, this.fragmentTimestamp);
        }
        return;
      }
    }
    for (let k = 0; k < sizes.length; k++) {
      const size = sizes[k]!;
      if (pos + size > p.length) {
        if (sizes.length === 1 && !pkt.marker && size <= MAX_AAC_AU) {
          this.fragments = [p.subarray(pos)];
          this.fragmentBytes = p.length - pos;
          this.fragmentSize = size;
          this.fragmentTimestamp = pkt.timestamp;
          return;
        }
        return this.bad(`AAC unit of ${size} bytes runs past the end of the payload`);
      }
      this.sink.frame(p.subarray(pos, pos + size), (pkt.timestamp + k * AAC_SAMPLES_PER_AU) >>> 0);
      pos += size;
    }
  }

  private bad(reason: string): void {
    this.fragments = undefined;
    this.sink.lost(reason);
  }
}

/** G.711 payloads of at most `maxPayload` samples (one byte each per channel), with sample offsets. */
export function packetizeG711(samples: Buffer, maxPayload: number, channels = 1): { payload: Buffer; offset: number }[] {
  const out: { payload: Buffer; offset: number }[] = [];
  const step = maxPayload - (maxPayload % channels);
  for (let pos = 0; pos < samples.length; pos += step) {
    out.push({ payload: samples.subarray(pos, Math.min(samples.length, pos + step)), offset: pos / channels });
  }
  return out;
}

/** G.711 frames: each packet is a frame (a loss is just a gap: audio needs no keyframe). */
export class G711Depacketizer {
  private expectedSeq = -1;
  packets = 0;
  lostPackets = 0;

  constructor(private readonly sink: AudioDepacketizerSink) {}

  push(pkt: RtpPacket): void {
    this.packets++;
    if (this.expectedSeq >= 0 && pkt.sequence !== this.expectedSeq) {
      const gap = (pkt.sequence - this.expectedSeq) & 0xffff;
      if (gap > 0x8000) return;
      this.lostPackets += gap;
    }
    this.expectedSeq = (pkt.sequence + 1) & 0xffff;
    if (pkt.payload.length > 0) this.sink.frame(pkt.payload, pkt.timestamp);
  }
}

/** RTP clock of Opus whatever the coded bandwidth (RFC 7587 §4.1). */
export const OPUS_CLOCK_RATE = 48000;

/**
 * The RTP payload of one Opus packet: the packet itself (RFC 7587 §4.2: one packet per RTP
 * payload, never fragmented or aggregated; a sender that wants fewer packets uses longer frames
 * or the packet's own multi-frame code 3 of RFC 6716 §3.2.5). Shaped like the other helpers.
 */
export function packetizeOpus(packet: Buffer): Buffer {
  return packet;
}

/**
 * Opus packets from RFC 7587 RTP packets: each payload is one Opus packet. An empty payload is
 * not a valid Opus packet (RFC 6716 §3.4 R1: at least one byte) and is counted, not forwarded.
 * Losses leave a gap (the decoder conceals it; audio needs no keyframe).
 */
export class OpusDepacketizer {
  private expectedSeq = -1;
  packets = 0;
  lostPackets = 0;
  badPackets = 0;

  constructor(private readonly sink: AudioDepacketizerSink) {}

  push(pkt: RtpPacket): void {
    this.packets++;
    if (this.expectedSeq >= 0 && pkt.sequence !== this.expectedSeq) {
      const gap = (pkt.sequence - this.expectedSeq) & 0xffff;
      if (gap > 0x8000) return; // late or duplicate
      this.lostPackets += gap;
    }
    this.expectedSeq = (pkt.sequence + 1) & 0xffff;
    if (pkt.payload.length === 0) {
      this.badPackets++;
      this.sink.lost('empty Opus payload');
      return;
    }
    this.sink.frame(pkt.payload, pkt.timestamp);
  }
}

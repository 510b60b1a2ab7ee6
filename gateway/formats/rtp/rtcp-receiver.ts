/**
 * The receiver's side of RTCP, for any protocol that takes RTP in over UDP: per-source
 * reception statistics (RFC 3550 §A.1 sequence counting, §A.3 loss, §A.8 jitter) written as
 * receiver report blocks, and the feedback a receiver asks with: generic NACK (RFC 4585
 * §6.2.1) and picture loss indication (§6.3.1). Counting is per packet and allocation-free;
 * the builders allocate one small buffer per report or request, never per packet.
 */

import { compactNtp, writeNtp } from './rtp.js';

/** Sequence jumps beyond this are a restarted sender, not loss (RFC 3550 §A.1 MAX_DROPOUT). */
const MAX_DROPOUT = 3000;

/** Reception statistics of one RTP source, and its receiver report block. */
export class RtpReceiverStats {
  /** The source's SSRC, from its first packet (-1 before). */
  ssrc = -1;
  received = 0;
  private baseSeq = 0;
  private maxSeq = 0;
  private cycles = 0;
  private jitter = 0;
  private lastArrival = 0;
  private lastTimestamp = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;
  /** The middle 32 bits of the last sender report's NTP time, and when it arrived (ms). */
  private lsr = 0;
  private lsrAt = 0;

  constructor(private readonly clockRate: number) {}

  /** One RTP packet arrived at `nowMs`. */
  packet(ssrc: number, sequence: number, timestamp: number, nowMs: number): void {
    const arrival = (nowMs * this.clockRate) / 1000;
    if (this.received === 0 || ssrc !== this.ssrc) {
      this.restart(ssrc, sequence);
    } else {
      const delta = ((sequence - this.maxSeq) << 16) >> 16;
      if (delta > 0) {
        if (delta > MAX_DROPOUT) {
          this.restart(ssrc, sequence);
        } else {
          if (sequence < this.maxSeq) this.cycles += 0x10000;
          this.maxSeq = sequence;
        }
      }
      // Interarrival jitter: how much the transit time varies, in timestamp units.
      const d = Math.abs(arrival - this.lastArrival - ((timestamp - this.lastTimestamp) | 0));
      this.jitter += (d - this.jitter) / 16;
    }
    this.received++;
    this.lastArrival = arrival;
    this.lastTimestamp = timestamp;
  }

  /** The source's sender report arrived: `lsr` is the middle 32 bits of its NTP time. */
  senderReport(lsr: number, nowMs: number): void {
    this.lsr = lsr >>> 0;
    this.lsrAt = nowMs;
  }

  /** Packets expected but never received, since the first one (may be negative with duplicates). */
  get lost(): number {
    return this.received === 0 ? 0 : this.cycles + this.maxSeq - this.baseSeq + 1 - this.received;
  }

  /**
   * Writes the 24-byte report block at `offset` and starts the next interval (the fraction
   * lost is over the packets expected since the last block).
   */
  writeBlock(out: Buffer, offset: number, nowMs: number): void {
    const extendedMax = this.cycles + this.maxSeq;
    const expected = extendedMax - this.baseSeq + 1;
    const expectedInterval = expected - this.expectedPrior;
    const receivedInterval = this.received - this.receivedPrior;
    this.expectedPrior = expected;
    this.receivedPrior = this.received;
    const lostInterval = expectedInterval - receivedInterval;
    const fraction = expectedInterval <= 0 || lostInterval <= 0 ? 0 : Math.min(255, Math.floor((lostInterval * 256) / expectedInterval));
    const lost = Math.max(-0x800000, Math.min(0x7fffff, expected - this.received));
    out.writeUInt32BE(this.ssrc >>> 0, offset);
    out[offset + 4] = fraction;
    out.writeIntBE(lost, offset + 5, 3);
    out.writeUInt32BE(extendedMax >>> 0, offset + 8);
    out.writeUInt32BE(Math.floor(this.jitter) >>> 0, offset + 12);
    out.writeUInt32BE(this.lsr, offset + 16);
    // DLSR in 1/65536 s; 0 while no sender report came.
    out.writeUInt32BE(this.lsrAt > 0 ? Math.floor(((nowMs - this.lsrAt) * 65536) / 1000) >>> 0 : 0, offset + 20);
  }

  private restart(ssrc: number, sequence: number): void {
    this.ssrc = ssrc;
    this.baseSeq = sequence;
    this.maxSeq = sequence;
    this.cycles = 0;
    this.received = 0;
    this.expectedPrior = 0;
    this.receivedPrior = 0;
    this.jitter = 0;
  }
}

function rtcpHeader(out: Buffer, countOrFormat: number, type: number, words: number, senderSsrc: number): void {
  out[0] = 0x80 | countOrFormat;
  out[1] = type;
  out.writeUInt16BE(words - 1, 2);
  out.writeUInt32BE(senderSsrc >>> 0, 4);
}

/**
 * A receiver report (RFC 3550 §6.4.2) with one block per source that has sent something; with
 * `referenceTime`, followed by an extended report with our NTP time (RFC 3611 §4.4, RRTR): a
 * sender that answers with a DLRR block (§4.5; libwebrtc does) gives a receive-only peer its
 * round-trip time (rttFromXr).
 */
export function buildRtcpReport(senderSsrc: number, sources: readonly RtpReceiverStats[], nowMs: number, referenceTime = false): Buffer {
  const live = sources.filter((s) => s.received > 0).slice(0, 31);
  const rrBytes = 8 + 24 * live.length;
  const out = Buffer.alloc(rrBytes + (referenceTime ? 20 : 0));
  rtcpHeader(out, live.length, 201, 2 + 6 * live.length, senderSsrc);
  live.forEach((s, i) => s.writeBlock(out, 8 + 24 * i, nowMs));
  if (referenceTime) {
    rtcpHeader(out.subarray(rrBytes), 0, 207, 5, senderSsrc);
    out[rrBytes + 8] = 4; // block type: receiver reference time
    out.writeUInt16BE(2, rrBytes + 10);
    writeNtp(out, rrBytes + 12, nowMs);
  }
  return out;
}

/**
 * The round-trip time (ms) in an extended report (RTCP XR, PT 207) at `offset`: its DLRR block's
 * entry for `ourSsrc` (RFC 3611 §4.5: now - LRR - DLRR), or -1 when it has none.
 */
export function rttFromXr(buf: Buffer, offset: number, length: number, ourSsrc: number, nowMs: number): number {
  const end = offset + length;
  let pos = offset + 8;
  while (pos + 4 <= end) {
    const type = buf[pos]!;
    const blockEnd = pos + 4 + buf.readUInt16BE(pos + 2) * 4;
    if (blockEnd > end) return -1;
    if (type === 5) {
      for (let sub = pos + 4; sub + 12 <= blockEnd; sub += 12) {
        const lrr = buf.readUInt32BE(sub + 4);
        if (buf.readUInt32BE(sub) !== ourSsrc >>> 0 || lrr === 0) continue;
        const rtt = (compactNtp(nowMs) - lrr - buf.readUInt32BE(sub + 8)) >>> 0;
        return rtt < 0x80000000 ? (rtt * 1000) / 65536 : 0; // a report from the future: our clock's rounding
      }
    }
    pos = blockEnd;
  }
  return -1;
}

/**
 * A generic NACK (RFC 4585 §6.2.1) for `count` packets from sequence number `first`: one FCI
 * entry per 17 packets (a PID and a bitmask of the 16 after it).
 */
export function buildRtcpNack(senderSsrc: number, mediaSsrc: number, first: number, count: number): Buffer {
  const entries = Math.ceil(count / 17);
  const out = Buffer.alloc(12 + 4 * entries);
  rtcpHeader(out, 1, 205, 3 + entries, senderSsrc);
  out.writeUInt32BE(mediaSsrc >>> 0, 8);
  for (let e = 0; e < entries; e++) {
    const pid = (first + e * 17) & 0xffff;
    const inEntry = Math.min(17, count - e * 17);
    let blp = 0;
    for (let b = 1; b < inEntry; b++) blp |= 1 << (b - 1);
    out.writeUInt16BE(pid, 12 + 4 * e);
    out.writeUInt16BE(blp, 14 + 4 * e);
  }
  return out;
}

/** A picture loss indication (RFC 4585 §6.3.1): the sender should send a keyframe. */
export function buildRtcpPli(senderSsrc: number, mediaSsrc: number): Buffer {
  const out = Buffer.alloc(12);
  rtcpHeader(out, 1, 206, 3, senderSsrc);
  out.writeUInt32BE(mediaSsrc >>> 0, 8);
  return out;
}

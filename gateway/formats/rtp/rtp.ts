/**
 * RTP packets (RFC 3550 §5.1) and RTCP sender reports (§6.4.1): parsing what peers send and
 * writing what the gateway sends. Pure functions over Buffers.
 */
import { ProtocolError } from '../../core/errors.js';

export const RTP_HEADER_SIZE = 12;
/** Largest RTP payload the packetizers produce: an RTP packet then fits a 1500-byte Ethernet MTU over UDP/IPv4. */
export const DEFAULT_MAX_PAYLOAD = 1400;

/** A parsed RTP packet; `payload` is a view into the input. */
export interface RtpPacket {
  marker: boolean;
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
}

/**
 * Parses an RTP packet (CSRC list, header extension and padding skipped). Throws ProtocolError
 * when the packet is not RTP version 2 or is truncated.
 */
export function parseRtp(buf: Buffer): RtpPacket {
  if (buf.length < RTP_HEADER_SIZE) throw new ProtocolError('rtp', `truncated RTP packet: ${buf.length} bytes, the header alone is 12`);
  const b0 = buf[0]!;
  if (b0 >> 6 !== 2) throw new ProtocolError('rtp', `not an RTP packet: version ${b0 >> 6}, expected 2`);
  let offset = RTP_HEADER_SIZE + (b0 & 0x0f) * 4;
  if (b0 & 0x10) {
    if (buf.length < offset + 4) throw new ProtocolError('rtp', 'truncated RTP packet: header extension cut off');
    offset += 4 + buf.readUInt16BE(offset + 2) * 4;
  }
  let end = buf.length;
  if (b0 & 0x20) {
    const padding = buf[buf.length - 1]!;
    end -= padding;
  }
  if (offset > end) throw new ProtocolError('rtp', `truncated RTP packet: ${buf.length} bytes, header and padding need ${offset + buf.length - end}`);
  return {
    marker: (buf[1]! & 0x80) !== 0,
    payloadType: buf[1]! & 0x7f,
    sequence: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    payload: buf.subarray(offset, end),
  };
}

/** Writes a 12-byte RTP header at `offset`. */
export function writeRtpHeader(out: Buffer, offset: number, marker: boolean, payloadType: number, sequence: number, timestamp: number, ssrc: number): void {
  out[offset] = 0x80;
  out[offset + 1] = (marker ? 0x80 : 0) | payloadType;
  out.writeUInt16BE(sequence & 0xffff, offset + 2);
  out.writeUInt32BE(timestamp >>> 0, offset + 4);
  out.writeUInt32BE(ssrc >>> 0, offset + 8);
}

/** A whole RTP packet (header + payload), for tests and the client's rare sends. */
export function buildRtp(p: Omit<RtpPacket, 'payload'>, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(RTP_HEADER_SIZE + payload.length);
  writeRtpHeader(out, 0, p.marker, p.payloadType, p.sequence, p.timestamp, p.ssrc);
  payload.copy(out, RTP_HEADER_SIZE);
  return out;
}

export const RTCP_SR_SIZE = 28;

/** Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
const NTP_UNIX_OFFSET_S = 2208988800;

/** Writes `ms` (Unix ms) as a 64-bit NTP timestamp at `offset`: seconds since 1900 and a 32-bit fraction. */
export function writeNtp(out: Buffer, offset: number, ms: number): void {
  const seconds = Math.floor(ms / 1000);
  out.writeUInt32BE((seconds + NTP_UNIX_OFFSET_S) >>> 0, offset);
  out.writeUInt32BE(Math.floor(((ms - seconds * 1000) / 1000) * 0x100000000) >>> 0, offset + 4);
}

/** Reads the 64-bit NTP timestamp at `offset` as Unix ms. */
export function readNtp(buf: Buffer, offset: number): number {
  return (buf.readUInt32BE(offset) - NTP_UNIX_OFFSET_S) * 1000 + (buf.readUInt32BE(offset + 4) / 0x100000000) * 1000;
}

/** The middle 32 bits of the NTP time of `ms` (units of 1/65536 s): what LSR and LRR echo. */
export function compactNtp(ms: number): number {
  const seconds = Math.floor(ms / 1000);
  return ((((seconds + NTP_UNIX_OFFSET_S) & 0xffff) << 16) | Math.floor(((ms - seconds * 1000) * 65536) / 1000)) >>> 0;
}

/**
 * Writes an RTCP sender report with no report blocks (RFC 3550 §6.4.1) at `offset`.
 * `ntpMs` is wall-clock milliseconds since the Unix epoch.
 */
export function writeRtcpSenderReport(out: Buffer, offset: number, ssrc: number, ntpMs: number, rtpTimestamp: number, packets: number, octets: number): void {
  out[offset] = 0x80;
  out[offset + 1] = 200;
  out.writeUInt16BE(6, offset + 2);
  out.writeUInt32BE(ssrc >>> 0, offset + 4);
  writeNtp(out, offset + 8, ntpMs);
  out.writeUInt32BE(rtpTimestamp >>> 0, offset + 16);
  out.writeUInt32BE(packets >>> 0, offset + 20);
  out.writeUInt32BE(octets >>> 0, offset + 24);
}

/** What a sender report says: this RTP timestamp was sampled at this wall-clock time. */
export interface SenderReport {
  readonly ssrc: number;
  /** The sender's wall clock, ms since the Unix epoch (from the 64-bit NTP timestamp). */
  readonly ntpMs: number;
  readonly rtpTimestamp: number;
}

/** The sender report at `offset` (type 200, at least RTCP_SR_SIZE bytes: the caller checked). */
export function readSenderReport(buf: Buffer, offset: number): SenderReport {
  return { ssrc: buf.readUInt32BE(offset + 4), ntpMs: readNtp(buf, offset + 8), rtpTimestamp: buf.readUInt32BE(offset + 16) };
}

/**
 * The sender reports in an RTCP compound packet (RFC 3550 §6.1, §6.4.1); other packet types
 * are skipped. Stops quietly at the first malformed length: RTCP is advisory, never fatal.
 */
export function parseRtcpSenderReports(buf: Buffer): SenderReport[] {
  const reports: SenderReport[] = [];
  let pos = 0;
  while (pos + 4 <= buf.length) {
    if (buf[pos]! >> 6 !== 2) break;
    const length = (buf.readUInt16BE(pos + 2) + 1) * 4;
    if (pos + length > buf.length) break;
    if (buf[pos + 1] === 200 && length >= RTCP_SR_SIZE) reports.push(readSenderReport(buf, pos));
    pos += length;
  }
  return reports;
}

/** What a receiver told a sender in RTCP (counters a session keeps, updated in place). */
export interface RtcpFeedback {
  /** Generic NACK packets (RFC 4585 §6.2.1) and the RTP packets they asked for again. */
  nacks: number;
  nackedPackets: number;
  /** Picture loss indications (RFC 4585 §6.3.1) and full intra requests (RFC 5104 §4.3.1). */
  plis: number;
  firs: number;
  /** From the latest report block about one of our SSRCs (RFC 3550 §6.4.1). */
  fractionLost: number;
  packetsLost: number;
  jitter: number;
  /** LSR and DLSR of that block (for the round trip: now - LSR - DLSR). */
  lastSr: number;
  delaySinceLastSr: number;
  reports: number;
}

export function emptyRtcpFeedback(): RtcpFeedback {
  return { nacks: 0, nackedPackets: 0, plis: 0, firs: 0, fractionLost: 0, packetsLost: 0, jitter: 0, lastSr: 0, delaySinceLastSr: 0, reports: 0 };
}

/**
 * Adds what an RTCP compound packet from a receiver says to `fb`: receiver/sender report blocks
 * (types 200/201), generic NACKs (205 FMT 1), PLI and FIR (206 FMT 1 and 4). Returns true when
 * it asked for a keyframe (PLI or FIR). Stops quietly at the first malformed length.
 */
export function readRtcpFeedback(buf: Buffer, fb: RtcpFeedback): boolean {
  let keyframe = false;
  let pos = 0;
  while (pos + 4 <= buf.length) {
    const first = buf[pos]!;
    if (first >> 6 !== 2) break;
    const length = (buf.readUInt16BE(pos + 2) + 1) * 4;
    if (pos + length > buf.length) break;
    const type = buf[pos + 1]!;
    const count = first & 0x1f;
    if (type === 200 || type === 201) {
      const blocks = pos + (type === 200 ? 28 : 8);
      if (count > 0 && blocks + 24 <= pos + length) {
        const b = blocks;
        fb.fractionLost = buf[b + 4]! / 256;
        fb.packetsLost = buf.readIntBE(b + 5, 3);
        fb.jitter = buf.readUInt32BE(b + 12);
        fb.lastSr = buf.readUInt32BE(b + 16);
        fb.delaySinceLastSr = buf.readUInt32BE(b + 20);
        fb.reports++;
      }
    } else if (type === 205 && count === 1) {
      fb.nacks++;
      // FCI: PID (16 bits) and a bitmask of the 16 following packets.
      for (let f = pos + 12; f + 4 <= pos + length; f += 4) {
        let blp = buf.readUInt16BE(f + 2);
        let n = 1;
        while (blp) {
          n += blp & 1;
          blp >>= 1;
        }
        fb.nackedPackets += n;
      }
    } else if (type === 206 && count === 1) {
      fb.plis++;
      keyframe = true;
    } else if (type === 206 && count === 4) {
      fb.firs++;
      keyframe = true;
    }
    pos += length;
  }
  return keyframe;
}

/** Calls `fn` for each packet of an RTCP compound packet (type, count/FMT, offset, length); stops at a bad length. */
export function forEachRtcp(buf: Buffer, fn: (type: number, count: number, offset: number, length: number) => void): void {
  let pos = 0;
  while (pos + 4 <= buf.length && buf[pos]! >> 6 === 2) {
    const length = (buf.readUInt16BE(pos + 2) + 1) * 4;
    if (pos + length > buf.length) return;
    fn(buf[pos + 1]!, buf[pos]! & 0x1f, pos, length);
    pos += length;
  }
}

/** The middle 32 bits of the NTP timestamp in an RTCP sender report at `offset`: what receivers echo as LSR. */
export function senderReportLsr(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset + 10);
}

/** An RTCP receiver report with no blocks: what a receiver sends to keep NATs and cameras happy. */
export function buildRtcpReceiverReport(ssrc: number): Buffer {
  const out = Buffer.alloc(8);
  out[0] = 0x80;
  out[1] = 201;
  out.writeUInt16BE(1, 2);
  out.writeUInt32BE(ssrc >>> 0, 4);
  return out;
}

/**
 * Extends 32-bit RTP timestamps to a monotonic-ish number line: each step is the signed 32-bit
 * difference from the previous timestamp, so wraparound is continuous and B-frames may step back.
 */
export class TimestampUnwrapper {
  private last: number | undefined;
  private extended = 0;

  unwrap(timestamp: number): number {
    if (this.last === undefined) {
      this.last = timestamp;
      this.extended = 0;
      return 0;
    }
    const diff = (timestamp - this.last) | 0;
    this.last = timestamp;
    this.extended += diff;
    return this.extended;
  }
}

/** Packets a reorderer holds at most while waiting for a missing one. */
export const REORDER_MAX_PACKETS = 64;
/** How long a reorderer waits for a missing packet before letting the ones after it go. */
export const REORDER_MAX_WAIT_MS = 40;

export interface ReorderOptions {
  /** How long to wait for a missing packet (ms; REORDER_MAX_WAIT_MS by default). */
  readonly maxWaitMs?: number;
  /** How many packets to hold at most while waiting (REORDER_MAX_PACKETS by default). */
  readonly maxPackets?: number;
  /**
   * Called once for each run of packets first seen missing (`count` sequence numbers from
   * `first`): where a receiver asks for them again (RTCP NACK). Not called for a jump of
   * `maxPackets` or more (a burst of loss or a restarted sender: not worth asking for).
   */
  readonly onMissing?: (first: number, count: number) => void;
}

/**
 * Puts RTP packets that came over UDP back in sequence order (RFC 3550 §A.1 sequence
 * arithmetic). A packet that arrives after its successors is held until the gap fills, at most
 * `maxWaitMs` (checked as packets arrive) or `maxPackets`; then the gap is given up and the
 * depacketizer sees it as loss. Late duplicates and packets from before the window are dropped
 * and counted. With `onMissing`, a gap is reported as it opens, so the receiver can NACK it and
 * the retransmission fills it before the wait runs out. TCP delivers in order and needs none
 * of this.
 */
export class RtpReorderer {
  /** Packets that came after a later one had gone out: out of order, and too late to use. */
  late = 0;
  /** Packets that arrived ahead of a missing one and were held for it. */
  reordered = 0;
  /** Missing packets that arrived in time after all (reordered, or retransmitted on a NACK). */
  recovered = 0;
  private expected = -1;
  /** The highest sequence number seen: packets beyond it open a new gap. */
  private highest = -1;
  private readonly slots: (RtpPacket | undefined)[];
  private readonly maxWaitMs: number;
  private readonly onMissing: ((first: number, count: number) => void) | undefined;
  private held = 0;
  /** When the oldest held packet arrived (ms, caller's clock). */
  private heldSince = 0;

  constructor(
    private readonly deliver: (pkt: RtpPacket) => void,
    opts: ReorderOptions = {},
  ) {
    this.slots = new Array<RtpPacket | undefined>(opts.maxPackets ?? REORDER_MAX_PACKETS);
    this.maxWaitMs = opts.maxWaitMs ?? REORDER_MAX_WAIT_MS;
    this.onMissing = opts.onMissing;
  }

  push(pkt: RtpPacket, nowMs: number): void {
    if (this.expected < 0) {
      this.expected = pkt.sequence;
      this.highest = (pkt.sequence - 1) & 0xffff;
    }
    const ahead = ((pkt.sequence - this.expected) << 16) >> 16; // signed 16-bit distance
    if (ahead < 0) {
      this.late++;
      return;
    }
    const size = this.slots.length;
    const beyond = ((pkt.sequence - this.highest) << 16) >> 16;
    if (beyond > 0) {
      if (beyond > 1 && ahead < size) this.onMissing?.((this.highest + 1) & 0xffff, beyond - 1);
      this.highest = pkt.sequence;
    } else {
      this.recovered++; // between the next expected and the highest: it was missing, and came in time
    }
    if (ahead === 0) {
      this.emit(pkt);
      if (this.held > 0) {
        this.drainInOrder();
        if (this.held > 0) this.heldSince = nowMs; // the next gap waits from now
      }
      return;
    }
    if (ahead >= size) {
      // Far ahead (a burst of loss, or the sender restarted): let everything held go, then this.
      this.flushAll();
      this.expected = pkt.sequence;
      this.emit(pkt);
      return;
    }
    const slot = pkt.sequence % size;
    if (this.slots[slot] !== undefined) {
      this.late++; // a duplicate of one already held
      if (beyond <= 0) this.recovered--;
      return;
    }
    if (this.held === 0) this.heldSince = nowMs;
    this.slots[slot] = pkt;
    this.held++;
    this.reordered++;
    if (nowMs - this.heldSince > this.maxWaitMs) {
      this.skipGap();
      if (this.held > 0) this.heldSince = nowMs;
    }
  }

  /**
   * The runs of sequence numbers still missing while packets wait for them (`count` from
   * `first`), once the oldest has waited `minAgeMs`: where a receiver asks again for what its
   * first NACK did not bring (the request or the retransmission was lost too).
   */
  forEachMissing(nowMs: number, minAgeMs: number, visit: (first: number, count: number) => void): void {
    if (this.held === 0 || nowMs - this.heldSince < minAgeMs) return;
    const size = this.slots.length;
    let first = -1;
    let count = 0;
    for (let seq = this.expected; seq !== this.highest; seq = (seq + 1) & 0xffff) {
      const pkt = this.slots[seq % size];
      if (pkt !== undefined && pkt.sequence === seq) {
        if (count > 0) visit(first, count);
        count = 0;
      } else if (count++ === 0) {
        first = seq;
      }
    }
    if (count > 0) visit(first, count);
  }

  private emit(pkt: RtpPacket): void {
    this.expected = (pkt.sequence + 1) & 0xffff;
    this.deliver(pkt);
  }

  /** Sends held packets that are next in sequence. */
  private drainInOrder(): void {
    while (this.held > 0) {
      const slot = this.expected % this.slots.length;
      const next = this.slots[slot];
      if (next === undefined || next.sequence !== this.expected) return;
      this.slots[slot] = undefined;
      this.held--;
      this.emit(next);
    }
  }

  /** Gives up on the missing packet: continues from the oldest held one. */
  private skipGap(): void {
    while (this.held > 0) {
      this.expected = (this.expected + 1) & 0xffff;
      const slot = this.expected % this.slots.length;
      const next = this.slots[slot];
      if (next !== undefined && next.sequence === this.expected) {
        this.drainInOrder();
        return;
      }
    }
  }

  private flushAll(): void {
    while (this.held > 0) this.skipGap();
  }
}

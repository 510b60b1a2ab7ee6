/**
 * Transport-wide congestion control feedback, the receiver's half
 * (draft-holmer-rmcat-transport-wide-cc-extensions-01): every RTP packet of a bundle carries a
 * transport-wide sequence number in a header extension; the receiver reports when each one
 * arrived, and the sender's congestion controller (Chromium's GCC) estimates the bandwidth from
 * the delay between them. Without it a browser publisher has only loss to go by and climbs
 * about 8 % a second from 300 kbps; with it, it probes and reaches its target in seconds.
 *
 * Arrival times live in one preallocated ring (32 KB) indexed by sequence number: recording a
 * packet allocates nothing; a feedback packet is built every ~50-100 ms.
 */

/** The header extension's URI in SDP (a=extmap). */
export const TRANSPORT_CC_URI = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';

/** Packets one feedback describes at most; beyond, the oldest are left out (the sender takes them as lost). */
const MAX_PACKETS_PER_FEEDBACK = 1500;
/** Arrival slots (a power of two): a feedback goes out every 50 ms, so a few thousand packets is plenty. */
const RING = 4096;
/** Delta units: 250 µs. */
const DELTA_US = 250;
/** Reference time units: 64 ms. */
const REFERENCE_US = 64_000;

/**
 * The value of one-byte or two-byte header extension `id` of an RTP packet (RFC 8285) as a
 * 16-bit number (its first two bytes), or -1 when absent or malformed.
 */
export function rtpExtension16(packet: Buffer, id: number): number {
  if (packet.length < 12 || (packet[0]! & 0x10) === 0) return -1;
  let pos = 12 + 4 * (packet[0]! & 0x0f);
  if (pos + 4 > packet.length) return -1;
  const profile = packet.readUInt16BE(pos);
  const end = pos + 4 + 4 * packet.readUInt16BE(pos + 2);
  if (end > packet.length) return -1;
  pos += 4;
  if (profile === 0xbede) {
    while (pos < end) {
      const b = packet[pos]!;
      if (b === 0) {
        pos++; // padding
        continue;
      }
      const elementId = b >> 4;
      const length = (b & 0x0f) + 1;
      if (elementId === 15) return -1;
      if (elementId === id) return length >= 2 && pos + 3 <= end ? packet.readUInt16BE(pos + 1) : -1;
      pos += 1 + length;
    }
  } else if ((profile & 0xfff0) === 0x1000) {
    while (pos + 2 <= end) {
      const elementId = packet[pos]!;
      if (elementId === 0) {
        pos++;
        continue;
      }
      const length = packet[pos + 1]!;
      if (elementId === id) return length >= 2 && pos + 4 <= end ? packet.readUInt16BE(pos + 2) : -1;
      pos += 2 + length;
    }
  }
  return -1;
}

/** Records arrivals by transport-wide sequence number and writes the feedback packets. */
export class TransportFeedback {
  /** Arrival time (µs, monotonic) by sequence number modulo RING; -1: not received (or already reported). */
  private readonly arrivals = new Float64Array(RING).fill(-1);
  /** The first sequence number the next feedback reports (-1 before the first packet). */
  private base = -1;
  /** The highest sequence number received (as a distance from base). */
  private span = 0;
  private feedbackCount = 0;
  /** Feedback packets written. */
  sent = 0;

  /** A packet with transport-wide sequence number `seq` arrived at `nowUs`. */
  record(seq: number, nowUs: number): void {
    if (this.base < 0) this.base = seq;
    let distance = (seq - this.base) & 0xffff;
    if (distance >= 0x8000) return; // before base: already reported as lost, too late now
    if (distance >= RING) {
      // A jump of thousands (a sender restart): what was pending is given up, this starts anew.
      this.arrivals.fill(-1);
      this.base = seq;
      this.span = 0;
      distance = 0;
    }
    this.arrivals[seq & (RING - 1)] = nowUs;
    if (distance + 1 > this.span) this.span = distance + 1;
  }

  /**
   * The feedback for everything since the last one (RTCP transport-layer feedback, PT 205
   * FMT 15), or undefined when nothing arrived.
   */
  build(senderSsrc: number, mediaSsrc: number): Buffer | undefined {
    if (this.base < 0 || this.span === 0) return undefined;
    let count = this.span;
    if (count > MAX_PACKETS_PER_FEEDBACK) {
      // Leave the oldest out: reported neither received nor lost, the sender gives up on them.
      const skip = count - MAX_PACKETS_PER_FEEDBACK;
      for (let i = 0; i < skip; i++) this.arrivals[(this.base + i) & (RING - 1)] = -1;
      this.base = (this.base + skip) & 0xffff;
      count = MAX_PACKETS_PER_FEEDBACK;
    }
    let first = -1;
    for (let i = 0; i < count && first < 0; i++) first = this.arrivals[(this.base + i) & (RING - 1)]!;
    if (first < 0) return undefined;
    const referenceTime = Math.floor(first / REFERENCE_US);
    // Worst case: a 2-bit status vector chunk per 7 packets, 2 bytes of delta per packet.
    const chunks = Math.ceil(count / 7);
    const out = Buffer.alloc(20 + 2 * chunks + 2 * count + 3);
    out[0] = 0x80 | 15;
    out[1] = 205;
    out.writeUInt32BE(senderSsrc >>> 0, 4);
    out.writeUInt32BE(mediaSsrc >>> 0, 8);
    out.writeUInt16BE(this.base, 12);
    out.writeUInt16BE(count, 14);
    out.writeUIntBE(referenceTime & 0xffffff, 16, 3);
    out[19] = this.feedbackCount++ & 0xff;
    let chunkPos = 20;
    let deltaPos = 20 + 2 * chunks;
    let previous = referenceTime * REFERENCE_US;
    let chunk = 0;
    for (let i = 0; i < count; i++) {
      const slot = (this.base + i) & (RING - 1);
      const at = this.arrivals[slot]!;
      this.arrivals[slot] = -1;
      let symbol = 0;
      if (at >= 0) {
        const delta = Math.round((at - previous) / DELTA_US);
        previous += delta * DELTA_US;
        if (delta >= 0 && delta <= 255) {
          symbol = 1;
          out[deltaPos++] = delta;
        } else {
          symbol = 2;
          out.writeInt16BE(Math.max(-32768, Math.min(32767, delta)), deltaPos);
          deltaPos += 2;
        }
      }
      // Status vector chunks of seven 2-bit symbols: T=1, S=1.
      chunk |= symbol << (2 * (6 - (i % 7)));
      if (i % 7 === 6 || i === count - 1) {
        out.writeUInt16BE(0xc000 | chunk, chunkPos);
        chunkPos += 2;
        chunk = 0;
      }
    }
    const length = Math.ceil(deltaPos / 4) * 4;
    if (length > deltaPos) out[0] |= 0x20; // padding, its count in the last byte
    if (length > deltaPos) out[length - 1] = length - deltaPos;
    out.writeUInt16BE(length / 4 - 1, 2);
    this.base = (this.base + count) & 0xffff;
    this.span = 0;
    this.sent++;
    return out.subarray(0, length);
  }
}

import { CodecError } from './errors.js';

/**
 * MSB-first bit reader over RBSP bytes (emulation prevention already removed), with the
 * exp-Golomb descriptors ue(v)/se(v) of H.264 §9.1 and H.265 §9.2. `what` names the
 * structure being read, so a read past the end says e.g. "H.264 SPS: truncated".
 */
export class BitReader {
  private pos = 0;
  private readonly end: number;

  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {
    this.end = buf.length * 8;
  }

  bitsLeft(): number {
    return this.end - this.pos;
  }

  /** Reads `n` (0..32) bits as an unsigned integer. */
  readBits(n: number): number {
    if (n > 32 || n < 0) throw new CodecError(`${this.what}: cannot read ${n} bits at once`);
    this.need(n);
    let value = 0;
    let pos = this.pos;
    let remaining = n;
    while (remaining > 0) {
      const bitInByte = pos & 7;
      const take = Math.min(8 - bitInByte, remaining);
      const chunk = (this.buf[pos >>> 3]! >>> (8 - bitInByte - take)) & ((1 << take) - 1);
      // Multiplication keeps 32-bit values unsigned, where `<<` would go negative.
      value = value * (1 << take) + chunk;
      pos += take;
      remaining -= take;
    }
    this.pos = pos;
    return value;
  }

  readBit(): number {
    this.need(1);
    const bit = (this.buf[this.pos >>> 3]! >>> (7 - (this.pos & 7))) & 1;
    this.pos++;
    return bit;
  }

  readFlag(): boolean {
    return this.readBit() === 1;
  }

  skipBits(n: number): void {
    this.need(n);
    this.pos += n;
  }

  /** ue(v), H.264 §9.1: values up to 2^32 - 2. */
  readUE(): number {
    let leadingZeros = 0;
    while (this.readBit() === 0) {
      leadingZeros++;
      if (leadingZeros > 31) throw new CodecError(`${this.what}: exp-Golomb code longer than 32 bits`);
    }
    return leadingZeros === 0 ? 0 : 2 ** leadingZeros - 1 + this.readBits(leadingZeros);
  }

  /** se(v), H.264 §9.1.1: codeNum k maps to (-1)^(k+1) * ceil(k / 2). */
  readSE(): number {
    const k = this.readUE();
    return k % 2 === 1 ? (k + 1) / 2 : 0 - k / 2;
  }

  /** Reads ue(v) and rejects values above `max`, naming the syntax element. */
  readUEMax(max: number, field: string): number {
    const value = this.readUE();
    if (value > max) throw new CodecError(`${this.what}: ${field} ${value} is out of range (max ${max})`);
    return value;
  }

  /** `n` whole bytes as a subarray (no copy); the reader must be byte-aligned. */
  readBytes(n: number): Buffer {
    if ((this.pos & 7) !== 0) throw new CodecError(`${this.what}: byte read at unaligned bit ${this.pos}`);
    this.need(n * 8);
    const start = this.pos >>> 3;
    this.pos += n * 8;
    return this.buf.subarray(start, start + n);
  }

  private need(n: number): void {
    if (this.pos + n > this.end) {
      throw new CodecError(
        `${this.what}: truncated (needed ${n} bits at bit ${this.pos}, ${this.end - this.pos} left)`,
      );
    }
  }
}

/**
 * NAL unit payload → RBSP: drops each emulation_prevention_three_byte, the 0x03 in 0x000003
 * (H.264 §7.3.1/§7.4.1, H.265 §7.3.1.1). Returns `nal` itself when there is none.
 */
export function removeEmulationPrevention(nal: Buffer): Buffer {
  const first = findEmulationPrevention(nal, 0);
  if (first < 0) return nal;
  const out = Buffer.allocUnsafe(nal.length - 1);
  let written = 0;
  let from = 0;
  let at = first;
  while (at >= 0) {
    written += nal.copy(out, written, from, at);
    from = at + 1;
    at = findEmulationPrevention(nal, from);
  }
  written += nal.copy(out, written, from);
  return out.subarray(0, written);
}

/** Index of the next 0x03 preceded by two zero bytes, counting zeros from `from`. */
function findEmulationPrevention(nal: Buffer, from: number): number {
  let zeros = 0;
  for (let i = from; i < nal.length; i++) {
    const b = nal[i]!;
    if (b === 3 && zeros >= 2) return i;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return -1;
}

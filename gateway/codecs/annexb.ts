import { CodecError } from './errors.js';

/**
 * NAL units of an Annex-B byte stream (H.264 Annex B, H.265 Annex B) as subarrays of `buf`.
 * Start codes are 0x000001 or 0x00000001; zero bytes before a start code (trailing_zero_8bits,
 * the leading zero of a 4-byte start code) and at the end are not part of any NAL unit.
 * Empty NAL units are skipped. Throws CodecError if non-zero bytes precede the first start code.
 */
export function splitAnnexB(buf: Buffer): Buffer[] {
  const nalus: Buffer[] = [];
  let start = -1;
  let zeros = 0;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i]!;
    if (b === 1 && zeros >= 2) {
      if (start >= 0) pushTrimmed(nalus, buf, start, i - zeros);
      start = i + 1;
      zeros = 0;
      continue;
    }
    if (b === 0) {
      zeros++;
    } else {
      if (start < 0) throw new CodecError(`Annex-B: byte 0x${b.toString(16)} at offset ${i} precedes the first start code`);
      zeros = 0;
    }
  }
  if (start >= 0) pushTrimmed(nalus, buf, start, buf.length);
  return nalus;
}

function pushTrimmed(nalus: Buffer[], buf: Buffer, start: number, end: number): void {
  while (end > start && buf[end - 1] === 0) end--;
  if (end > start) nalus.push(buf.subarray(start, end));
}

/** Annex-B byte stream → NAL units each prefixed by a 4-byte big-endian length (ISO/IEC 14496-15 §5.3.2). */
export function annexBToLengthPrefixed(buf: Buffer): Buffer {
  return nalusToLengthPrefixed(splitAnnexB(buf));
}

/** NAL units → one Buffer of 4-byte big-endian length + NAL unit, in order. */
export function nalusToLengthPrefixed(nalus: readonly Buffer[]): Buffer {
  let total = 0;
  for (const nalu of nalus) total += 4 + nalu.length;
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const nalu of nalus) {
    out.writeUInt32BE(nalu.length, offset);
    offset += 4 + nalu.copy(out, offset + 4);
  }
  return out;
}

/**
 * NAL units of a length-prefixed sample (ISO/IEC 14496-15 §5.3.2, the length size coming from
 * the decoder configuration record) as subarrays of `buf`. Zero-length NAL units are skipped.
 */
export function splitLengthPrefixed(buf: Buffer, lengthSize = 4): Buffer[] {
  checkLengthSize(lengthSize);
  const nalus: Buffer[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const length = readNaluLength(buf, offset, lengthSize);
    offset += lengthSize;
    if (length > 0) nalus.push(buf.subarray(offset, offset + length));
    offset += length;
  }
  return nalus;
}

/** Length-prefixed NAL units → Annex-B with 4-byte start codes. */
export function lengthPrefixedToAnnexB(buf: Buffer, lengthSize = 4): Buffer {
  const nalus = splitLengthPrefixed(buf, lengthSize);
  let total = 0;
  for (const nalu of nalus) total += 4 + nalu.length;
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const nalu of nalus) {
    out.writeUInt32BE(1, offset);
    offset += 4 + nalu.copy(out, offset + 4);
  }
  return out;
}

/**
 * Length of the NAL unit whose length field starts at `offset`; throws CodecError if the field
 * or the NAL unit runs past the end of `buf`. Shared by the keyframe scans of h264/h265.
 */
export function readNaluLength(buf: Buffer, offset: number, lengthSize: number): number {
  if (offset + lengthSize > buf.length) {
    throw new CodecError(`length-prefixed NAL units: ${buf.length - offset} bytes left at offset ${offset}, too few for a ${lengthSize}-byte length`);
  }
  const length = buf.readUIntBE(offset, lengthSize);
  if (offset + lengthSize + length > buf.length) {
    throw new CodecError(`length-prefixed NAL units: NAL unit of ${length} bytes at offset ${offset} runs past the end (${buf.length} bytes)`);
  }
  return length;
}

function checkLengthSize(lengthSize: number): void {
  if (lengthSize !== 1 && lengthSize !== 2 && lengthSize !== 4 && lengthSize !== 3) {
    throw new CodecError(`length-prefixed NAL units: length size ${lengthSize} is not supported; supported: 1, 2, 3, 4`);
  }
}

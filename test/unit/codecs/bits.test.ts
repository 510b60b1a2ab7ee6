import { describe, expect, it } from 'vitest';
import { BitReader, removeEmulationPrevention } from '../../../gateway/codecs/bits.js';
import { CodecError } from '../../../gateway/codecs/errors.js';
import { hex } from './vectors.js';

describe('BitReader', () => {
  it('reads fields MSB first across byte boundaries', () => {
    const r = new BitReader(hex('a5c3'), 'test');
    expect(r.readBits(3)).toBe(0b101);
    expect(r.readBits(7)).toBe(0b0010111);
    expect(r.readBit()).toBe(0);
    expect(r.bitsLeft()).toBe(5);
    expect(r.readBits(5)).toBe(0b00011);
    expect(r.bitsLeft()).toBe(0);
  });

  it('reads 32 bits as an unsigned number', () => {
    const r = new BitReader(hex('ffffffff80000001'), 'test');
    expect(r.readBits(32)).toBe(0xffffffff);
    expect(r.readBits(32)).toBe(0x80000001);
  });

  it('reads 32 bits at an unaligned position', () => {
    const r = new BitReader(hex('0fffffffff'), 'test');
    r.skipBits(4);
    expect(r.readBits(32)).toBe(0xffffffff);
  });

  it.each([
    { bits: '1', ue: 0, se: 0 },
    { bits: '010', ue: 1, se: 1 },
    { bits: '011', ue: 2, se: -1 },
    { bits: '00100', ue: 3, se: 2 },
    { bits: '00101', ue: 4, se: -2 },
    { bits: '0001000', ue: 7, se: 4 },
    { bits: '000010001', ue: 16, se: -8 },
    { bits: '0'.repeat(31) + '1' + '0'.repeat(31), ue: 2 ** 31 - 1, se: 2 ** 30 },
    { bits: '0'.repeat(31) + '1'.repeat(32), ue: 2 ** 32 - 2, se: -(2 ** 31 - 1) },
  ])('decodes exp-Golomb $bits as ue $ue, se $se', ({ bits, ue, se }) => {
    expect(new BitReader(bitsToBuffer(bits), 'test').readUE()).toBe(ue);
    expect(new BitReader(bitsToBuffer(bits), 'test').readSE()).toBe(se);
  });

  it('throws CodecError naming the structure when reading past the end', () => {
    const r = new BitReader(hex('ff'), 'H.264 SPS');
    r.readBits(6);
    expect(() => r.readBits(3)).toThrow(CodecError);
    expect(() => r.readBits(3)).toThrow(/H\.264 SPS: truncated/);
  });

  it('throws CodecError for an exp-Golomb code that runs out of bytes', () => {
    expect(() => new BitReader(hex('0000'), 'test').readUE()).toThrow(CodecError);
  });

  it('throws CodecError for an exp-Golomb code longer than 32 bits', () => {
    expect(() => new BitReader(hex('000000000080'), 'test').readUE()).toThrow(/longer than 32 bits/);
  });

  it('throws CodecError when skipping past the end', () => {
    expect(() => new BitReader(hex('00'), 'test').skipBits(9)).toThrow(CodecError);
  });

  it('carries the stable error code', () => {
    try {
      new BitReader(Buffer.alloc(0), 'test').readBit();
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(CodecError);
      expect((err as CodecError).code).toBe('SG_ERR_CODEC_PARSE');
    }
  });

  it('returns byte-aligned bytes as a subarray', () => {
    const buf = hex('0102030405');
    const r = new BitReader(buf, 'test');
    r.skipBits(8);
    const bytes = r.readBytes(3);
    expect(bytes.toString('hex')).toBe('020304');
    expect(bytes.buffer).toBe(buf.buffer);
    expect(() => r.readBytes(2)).toThrow(CodecError);
  });
});

describe('removeEmulationPrevention', () => {
  it.each([
    { nal: '6764001f', rbsp: '6764001f' },
    { nal: '67000003', rbsp: '670000' },
    { nal: '6700000301', rbsp: '67000001' },
    { nal: '670000030000030001', rbsp: '670000000000' + '01' },
    { nal: '6700000300030000', rbsp: '67000000030000' },
    { nal: '670003000003', rbsp: '6700030000' },
    { nal: '0000030000030000', rbsp: '000000000000' },
  ])('$nal → $rbsp', ({ nal, rbsp }) => {
    expect(removeEmulationPrevention(hex(nal)).toString('hex')).toBe(rbsp);
  });

  it('returns the same Buffer when there is nothing to remove', () => {
    const nal = hex('6764001facd9');
    expect(removeEmulationPrevention(nal)).toBe(nal);
  });
});

function bitsToBuffer(bits: string): Buffer {
  const padded = bits.padEnd(Math.ceil(bits.length / 8) * 8, '0');
  const out = Buffer.alloc(padded.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(padded.slice(i * 8, i * 8 + 8), 2);
  return out;
}

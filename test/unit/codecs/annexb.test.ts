import { describe, expect, it } from 'vitest';
import {
  annexBToLengthPrefixed,
  lengthPrefixedToAnnexB,
  nalusToLengthPrefixed,
  splitAnnexB,
  splitLengthPrefixed,
} from '../../../gateway/codecs/annexb.js';
import { CodecError } from '../../../gateway/codecs/errors.js';
import { H264_SPS_CASES, H265_SPS_CASES, hex } from './vectors.js';

const SPS = H264_SPS_CASES[0]!.sps;
const PPS = H264_SPS_CASES[0]!.pps;

const ANNEXB_CASES = [
  { name: '4-byte start codes', stream: `00000001${SPS}00000001${PPS}0000000165888480`, nalus: [SPS, PPS, '65888480'] },
  { name: '3-byte start codes', stream: `000001${SPS}000001${PPS}00000165888480`, nalus: [SPS, PPS, '65888480'] },
  { name: 'mixed start codes', stream: `00000001${SPS}000001${PPS}0000000165888480`, nalus: [SPS, PPS, '65888480'] },
  { name: 'leading and trailing zero bytes', stream: `0000000000000001${SPS}000000000001${PPS}0000`, nalus: [SPS, PPS] },
  { name: 'empty NAL units skipped', stream: `0000000100000001${SPS}000001000001${PPS}`, nalus: [SPS, PPS] },
  { name: 'emulation prevention kept inside a NAL unit', stream: '00000001670000030100000168ab', nalus: ['6700000301', '68ab'] },
  { name: 'HEVC parameter sets', stream: `00000001${H265_SPS_CASES[0]!.vps}00000001${H265_SPS_CASES[0]!.sps}000001${H265_SPS_CASES[0]!.pps}`, nalus: [H265_SPS_CASES[0]!.vps, H265_SPS_CASES[0]!.sps, H265_SPS_CASES[0]!.pps] },
  { name: 'empty input', stream: '', nalus: [] },
  { name: 'zeros only', stream: '000000', nalus: [] },
  { name: 'start code only', stream: '00000001', nalus: [] },
];

describe('splitAnnexB', () => {
  it.each(ANNEXB_CASES)('splits $name', ({ stream, nalus }) => {
    expect(splitAnnexB(hex(stream)).map((n) => n.toString('hex'))).toEqual(nalus);
  });

  it('returns subarrays of the input', () => {
    const buf = hex(ANNEXB_CASES[0]!.stream);
    for (const nalu of splitAnnexB(buf)) expect(nalu.buffer).toBe(buf.buffer);
  });

  it('throws CodecError when bytes precede the first start code', () => {
    expect(() => splitAnnexB(hex(`0000001a${SPS}`))).toThrow(CodecError);
    expect(() => splitAnnexB(hex(`${SPS}00000001${PPS}`))).toThrow(/precedes the first start code/);
  });
});

describe('length-prefixed NAL units', () => {
  it.each(ANNEXB_CASES)('Annex-B → length-prefixed → Annex-B keeps the NAL units ($name)', ({ stream, nalus }) => {
    const lengthPrefixed = annexBToLengthPrefixed(hex(stream));
    expect(lengthPrefixed.length).toBe(nalus.reduce((n, s) => n + 4 + s.length / 2, 0));
    expect(splitLengthPrefixed(lengthPrefixed).map((n) => n.toString('hex'))).toEqual(nalus);
    const annexB = lengthPrefixedToAnnexB(lengthPrefixed);
    expect(annexB.toString('hex')).toBe(nalus.map((n) => `00000001${n}`).join(''));
    expect(splitAnnexB(annexB).map((n) => n.toString('hex'))).toEqual(nalus);
  });

  it('writes 4-byte big-endian lengths', () => {
    expect(nalusToLengthPrefixed([hex('65aa'), hex('41bbcc')]).toString('hex')).toBe('0000000265aa0000000341bbcc');
    expect(nalusToLengthPrefixed([]).length).toBe(0);
  });

  it.each([
    { lengthSize: 1, sample: '0265aa0341bbcc', nalus: ['65aa', '41bbcc'] },
    { lengthSize: 2, sample: '000265aa000341bbcc', nalus: ['65aa', '41bbcc'] },
    { lengthSize: 4, sample: '0000000265aa000000000000000341bbcc', nalus: ['65aa', '41bbcc'] },
  ])('splits with $lengthSize-byte lengths', ({ lengthSize, sample, nalus }) => {
    expect(splitLengthPrefixed(hex(sample), lengthSize).map((n) => n.toString('hex'))).toEqual(nalus);
    expect(lengthPrefixedToAnnexB(hex(sample), lengthSize).toString('hex')).toBe(nalus.map((n) => `00000001${n}`).join(''));
  });

  it.each([
    { name: 'length past the end', sample: '0000000565aa' },
    { name: 'truncated length field', sample: '0000000265aa0000' },
  ])('throws CodecError on $name', ({ sample }) => {
    expect(() => splitLengthPrefixed(hex(sample))).toThrow(CodecError);
    expect(() => lengthPrefixedToAnnexB(hex(sample))).toThrow(CodecError);
  });

  it('rejects an unsupported length size', () => {
    expect(() => splitLengthPrefixed(hex('00'), 5)).toThrow(/supported: 1, 2, 3, 4/);
  });
});

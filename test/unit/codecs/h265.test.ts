import { describe, expect, it } from 'vitest';
import { nalusToLengthPrefixed } from '../../../gateway/codecs/annexb.js';
import { CodecError } from '../../../gateway/codecs/errors.js';
import {
  H265_NAL_AUD,
  H265_NAL_CRA,
  H265_NAL_IDR_N_LP,
  H265_NAL_IDR_W_RADL,
  H265_NAL_PPS,
  H265_NAL_PREFIX_SEI,
  H265_NAL_SPS,
  H265_NAL_VPS,
  buildHevcDecoderConfig,
  h265CodecString,
  h265IsIrap,
  h265IsKeyframe,
  h265NalType,
  parseH265Sps,
  parseHevcDecoderConfig,
} from '../../../gateway/codecs/h265.js';
import { FFMPEG_HVCC, H265_SPS_CASES, hex } from './vectors.js';

describe('parseH265Sps', () => {
  it.each(H265_SPS_CASES)('$name', (c) => {
    const info = parseH265Sps(hex(c.sps));
    expect(info).toMatchObject({
      generalProfileSpace: 0,
      generalProfileIdc: c.generalProfileIdc,
      generalTierFlag: 0,
      generalLevelIdc: c.generalLevelIdc,
      generalProfileCompatibilityFlags: c.generalProfileCompatibilityFlags,
      chromaFormatIdc: c.chromaFormatIdc,
      width: c.width,
      height: c.height,
      bitDepthLuma: c.bitDepth,
      bitDepthChroma: c.bitDepth,
      maxSubLayers: c.maxSubLayers,
    });
    expect(info.generalConstraintIndicatorFlags.toString('hex')).toBe(c.generalConstraintIndicatorFlags);
    expect(info.fps).toBeCloseTo(c.fps, 9);
  });

  it('still returns the picture size when the SPS is cut anywhere after the bit depths', () => {
    const full = hex(H265_SPS_CASES[1]!.sps);
    // 26 NAL bytes (23 after removing 3 emulation prevention bytes) reach bit_depth_chroma_minus8.
    for (let length = 26; length < full.length; length++) {
      const info = parseH265Sps(full.subarray(0, length));
      expect(info, `length ${length}`).toMatchObject({ width: 1920, height: 1080, bitDepthChroma: 8 });
      expect([0, 25], `length ${length}`).toContain(info.fps);
    }
    expect(parseH265Sps(full.subarray(0, 40)).fps).toBe(0);
  });

  it.each([
    { name: 'a VPS', nal: H265_SPS_CASES[0]!.vps, message: /NAL unit type is 32, expected 33/ },
    { name: 'an empty buffer', nal: '', message: /too short/ },
    { name: 'an SPS cut inside profile_tier_level', nal: H265_SPS_CASES[0]!.sps.slice(0, 20), message: /H\.265 SPS: truncated/ },
    { name: 'an SPS cut before the bit depths', nal: H265_SPS_CASES[0]!.sps.slice(0, 38), message: /truncated/ },
  ])('throws CodecError for $name', ({ nal, message }) => {
    expect(() => parseH265Sps(hex(nal))).toThrow(CodecError);
    expect(() => parseH265Sps(hex(nal))).toThrow(message);
  });
});

describe('h265CodecString', () => {
  it.each(H265_SPS_CASES)('$codec for $name', (c) => {
    expect(h265CodecString(hex(c.sps))).toBe(c.codec);
  });
});

describe('h265NalType and h265IsIrap', () => {
  it.each([
    { nal: '4001', type: H265_NAL_VPS, irap: false },
    { nal: '4201', type: H265_NAL_SPS, irap: false },
    { nal: '4401', type: H265_NAL_PPS, irap: false },
    { nal: '4601', type: H265_NAL_AUD, irap: false },
    { nal: '4e01', type: H265_NAL_PREFIX_SEI, irap: false },
    { nal: '2601', type: H265_NAL_IDR_W_RADL, irap: true },
    { nal: '2801', type: H265_NAL_IDR_N_LP, irap: true },
    { nal: '2a01', type: H265_NAL_CRA, irap: true },
    { nal: '2001', type: 16, irap: true },
    { nal: '2e01', type: 23, irap: true },
    { nal: '0201', type: 1, irap: false },
    { nal: '3001', type: 24, irap: false },
  ])('$nal is type $type, IRAP $irap', ({ nal, type, irap }) => {
    expect(h265NalType(hex(nal))).toBe(type);
    expect(h265IsIrap(type)).toBe(irap);
  });
});

describe('HEVCDecoderConfigurationRecord', () => {
  it.each(FFMPEG_HVCC)('parses the record ffmpeg writes for $name', ({ record, sps }) => {
    const c = H265_SPS_CASES[sps]!;
    const parsed = parseHevcDecoderConfig(hex(record));
    expect(parsed).toMatchObject({ lengthSize: 4, generalProfileIdc: c.generalProfileIdc, generalLevelIdc: c.generalLevelIdc });
    expect(parsed.vps.map((b) => b.toString('hex'))).toEqual([c.vps]);
    expect(parsed.sps.map((b) => b.toString('hex'))).toEqual([c.sps]);
    expect(parsed.pps.map((b) => b.toString('hex'))).toEqual([c.pps]);
  });

  it.each(H265_SPS_CASES)('round-trips $name', (c) => {
    const record = buildHevcDecoderConfig([hex(c.vps)], [hex(c.sps)], [hex(c.pps)]);
    expect(parseHevcDecoderConfig(record)).toEqual({
      lengthSize: 4,
      vps: [hex(c.vps)],
      sps: [hex(c.sps)],
      pps: [hex(c.pps)],
      generalProfileIdc: c.generalProfileIdc,
      generalLevelIdc: c.generalLevelIdc,
    });
  });

  it.each(H265_SPS_CASES)('fills the header fields from the SPS of $name', (c) => {
    const record = buildHevcDecoderConfig([hex(c.vps)], [hex(c.sps)], [hex(c.pps)]);
    expect(record[0]).toBe(1);
    expect(record[1]).toBe(c.generalProfileIdc);
    expect(record.readUInt32BE(2)).toBe(c.generalProfileCompatibilityFlags);
    expect(record.subarray(6, 12).toString('hex')).toBe(c.generalConstraintIndicatorFlags);
    expect(record[12]).toBe(c.generalLevelIdc);
    expect(record.subarray(13, 16).toString('hex')).toBe('f000fc');
    expect(record[16]).toBe(0xfc | c.chromaFormatIdc);
    expect(record[17]).toBe(0xf8 | (c.bitDepth - 8));
    expect(record[18]).toBe(0xf8 | (c.bitDepth - 8));
    expect(record.readUInt16BE(19)).toBe(Math.round(c.fps * 256));
    expect(record[21]! & 3).toBe(3);
    expect((record[21]! >> 3) & 7).toBe(c.maxSubLayers);
    expect(record[22]).toBe(3);
    expect([record[23], record[23 + 3 + 2 + c.vps.length / 2]]).toEqual([0x80 | H265_NAL_VPS, 0x80 | H265_NAL_SPS]);
  });

  it('matches the ffmpeg record except for avgFrameRate', () => {
    const c = H265_SPS_CASES[0]!;
    const built = buildHevcDecoderConfig([hex(c.vps)], [hex(c.sps)], [hex(c.pps)]);
    const ffmpeg = hex(FFMPEG_HVCC[0].record);
    built.writeUInt16BE(0, 19);
    expect(built.toString('hex')).toBe(ffmpeg.toString('hex'));
  });

  it('skips arrays of other NAL unit types', () => {
    const c = H265_SPS_CASES[0]!;
    const record = buildHevcDecoderConfig([hex(c.vps)], [hex(c.sps)], [hex(c.pps)]);
    const sei = hex('4e01050a0102');
    const withSei = Buffer.concat([record, hex('27' + '0001' + '0006'), sei]);
    withSei[22] = 4;
    expect(parseHevcDecoderConfig(withSei).pps.map((b) => b.toString('hex'))).toEqual([c.pps]);
  });

  it('throws CodecError on every truncation', () => {
    const record = hex(FFMPEG_HVCC[0].record);
    for (let length = 0; length < record.length; length++) {
      expect(() => parseHevcDecoderConfig(record.subarray(0, length)), `length ${length}`).toThrow(CodecError);
    }
  });

  it('requires an SPS to build', () => {
    expect(() => buildHevcDecoderConfig([], [], [])).toThrow(CodecError);
  });
});

describe('h265IsKeyframe', () => {
  const c = H265_SPS_CASES[0]!;
  it.each([
    { name: 'VPS, SPS, PPS, IDR_W_RADL', nalus: [hex(c.vps), hex(c.sps), hex(c.pps), hex('2601af')], keyframe: true },
    { name: 'CRA', nalus: [hex('2a01af')], keyframe: true },
    { name: 'IDR_N_LP after a prefix SEI', nalus: [hex('4e0105'), hex('2801af')], keyframe: true },
    { name: 'TRAIL_R', nalus: [hex('4601'), hex('0201d0')], keyframe: false },
    { name: 'RASL_N', nalus: [hex('1001d0')], keyframe: false },
    { name: 'nothing', nalus: [], keyframe: false },
  ])('$name → $keyframe', ({ nalus, keyframe }) => {
    expect(h265IsKeyframe(nalusToLengthPrefixed(nalus))).toBe(keyframe);
  });

  it('throws CodecError when a length runs past the end', () => {
    expect(() => h265IsKeyframe(hex('000000090201'))).toThrow(CodecError);
  });
});

import { describe, expect, it } from 'vitest';
import { nalusToLengthPrefixed } from '../../../gateway/codecs/annexb.js';
import { CodecError } from '../../../gateway/codecs/errors.js';
import {
  H264_NAL_AUD,
  H264_NAL_IDR,
  H264_NAL_PPS,
  H264_NAL_SEI,
  H264_NAL_SPS,
  buildAvcDecoderConfig,
  h264CodecString,
  h264IsKeyframe,
  h264NalType,
  parseAvcDecoderConfig,
  parseH264Sps,
} from '../../../gateway/codecs/h264.js';
import { FFMPEG_AVCC, H264_SPS_CASES, hex } from './vectors.js';

const HIGH_RECORD_PROFILES = [100, 110, 122, 144];

describe('parseH264Sps', () => {
  it.each(H264_SPS_CASES)('$name', (c) => {
    const info = parseH264Sps(hex(c.sps));
    expect(info).toMatchObject({
      profileIdc: c.profileIdc,
      constraintFlags: c.constraintFlags,
      levelIdc: c.levelIdc,
      width: c.width,
      height: c.height,
      chromaFormatIdc: c.chromaFormatIdc,
      bitDepth: c.bitDepth,
    });
    expect(info.fps).toBeCloseTo(c.fps, 9);
  });

  it.each([
    { name: 'a PPS', nal: H264_SPS_CASES[0]!.pps, message: /NAL unit type is 8, expected 7/ },
    { name: 'an empty buffer', nal: '', message: /too short/ },
    { name: 'an SPS cut inside the VUI', nal: H264_SPS_CASES[0]!.sps.slice(0, 30), message: /H\.264 SPS: truncated/ },
    { name: 'an SPS cut before the picture size', nal: H264_SPS_CASES[0]!.sps.slice(0, 10), message: /truncated/ },
    { name: 'chroma_format_idc 4', nal: '6764001f94', message: /chroma_format_idc 4 is out of range/ },
  ])('throws CodecError for $name', ({ nal, message }) => {
    expect(() => parseH264Sps(hex(nal))).toThrow(CodecError);
    expect(() => parseH264Sps(hex(nal))).toThrow(message);
  });
});

describe('h264CodecString', () => {
  it.each(H264_SPS_CASES)('$codec for $name', (c) => {
    expect(h264CodecString(hex(c.sps))).toBe(c.codec);
  });
});

describe('h264NalType', () => {
  it.each([
    { nal: '65888480', type: H264_NAL_IDR },
    { nal: '06050f', type: H264_NAL_SEI },
    { nal: H264_SPS_CASES[0]!.sps, type: H264_NAL_SPS },
    { nal: H264_SPS_CASES[0]!.pps, type: H264_NAL_PPS },
    { nal: '0910', type: H264_NAL_AUD },
    { nal: '419a', type: 1 },
  ])('$nal is type $type', ({ nal, type }) => {
    expect(h264NalType(hex(nal))).toBe(type);
  });
});

describe('AVCDecoderConfigurationRecord', () => {
  it.each(FFMPEG_AVCC)('parses the record ffmpeg writes for $name', ({ record, sps }) => {
    const c = H264_SPS_CASES[sps]!;
    const parsed = parseAvcDecoderConfig(hex(record));
    expect(parsed).toMatchObject({ profile: c.profileIdc, compatibility: c.constraintFlags, level: c.levelIdc, lengthSize: 4 });
    expect(parsed.sps.map((b) => b.toString('hex'))).toEqual([c.sps]);
    expect(parsed.pps.map((b) => b.toString('hex'))).toEqual([c.pps]);
  });

  it.each(FFMPEG_AVCC)('builds the same bytes as ffmpeg for $name', ({ record, sps }) => {
    const c = H264_SPS_CASES[sps]!;
    expect(buildAvcDecoderConfig([hex(c.sps)], [hex(c.pps)]).toString('hex')).toBe(record);
  });

  it.each(H264_SPS_CASES)('round-trips $name', (c) => {
    const record = buildAvcDecoderConfig([hex(c.sps)], [hex(c.pps), hex('68ee3cb0')]);
    const parsed = parseAvcDecoderConfig(record);
    expect(parsed).toEqual({
      profile: c.profileIdc,
      compatibility: c.constraintFlags,
      level: c.levelIdc,
      lengthSize: 4,
      sps: [hex(c.sps)],
      pps: [hex(c.pps), hex('68ee3cb0')],
    });
    const trailer = HIGH_RECORD_PROFILES.includes(c.profileIdc);
    const setsEnd = 7 + 2 + c.sps.length / 2 + 2 + c.pps.length / 2 + 2 + 4;
    expect(record.length).toBe(setsEnd + (trailer ? 4 : 0));
    if (trailer) {
      expect([...record.subarray(setsEnd)]).toEqual([0xfc | c.chromaFormatIdc, 0xf8 | (c.bitDepth - 8), 0xf8 | (c.bitDepth - 8), 0]);
    }
  });

  it('returns parameter sets as subarrays of the record', () => {
    const record = hex(FFMPEG_AVCC[0].record);
    expect(parseAvcDecoderConfig(record).sps[0]!.buffer).toBe(record.buffer);
  });

  it('reads 1- and 2-byte length sizes', () => {
    const record = hex(FFMPEG_AVCC[1].record);
    record[4] = 0xfc;
    expect(parseAvcDecoderConfig(record).lengthSize).toBe(1);
    record[4] = 0xfd;
    expect(parseAvcDecoderConfig(record).lengthSize).toBe(2);
  });

  it('throws CodecError on every truncation', () => {
    const record = hex(FFMPEG_AVCC[1].record);
    for (let length = 0; length < record.length; length++) {
      expect(() => parseAvcDecoderConfig(record.subarray(0, length)), `length ${length}`).toThrow(CodecError);
    }
  });

  it('rejects an unknown configurationVersion', () => {
    const record = hex(FFMPEG_AVCC[0].record);
    record[0] = 2;
    expect(() => parseAvcDecoderConfig(record)).toThrow(/configurationVersion 2 is not supported/);
  });

  it('requires an SPS to build', () => {
    expect(() => buildAvcDecoderConfig([], [hex('68ee3cb0')])).toThrow(CodecError);
  });
});

describe('h264IsKeyframe', () => {
  const sps = hex(H264_SPS_CASES[0]!.sps);
  const pps = hex(H264_SPS_CASES[0]!.pps);
  it.each([
    { name: 'AUD, SPS, PPS, IDR', nalus: [hex('0910'), sps, pps, hex('65888480')], keyframe: true },
    { name: 'IDR alone', nalus: [hex('6588')], keyframe: true },
    { name: 'non-IDR slice', nalus: [hex('0930'), hex('419a')], keyframe: false },
    { name: 'SPS and PPS without a slice', nalus: [sps, pps], keyframe: false },
    { name: 'SEI then non-IDR slice', nalus: [hex('06050f'), hex('019e')], keyframe: false },
    { name: 'nothing', nalus: [], keyframe: false },
  ])('$name → $keyframe', ({ nalus, keyframe }) => {
    expect(h264IsKeyframe(nalusToLengthPrefixed(nalus))).toBe(keyframe);
  });

  it('throws CodecError when a length runs past the end', () => {
    expect(() => h264IsKeyframe(hex('00000009419a'))).toThrow(CodecError);
  });
});

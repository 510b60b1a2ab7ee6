import { describe, expect, it } from 'vitest';
import { adtsToRaw, parseAdtsHeader, parseAudioSpecificConfig } from '../../../gateway/codecs/aac.js';
import {
  lengthPrefixedToAnnexB,
  nalusToLengthPrefixed,
  splitAnnexB,
  splitLengthPrefixed,
} from '../../../gateway/codecs/annexb.js';
import { CodecError } from '../../../gateway/codecs/errors.js';
import { buildAvcDecoderConfig, h264CodecString, h264IsKeyframe, parseAvcDecoderConfig, parseH264Sps } from '../../../gateway/codecs/h264.js';
import { buildHevcDecoderConfig, h265CodecString, h265IsKeyframe, parseH265Sps, parseHevcDecoderConfig } from '../../../gateway/codecs/h265.js';
import { FFMPEG_ADTS, FFMPEG_ASC, FFMPEG_AVCC, FFMPEG_HVCC, H264_SPS_CASES, H265_SPS_CASES, hex } from './vectors.js';
import { prng } from '../../helpers/prng.js';

const ITERATIONS = 2000;

/** One random corruption of `input`: bit flips, byte overwrites, truncation, insertion or a random tail. */
function mutate(input: Buffer, random: () => number): Buffer {
  const int = (n: number): number => Math.floor(random() * n);
  const out = Buffer.from(input);
  switch (int(5)) {
    case 0: {
      for (let i = int(4) + 1; i > 0 && out.length > 0; i--) out[int(out.length)]! ^= 1 << int(8);
      return out;
    }
    case 1: {
      for (let i = int(3) + 1; i > 0 && out.length > 0; i--) out[int(out.length)] = int(256);
      return out;
    }
    case 2:
      return out.subarray(0, int(out.length));
    case 3: {
      const at = int(out.length + 1);
      const extra = Buffer.from(Array.from({ length: int(4) + 1 }, () => (random() < 0.5 ? 0 : int(256))));
      return Buffer.concat([out.subarray(0, at), extra, out.subarray(at)]);
    }
    default: {
      const tail = Buffer.from(Array.from({ length: int(8) }, () => int(256)));
      return Buffer.concat([out.subarray(0, int(out.length + 1)), tail]);
    }
  }
}

/** Runs `parse` on mutations of the seeds; returns the inputs that threw anything but CodecError. */
function fuzz(seeds: readonly Buffer[], seed: number, parse: (input: Buffer) => unknown): string[] {
  const random = prng(seed);
  const failures: string[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const input = mutate(seeds[i % seeds.length]!, random);
    try {
      parse(input);
    } catch (err) {
      if (!(err instanceof CodecError)) failures.push(`${input.toString('hex')}: ${String(err)}`);
    }
  }
  return failures;
}

const h264Sps = H264_SPS_CASES.map((c) => hex(c.sps));
const h265Sps = H265_SPS_CASES.map((c) => hex(c.sps));

describe('fuzzing with mutated real inputs throws only CodecError', () => {
  it.each([
    { name: 'parseH264Sps', seed: 1, seeds: h264Sps, parse: parseH264Sps },
    { name: 'h264CodecString', seed: 2, seeds: h264Sps, parse: h264CodecString },
    { name: 'buildAvcDecoderConfig', seed: 3, seeds: h264Sps, parse: (sps: Buffer) => parseAvcDecoderConfig(buildAvcDecoderConfig([sps], [hex('68ce0fc8')])) },
    { name: 'parseAvcDecoderConfig', seed: 4, seeds: FFMPEG_AVCC.map((r) => hex(r.record)), parse: parseAvcDecoderConfig },
    { name: 'parseH265Sps', seed: 5, seeds: h265Sps, parse: parseH265Sps },
    { name: 'h265CodecString', seed: 6, seeds: h265Sps, parse: h265CodecString },
    { name: 'buildHevcDecoderConfig', seed: 7, seeds: h265Sps, parse: (sps: Buffer) => parseHevcDecoderConfig(buildHevcDecoderConfig([], [sps], [])) },
    { name: 'parseHevcDecoderConfig', seed: 8, seeds: FFMPEG_HVCC.map((r) => hex(r.record)), parse: parseHevcDecoderConfig },
    { name: 'parseAudioSpecificConfig', seed: 9, seeds: [...FFMPEG_ASC.map((a) => hex(a.asc)), hex('2b920800'), hex('eb098800'), hex('f94640'), hex('17802af808')], parse: parseAudioSpecificConfig },
    { name: 'adtsToRaw', seed: 10, seeds: [hex(FFMPEG_ADTS)], parse: adtsToRaw },
    { name: 'parseAdtsHeader', seed: 11, seeds: [hex(FFMPEG_ADTS).subarray(0, 9)], parse: (b: Buffer) => parseAdtsHeader(b, b.length % 3) },
    { name: 'splitAnnexB', seed: 12, seeds: [hex(`00000001${H264_SPS_CASES[0]!.sps}000001${H264_SPS_CASES[0]!.pps}0000000165888480`)], parse: splitAnnexB },
    { name: 'splitLengthPrefixed', seed: 13, seeds: [nalusToLengthPrefixed(h264Sps)], parse: (b: Buffer) => splitLengthPrefixed(b, [1, 2, 4][b.length % 3]) },
    { name: 'h264IsKeyframe', seed: 14, seeds: [nalusToLengthPrefixed([...h264Sps, hex('65888480')])], parse: h264IsKeyframe },
    { name: 'h265IsKeyframe', seed: 15, seeds: [nalusToLengthPrefixed([...h265Sps, hex('2601af')])], parse: h265IsKeyframe },
  ])('$name', ({ seed, seeds, parse }) => {
    expect(fuzz(seeds, seed, parse as (input: Buffer) => unknown)).toEqual([]);
  });
});

describe('random NAL unit lists survive the byte-stream conversions', () => {
  /** A NAL unit as an encoder emits it: no 0x000000..0x000003 inside, not ending in 0x00. */
  function randomNalu(random: () => number): Buffer {
    const bytes: number[] = [1 + Math.floor(random() * 0x7f)];
    const length = Math.floor(random() * 40);
    for (let i = 0; i < length; i++) {
      const zeros = bytes.length >= 2 && bytes[bytes.length - 1] === 0 && bytes[bytes.length - 2] === 0;
      const b = random() < 0.4 ? 0 : Math.floor(random() * 256);
      bytes.push(zeros && b <= 3 ? 3 : b);
    }
    if (bytes[bytes.length - 1] === 0) bytes.push(0x80);
    return Buffer.from(bytes);
  }

  it(`round-trips ${ITERATIONS} lists through Annex-B and length-prefixed forms`, () => {
    const random = prng(99);
    for (let i = 0; i < ITERATIONS; i++) {
      const nalus = Array.from({ length: Math.floor(random() * 6) }, () => randomNalu(random));
      const lengthPrefixed = nalusToLengthPrefixed(nalus);
      expect(splitLengthPrefixed(lengthPrefixed)).toEqual(nalus);
      expect(splitAnnexB(lengthPrefixedToAnnexB(lengthPrefixed))).toEqual(nalus);
    }
  });
});

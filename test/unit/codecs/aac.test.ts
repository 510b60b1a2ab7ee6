import { describe, expect, it } from 'vitest';
import {
  aacCodecString,
  adtsToRaw,
  buildAdtsHeader,
  buildAudioSpecificConfig,
  parseAdtsHeader,
  parseAudioSpecificConfig,
} from '../../../gateway/codecs/aac.js';
import { CodecError } from '../../../gateway/codecs/errors.js';
import { FFMPEG_ADTS, FFMPEG_ASC, hex } from './vectors.js';

describe('parseAudioSpecificConfig', () => {
  it.each(FFMPEG_ASC)('parses ffmpeg AAC-LC $sampleRate Hz $channels ch', ({ asc, sampleRate, sampleRateIndex, channels }) => {
    expect(parseAudioSpecificConfig(hex(asc))).toEqual({ objectType: 2, sampleRate, sampleRateIndex, channels });
  });

  it.each([
    { name: 'HE-AAC, explicit SBR at 44.1 kHz over a 22.05 kHz core', asc: '2b920800', objectType: 5, sampleRate: 22050, sampleRateIndex: 7, channels: 2 },
    { name: 'HE-AACv2, explicit PS at 48 kHz over a 24 kHz mono core', asc: 'eb098800', objectType: 29, sampleRate: 24000, sampleRateIndex: 6, channels: 1 },
    { name: 'escaped object type 42 (USAC)', asc: 'f94640', objectType: 42, sampleRate: 48000, sampleRateIndex: 3, channels: 2 },
    { name: 'explicit 24-bit frequency 22000 Hz', asc: '17802af808', objectType: 2, sampleRate: 22000, sampleRateIndex: 15, channels: 1 },
    { name: 'channels in a program config element', asc: '1200', objectType: 2, sampleRate: 44100, sampleRateIndex: 4, channels: 0 },
    { name: 'AAC Main 32 kHz 5.1', asc: '0ab0', objectType: 1, sampleRate: 32000, sampleRateIndex: 5, channels: 6 },
  ])('parses $name', ({ asc, objectType, sampleRate, sampleRateIndex, channels }) => {
    expect(parseAudioSpecificConfig(hex(asc))).toEqual({ objectType, sampleRate, sampleRateIndex, channels });
  });

  it.each([
    { name: 'an empty buffer', asc: '', message: /truncated/ },
    { name: 'one byte', asc: '12', message: /truncated/ },
    { name: 'an SBR config without its extension', asc: '2b92', message: /truncated/ },
    { name: 'an explicit frequency cut short', asc: '1780', message: /truncated/ },
    { name: 'reserved frequency index 13', asc: '1690', message: /samplingFrequencyIndex 13 is reserved/ },
    { name: 'reserved channel configuration 9', asc: '1248', message: /channelConfiguration 9 is reserved/ },
    { name: 'object type 0', asc: '0210', message: /null object/ },
  ])('throws CodecError for $name', ({ asc, message }) => {
    expect(() => parseAudioSpecificConfig(hex(asc))).toThrow(CodecError);
    expect(() => parseAudioSpecificConfig(hex(asc))).toThrow(message);
  });
});

describe('buildAudioSpecificConfig', () => {
  it.each(FFMPEG_ASC)('writes the 2 bytes ffmpeg writes for $sampleRate Hz $channels ch', ({ asc, sampleRate, channels }) => {
    expect(buildAudioSpecificConfig({ objectType: 2, sampleRate, channels }).toString('hex')).toBe(asc.slice(0, 4));
  });

  it.each([
    { objectType: 2, sampleRate: 22000, channels: 1, asc: '17802af808' },
    { objectType: 5, sampleRate: 22050, channels: 2, asc: '2b920800' },
    { objectType: 29, sampleRate: 24000, channels: 1, asc: 'eb098800' },
  ])('writes $asc for object type $objectType at $sampleRate Hz', ({ asc, ...config }) => {
    expect(buildAudioSpecificConfig(config).toString('hex')).toBe(asc);
  });

  const rates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350, 22000, 192000];
  const channelCounts = [1, 2, 3, 4, 5, 6, 8];
  const roundTrips = [1, 2, 3, 4, 5, 29].flatMap((objectType) =>
    rates.flatMap((sampleRate) => channelCounts.map((channels) => ({ objectType, sampleRate, channels }))),
  );
  it(`round-trips ${roundTrips.length} combinations of object type, rate and channels`, () => {
    for (const config of roundTrips) {
      const asc = buildAudioSpecificConfig(config);
      const standardRate = rates.indexOf(config.sampleRate) < 13;
      const sbr = config.objectType === 5 || config.objectType === 29;
      if (!sbr && standardRate) expect(asc.length).toBe(2);
      expect(parseAudioSpecificConfig(asc), JSON.stringify(config)).toMatchObject(config);
    }
  });

  it.each([
    { name: 'object type 42', config: { objectType: 42, sampleRate: 48000, channels: 2 }, message: /supported: 1-4/ },
    { name: '7 channels', config: { objectType: 2, sampleRate: 48000, channels: 7 }, message: /supported: 1-6, 8/ },
    { name: '0 channels', config: { objectType: 2, sampleRate: 48000, channels: 0 }, message: /supported: 1-6, 8/ },
    { name: 'a zero rate', config: { objectType: 2, sampleRate: 0, channels: 2 }, message: /positive 24-bit/ },
  ])('rejects $name', ({ config, message }) => {
    expect(() => buildAudioSpecificConfig(config)).toThrow(message);
  });
});

describe('aacCodecString', () => {
  it.each([
    { asc: FFMPEG_ASC[0].asc, codec: 'mp4a.40.2' },
    { asc: '2b920800', codec: 'mp4a.40.5' },
    { asc: 'eb098800', codec: 'mp4a.40.29' },
    { asc: '0ab0', codec: 'mp4a.40.1' },
  ])('$codec for $asc', ({ asc, codec }) => {
    expect(aacCodecString(hex(asc))).toBe(codec);
  });
});

describe('ADTS', () => {
  const adts = hex(FFMPEG_ADTS);

  it('parses the header ffmpeg writes', () => {
    expect(parseAdtsHeader(adts)).toEqual({ objectType: 2, sampleRate: 22050, channels: 1, headerLength: 7, frameLength: 154 });
    expect(parseAdtsHeader(adts, 154)).toMatchObject({ frameLength: 138 });
    expect(parseAdtsHeader(adts, 292)).toMatchObject({ frameLength: 110 });
  });

  it('splits ffmpeg ADTS frames into raw access units without copying', () => {
    const units = adtsToRaw(adts);
    expect(units.map((u) => u.length)).toEqual([147, 131, 103]);
    expect(units[1]!.toString('hex')).toBe(adts.subarray(154 + 7, 292).toString('hex'));
    for (const unit of units) expect(unit.buffer).toBe(adts.buffer);
  });

  it('builds the header ffmpeg writes', () => {
    expect(buildAdtsHeader({ objectType: 2, sampleRate: 22050, channels: 1 }, 147).toString('hex')).toBe(adts.subarray(0, 7).toString('hex'));
  });

  it.each([
    { objectType: 2, sampleRate: 48000, channels: 2, payload: 371 },
    { objectType: 1, sampleRate: 96000, channels: 6, payload: 0 },
    { objectType: 4, sampleRate: 7350, channels: 8, payload: 8184 },
    { objectType: 2, sampleRate: 44100, channels: 5, payload: 1 },
  ])('round-trips header for object type $objectType, $sampleRate Hz, $channels ch, $payload bytes', ({ payload, ...config }) => {
    const header = buildAdtsHeader(config, payload);
    expect(header.length).toBe(7);
    expect(parseAdtsHeader(Buffer.concat([header, Buffer.alloc(payload)]))).toEqual({ ...config, headerLength: 7, frameLength: 7 + payload });
  });

  it('signals SBR and PS implicitly as the AAC-LC core', () => {
    const header = buildAdtsHeader({ objectType: 5, sampleRate: 24000, channels: 2 }, 10);
    expect(parseAdtsHeader(header)).toMatchObject({ objectType: 2, sampleRate: 24000 });
  });

  it('round-trips raw access units through ADTS', () => {
    const config = { objectType: 2, sampleRate: 44100, channels: 2 };
    const units = [hex('21'), hex('0102030405'), Buffer.alloc(600, 7)];
    const stream = Buffer.concat(units.flatMap((u) => [buildAdtsHeader(config, u.length), u]));
    expect(adtsToRaw(stream)).toEqual(units);
  });

  it('skips the CRC of a protected header', () => {
    const frame = Buffer.concat([buildAdtsHeader({ objectType: 2, sampleRate: 48000, channels: 2 }, 7), hex('abcd0102030405')]);
    frame[1] = 0xf0; // protection_absent 0: a 16-bit CRC follows the header
    expect(parseAdtsHeader(frame)).toMatchObject({ headerLength: 9, frameLength: 14 });
    expect(adtsToRaw(frame).map((u) => u.toString('hex'))).toEqual(['0102030405']);
  });

  it.each([
    { name: 'fewer than 7 bytes', buf: 'fff15c40135f' },
    { name: 'no syncword', buf: '00f15c40135ffc' },
    { name: 'MPEG layer not 0', buf: 'fff35c40135ffc' },
  ])('returns null for $name', ({ buf }) => {
    expect(parseAdtsHeader(hex(buf))).toBeNull();
  });

  it('returns null past the end of the buffer', () => {
    expect(parseAdtsHeader(adts, adts.length)).toBeNull();
  });

  it.each([
    { name: 'a reserved sampling index', buf: 'fff13c40135ffc', message: /sampling_frequency_index 15 is reserved/ },
    { name: 'a frame shorter than its header', buf: 'fff15c4000bffc', message: /shorter than the 7-byte header/ },
  ])('throws CodecError for $name', ({ buf, message }) => {
    expect(() => parseAdtsHeader(hex(buf))).toThrow(message);
  });

  it.each([
    { name: 'a truncated last frame', buf: adts.subarray(0, adts.length - 1), message: /needs 110 bytes, 109 left/ },
    { name: 'garbage between frames', buf: Buffer.concat([adts.subarray(0, 154), hex('00'), adts.subarray(154)]), message: /no frame header at offset 154/ },
    { name: 'several raw data blocks', buf: Buffer.concat([hex('fff15c40135ffd'), adts.subarray(7, 154)]), message: /2 raw data blocks; supported: 1/ },
  ])('adtsToRaw throws CodecError for $name', ({ buf, message }) => {
    expect(() => adtsToRaw(buf)).toThrow(CodecError);
    expect(() => adtsToRaw(buf)).toThrow(message);
  });

  it.each([
    { name: 'object type 42', config: { objectType: 42, sampleRate: 48000, channels: 2 }, payload: 1, message: /cannot be signalled/ },
    { name: 'a non-table rate', config: { objectType: 2, sampleRate: 22000, channels: 2 }, payload: 1, message: /sample rate 22000/ },
    { name: 'an oversized payload', config: { objectType: 2, sampleRate: 48000, channels: 2 }, payload: 8185, message: /does not fit/ },
  ])('buildAdtsHeader rejects $name', ({ config, payload, message }) => {
    expect(() => buildAdtsHeader(config, payload)).toThrow(message);
  });
});

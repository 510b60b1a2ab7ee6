import { BitReader } from './bits.js';
import { CodecError } from './errors.js';

/** The fields needed to describe an AAC stream in an AudioSpecificConfig or an ADTS header. */
export interface AacConfig {
  /** Audio Object Type (ISO/IEC 14496-3 §1.5.1.1): 2 is AAC-LC, 5 SBR (HE-AAC), 29 PS (HE-AACv2). */
  readonly objectType: number;
  /** Sampling rate of the AAC core, in Hz. */
  readonly sampleRate: number;
  /** Output channels; 0 when a program_config_element defines them. */
  readonly channels: number;
}

export interface AudioSpecificConfigInfo extends AacConfig {
  /** samplingFrequencyIndex of the core; 15 when the rate is written explicitly. */
  readonly sampleRateIndex: number;
}

export interface AdtsHeader extends AacConfig {
  /** 7 bytes, or more with a CRC (protection_absent = 0). */
  readonly headerLength: number;
  /** Header plus payload, in bytes. */
  readonly frameLength: number;
}

/** samplingFrequencyIndex → Hz, ISO/IEC 14496-3 Table 1.18 (13, 14 reserved, 15 explicit). */
const SAMPLE_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** channelConfiguration → channel count, ISO/IEC 14496-3 Table 1.19 as amended (0: in a PCE; -1: reserved). */
const CHANNELS_BY_CONFIG = [0, 1, 2, 3, 4, 5, 6, 8, -1, -1, -1, 7, 8, 24, 8, -1];

const OBJECT_TYPE_SBR = 5;
const OBJECT_TYPE_PS = 29;

/**
 * Parses the start of an AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1): object type with its
 * escape (31 → 32 + 6 bits), sampling frequency with explicit 24-bit form, channel
 * configuration. For explicit SBR/PS signalling (object types 5, 29) the extension rate is
 * skipped: objectType stays 5 or 29 and sampleRate is the core rate.
 */
export function parseAudioSpecificConfig(asc: Buffer): AudioSpecificConfigInfo {
  const r = new BitReader(asc, 'AudioSpecificConfig');
  const objectType = readObjectType(r);
  if (objectType === 0) throw new CodecError('AudioSpecificConfig: audioObjectType 0 is the null object');
  const { index: sampleRateIndex, rate: sampleRate } = readSamplingFrequency(r);
  const channels = channelsOf(r.readBits(4), 'AudioSpecificConfig');
  if (objectType === OBJECT_TYPE_SBR || objectType === OBJECT_TYPE_PS) {
    readSamplingFrequency(r); // extensionSamplingFrequencyIndex
    readObjectType(r); // the core audioObjectType
  }
  return { objectType, sampleRate, sampleRateIndex, channels };
}

/** GetAudioObjectType(), ISO/IEC 14496-3 §1.6.2.1. */
function readObjectType(r: BitReader): number {
  const objectType = r.readBits(5);
  return objectType === 31 ? 32 + r.readBits(6) : objectType;
}

function readSamplingFrequency(r: BitReader): { index: number; rate: number } {
  const index = r.readBits(4);
  if (index === 15) {
    const rate = r.readBits(24);
    if (rate === 0) throw new CodecError('AudioSpecificConfig: explicit samplingFrequency is 0');
    return { index, rate };
  }
  const rate = SAMPLE_RATES[index];
  if (rate === undefined) throw new CodecError(`AudioSpecificConfig: samplingFrequencyIndex ${index} is reserved`);
  return { index, rate };
}

function channelsOf(channelConfiguration: number, what: string): number {
  const channels = CHANNELS_BY_CONFIG[channelConfiguration] ?? -1;
  if (channels < 0) throw new CodecError(`${what}: channelConfiguration ${channelConfiguration} is reserved`);
  return channels;
}

function channelConfigurationOf(channels: number, what: string): number {
  if (channels >= 1 && channels <= 6) return channels;
  if (channels === 8) return 7;
  throw new CodecError(`${what}: ${channels} channels cannot be signalled; supported: 1-6, 8`);
}

/**
 * Builds an AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1) with a plain GASpecificConfig
 * (§4.4.1: 1024-sample frames, no core coder, no extension): 2 bytes for the rates of
 * Table 1.18, 5 bytes for any other rate. Object types 5 and 29 are written with explicit
 * hierarchical signalling over an AAC-LC core at `sampleRate`, the SBR rate being twice that.
 */
export function buildAudioSpecificConfig(config: AacConfig): Buffer {
  const { objectType, sampleRate, channels } = config;
  const sbr = objectType === OBJECT_TYPE_SBR || objectType === OBJECT_TYPE_PS;
  if (!sbr && (objectType < 1 || objectType > 4)) {
    throw new CodecError(`AudioSpecificConfig: cannot build object type ${objectType}; supported: 1-4 (AAC Main, LC, SSR, LTP), 5 (SBR), 29 (PS)`);
  }
  if (!Number.isInteger(sampleRate) || sampleRate <= 0 || sampleRate > 0xffffff) {
    throw new CodecError(`AudioSpecificConfig: sample rate ${sampleRate} is not a positive 24-bit integer`);
  }
  const fields: [value: number, bits: number][] = [[objectType, 5]];
  pushSamplingFrequency(fields, sampleRate);
  fields.push([channelConfigurationOf(channels, 'AudioSpecificConfig'), 4]);
  if (sbr) {
    pushSamplingFrequency(fields, sampleRate * 2);
    fields.push([2, 5]);
  }
  fields.push([0, 3]); // frameLengthFlag, dependsOnCoreCoder, extensionFlag
  return packBits(fields);
}

function pushSamplingFrequency(fields: [number, number][], rate: number): void {
  const index = SAMPLE_RATES.indexOf(rate);
  if (index >= 0) {
    fields.push([index, 4]);
  } else {
    fields.push([15, 4], [rate, 24]);
  }
}

/** MSB-first concatenation of `fields`, zero-padded to whole bytes. */
function packBits(fields: readonly [value: number, bits: number][]): Buffer {
  let total = 0;
  for (const [, bits] of fields) total += bits;
  const out = Buffer.alloc((total + 7) >>> 3);
  let pos = 0;
  for (const [value, bits] of fields) {
    for (let i = bits - 1; i >= 0; i--, pos++) {
      if (Math.floor(value / 2 ** i) % 2 === 1) out[pos >>> 3]! |= 0x80 >>> (pos & 7);
    }
  }
  return out;
}

/**
 * Parses an ADTS header (ISO/IEC 14496-3 §1.A.2.2.1 adts_fixed_header + adts_variable_header)
 * at `offset`. Returns null when fewer than 7 bytes remain or there is no syncword there;
 * throws CodecError when the header is there but invalid.
 */
export function parseAdtsHeader(buf: Buffer, offset = 0): AdtsHeader | null {
  if (offset < 0 || offset + 7 > buf.length) return null;
  if (buf[offset] !== 0xff || (buf[offset + 1]! & 0xf6) !== 0xf0) return null; // syncword, layer 0
  const protectionAbsent = buf[offset + 1]! & 1;
  const b2 = buf[offset + 2]!;
  const b3 = buf[offset + 3]!;
  const objectType = (b2 >> 6) + 1;
  const sampleRateIndex = (b2 >> 2) & 0xf;
  const sampleRate = SAMPLE_RATES[sampleRateIndex];
  if (sampleRate === undefined) throw new CodecError(`ADTS: sampling_frequency_index ${sampleRateIndex} is reserved`);
  const channels = channelsOf(((b2 & 1) << 2) | (b3 >> 6), 'ADTS');
  const frameLength = ((b3 & 3) << 11) | (buf[offset + 4]! << 3) | (buf[offset + 5]! >> 5);
  const rawDataBlocks = (buf[offset + 6]! & 3) + 1;
  // adts_error_check / adts_header_error_check: a CRC, plus raw_data_block_position per extra block.
  const headerLength = protectionAbsent ? 7 : 7 + 2 * rawDataBlocks;
  if (frameLength < headerLength) throw new CodecError(`ADTS: frame_length ${frameLength} is shorter than the ${headerLength}-byte header`);
  return { objectType, sampleRate, channels, headerLength, frameLength };
}

/**
 * Splits consecutive ADTS frames into raw AAC access units (subarrays of `buf`). Throws
 * CodecError on a missing syncword, a truncated frame, or a frame with several raw data blocks.
 */
export function adtsToRaw(buf: Buffer): Buffer[] {
  const units: Buffer[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const header = parseAdtsHeader(buf, offset);
    if (header === null) throw new CodecError(`ADTS: no frame header at offset ${offset}`);
    if ((buf[offset + 6]! & 3) !== 0) {
      throw new CodecError(`ADTS: frame at offset ${offset} has ${(buf[offset + 6]! & 3) + 1} raw data blocks; supported: 1`);
    }
    const end = offset + header.frameLength;
    if (end > buf.length) throw new CodecError(`ADTS: frame at offset ${offset} needs ${header.frameLength} bytes, ${buf.length - offset} left`);
    units.push(buf.subarray(offset + header.headerLength, end));
    offset = end;
  }
  return units;
}

/**
 * A 7-byte ADTS header without CRC for one raw data block of `payloadLength` bytes
 * (ISO/IEC 14496-3 §1.A.2.2.1). SBR/PS (object types 5, 29) are signalled implicitly: the
 * header describes the AAC-LC core. Buffer fullness is 0x7FF (variable bit rate).
 */
export function buildAdtsHeader(config: AacConfig, payloadLength: number): Buffer {
  const coreType = config.objectType === OBJECT_TYPE_SBR || config.objectType === OBJECT_TYPE_PS ? 2 : config.objectType;
  if (coreType < 1 || coreType > 4) {
    throw new CodecError(`ADTS: object type ${config.objectType} cannot be signalled; supported: 1-4, 5, 29`);
  }
  const sampleRateIndex = SAMPLE_RATES.indexOf(config.sampleRate);
  if (sampleRateIndex < 0) {
    throw new CodecError(`ADTS: sample rate ${config.sampleRate} cannot be signalled; supported: ${SAMPLE_RATES.join(', ')}`);
  }
  const channelConfiguration = channelConfigurationOf(config.channels, 'ADTS');
  const frameLength = 7 + payloadLength;
  if (!Number.isInteger(payloadLength) || payloadLength < 0 || frameLength > 0x1fff) {
    throw new CodecError(`ADTS: payload of ${payloadLength} bytes does not fit a frame (max ${0x1fff - 7})`);
  }
  const out = Buffer.allocUnsafe(7);
  out[0] = 0xff;
  out[1] = 0xf1; // MPEG-4, layer 0, protection_absent
  out[2] = ((coreType - 1) << 6) | (sampleRateIndex << 2) | (channelConfiguration >> 2);
  out[3] = ((channelConfiguration & 3) << 6) | (frameLength >> 11);
  out[4] = (frameLength >> 3) & 0xff;
  out[5] = ((frameLength & 7) << 5) | 0x1f;
  out[6] = 0xfc;
  return out;
}

/** RFC 6381 §3.3 codecs parameter for MPEG-4 audio: "mp4a.40." + audioObjectType. */
export function aacCodecString(asc: Buffer): string {
  return `mp4a.40.${parseAudioSpecificConfig(asc).objectType}`;
}

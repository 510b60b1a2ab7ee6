import { readNaluLength } from './annexb.js';
import { BitReader, removeEmulationPrevention } from './bits.js';
import { CodecError } from './errors.js';

/** nal_unit_type values, H.264 Table 7-1. */
export const H264_NAL_IDR = 5;
export const H264_NAL_SEI = 6;
export const H264_NAL_SPS = 7;
export const H264_NAL_PPS = 8;
export const H264_NAL_AUD = 9;

export interface H264SpsInfo {
  readonly profileIdc: number;
  /** constraint_set0_flag..constraint_set5_flag and the two reserved bits, as one byte. */
  readonly constraintFlags: number;
  readonly levelIdc: number;
  /** Luma samples after frame cropping. */
  readonly width: number;
  readonly height: number;
  /** time_scale / (2 * num_units_in_tick) from the VUI timing info (§E.2.1); 0 when absent. */
  readonly fps: number;
  readonly chromaFormatIdc: number;
  /** Luma bit depth. */
  readonly bitDepth: number;
  readonly bitDepthChroma: number;
}

/** nal_unit_type from the NAL unit header (H.264 §7.3.1). */
export function h264NalType(nal: Buffer): number {
  return nal.length === 0 ? -1 : nal[0]! & 0x1f;
}

/** profile_idc values whose SPS carries chroma_format_idc and bit depths (H.264 §7.3.2.1.1). */
const HIGH_SPS_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

/** profile_idc values whose AVCDecoderConfigurationRecord has the chroma/bit-depth trailer (ISO/IEC 14496-15 §5.3.3.1.2). */
const HIGH_RECORD_PROFILES = new Set([100, 110, 122, 144]);

/**
 * Parses seq_parameter_set_data() (H.264 §7.3.2.1.1) and the VUI up to timing_info (§E.1.1).
 * `sps` is the whole NAL unit, header byte included, as found in Annex-B or a decoder record.
 */
export function parseH264Sps(sps: Buffer): H264SpsInfo {
  if (sps.length < 4) throw new CodecError(`H.264 SPS: ${sps.length} bytes is too short`);
  const type = h264NalType(sps);
  if (type !== H264_NAL_SPS) throw new CodecError(`H.264 SPS: NAL unit type is ${type}, expected ${H264_NAL_SPS}`);
  const r = new BitReader(removeEmulationPrevention(sps), 'H.264 SPS');
  r.skipBits(8);
  const profileIdc = r.readBits(8);
  const constraintFlags = r.readBits(8);
  const levelIdc = r.readBits(8);
  r.readUEMax(31, 'seq_parameter_set_id');

  let chromaFormatIdc = 1;
  let separateColourPlane = false;
  let bitDepth = 8;
  let bitDepthChroma = 8;
  if (HIGH_SPS_PROFILES.has(profileIdc)) {
    chromaFormatIdc = r.readUEMax(3, 'chroma_format_idc');
    if (chromaFormatIdc === 3) separateColourPlane = r.readFlag();
    bitDepth = 8 + r.readUEMax(6, 'bit_depth_luma_minus8');
    bitDepthChroma = 8 + r.readUEMax(6, 'bit_depth_chroma_minus8');
    r.skipBits(1); // qpprime_y_zero_transform_bypass_flag
    if (r.readFlag()) {
      const lists = chromaFormatIdc === 3 ? 12 : 8;
      for (let i = 0; i < lists; i++) {
        if (r.readFlag()) skipScalingList(r, i < 6 ? 16 : 64);
      }
    }
  }

  r.readUEMax(12, 'log2_max_frame_num_minus4');
  const pocType = r.readUEMax(2, 'pic_order_cnt_type');
  if (pocType === 0) {
    r.readUEMax(12, 'log2_max_pic_order_cnt_lsb_minus4');
  } else if (pocType === 1) {
    r.skipBits(1); // delta_pic_order_always_zero_flag
    r.readSE(); // offset_for_non_ref_pic
    r.readSE(); // offset_for_top_to_bottom_field
    const cycle = r.readUEMax(255, 'num_ref_frames_in_pic_order_cnt_cycle');
    for (let i = 0; i < cycle; i++) r.readSE();
  }
  r.readUE(); // max_num_ref_frames
  r.skipBits(1); // gaps_in_frame_num_value_allowed_flag
  const widthInMbs = r.readUE() + 1;
  const heightInMapUnits = r.readUE() + 1;
  const frameMbsOnly = r.readBit();
  if (frameMbsOnly === 0) r.skipBits(1); // mb_adaptive_frame_field_flag
  r.skipBits(1); // direct_8x8_inference_flag

  let width = widthInMbs * 16;
  let height = (2 - frameMbsOnly) * heightInMapUnits * 16;
  if (r.readFlag()) {
    // Crop units, equations 7-19 to 7-22: ChromaArrayType 0 crops in luma samples.
    const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
    const subWidthC = chromaArrayType === 1 || chromaArrayType === 2 ? 2 : 1;
    const subHeightC = chromaArrayType === 1 ? 2 : 1;
    const cropUnitX = subWidthC;
    const cropUnitY = subHeightC * (2 - frameMbsOnly);
    const left = r.readUE();
    const right = r.readUE();
    const top = r.readUE();
    const bottom = r.readUE();
    width -= cropUnitX * (left + right);
    height -= cropUnitY * (top + bottom);
    if (width <= 0 || height <= 0) throw new CodecError('H.264 SPS: frame cropping removes the whole picture');
  }

  let fps = 0;
  if (r.readFlag()) fps = parseVuiFps(r);

  return { profileIdc, constraintFlags, levelIdc, width, height, fps, chromaFormatIdc, bitDepth, bitDepthChroma };
}

/** scaling_list(), H.264 §7.3.2.1.1.1: only the delta_scale values are in the bitstream. */
function skipScalingList(r: BitReader, size: number): void {
  let lastScale = 8;
  let nextScale = 8;
  for (let j = 0; j < size; j++) {
    if (nextScale !== 0) {
      const delta = r.readSE();
      if (delta < -128 || delta > 127) throw new CodecError(`H.264 SPS: delta_scale ${delta} is out of range`);
      nextScale = (lastScale + delta + 256) % 256;
    }
    if (nextScale !== 0) lastScale = nextScale;
  }
}

/** vui_parameters() up to timing_info (H.264 §E.1.1); fps per §E.2.1. */
function parseVuiFps(r: BitReader): number {
  if (r.readFlag()) {
    if (r.readBits(8) === 255) r.skipBits(32); // Extended_SAR: sar_width, sar_height
  }
  if (r.readFlag()) r.skipBits(1); // overscan_appropriate_flag
  if (r.readFlag()) {
    r.skipBits(4); // video_format, video_full_range_flag
    if (r.readFlag()) r.skipBits(24); // colour_primaries, transfer_characteristics, matrix_coefficients
  }
  if (r.readFlag()) {
    r.readUE(); // chroma_sample_loc_type_top_field
    r.readUE(); // chroma_sample_loc_type_bottom_field
  }
  if (!r.readFlag()) return 0;
  const numUnitsInTick = r.readBits(32);
  const timeScale = r.readBits(32);
  return numUnitsInTick === 0 ? 0 : timeScale / (2 * numUnitsInTick);
}

/** RFC 6381 §3.3 codecs parameter: "avc1." + profile_idc, constraint flags, level_idc in hex. */
export function h264CodecString(sps: Buffer): string {
  const info = parseH264Sps(sps);
  return `avc1.${hex2(info.profileIdc)}${hex2(info.constraintFlags)}${hex2(info.levelIdc)}`;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

export interface AvcDecoderConfig {
  readonly profile: number;
  readonly compatibility: number;
  readonly level: number;
  /** Bytes in each NAL unit length field of the samples: 1, 2 or 4. */
  readonly lengthSize: number;
  readonly sps: Buffer[];
  readonly pps: Buffer[];
}

/**
 * Parses an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1.2). Parameter sets are
 * subarrays of `record`. The high-profile trailer (chroma format, bit depths, SPS extensions)
 * is not read: it repeats what the SPS says and many muxers omit it.
 */
export function parseAvcDecoderConfig(record: Buffer): AvcDecoderConfig {
  const r = new BitReader(record, 'AVCDecoderConfigurationRecord');
  const version = r.readBits(8);
  if (version !== 1) throw new CodecError(`AVCDecoderConfigurationRecord: configurationVersion ${version} is not supported; supported: 1`);
  const profile = r.readBits(8);
  const compatibility = r.readBits(8);
  const level = r.readBits(8);
  r.skipBits(6);
  const lengthSize = r.readBits(2) + 1;
  if (lengthSize === 3) throw new CodecError('AVCDecoderConfigurationRecord: lengthSizeMinusOne 2 is reserved; supported: 0, 1, 3');
  r.skipBits(3);
  const sps = readParameterSets(r, r.readBits(5));
  const pps = readParameterSets(r, r.readBits(8));
  return { profile, compatibility, level, lengthSize, sps, pps };
}

function readParameterSets(r: BitReader, count: number): Buffer[] {
  const sets: Buffer[] = [];
  for (let i = 0; i < count; i++) sets.push(r.readBytes(r.readBits(16)));
  return sets;
}

/**
 * Builds an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1.2) with 4-byte NAL unit
 * lengths. Profile, compatibility and level come from the first SPS; for profile_idc 100, 110,
 * 122 and 144 the chroma_format / bit depth trailer is appended with no SPS extensions.
 */
export function buildAvcDecoderConfig(sps: readonly Buffer[], pps: readonly Buffer[]): Buffer {
  const first = sps[0];
  if (first === undefined) throw new CodecError('AVCDecoderConfigurationRecord: at least one SPS is required');
  if (sps.length > 31) throw new CodecError(`AVCDecoderConfigurationRecord: ${sps.length} SPS, at most 31 fit`);
  if (pps.length > 255) throw new CodecError(`AVCDecoderConfigurationRecord: ${pps.length} PPS, at most 255 fit`);
  const info = parseH264Sps(first);
  const trailer = HIGH_RECORD_PROFILES.has(info.profileIdc);
  let size = 7 + (trailer ? 4 : 0);
  for (const set of [...sps, ...pps]) {
    if (set.length > 0xffff) throw new CodecError(`AVCDecoderConfigurationRecord: parameter set of ${set.length} bytes exceeds 65535`);
    size += 2 + set.length;
  }
  const out = Buffer.allocUnsafe(size);
  out[0] = 1;
  out[1] = info.profileIdc;
  out[2] = info.constraintFlags;
  out[3] = info.levelIdc;
  out[4] = 0xfc | 3;
  out[5] = 0xe0 | sps.length;
  let offset = writeParameterSets(out, 6, sps);
  out[offset++] = pps.length;
  offset = writeParameterSets(out, offset, pps);
  if (trailer) {
    out[offset++] = 0xfc | info.chromaFormatIdc;
    out[offset++] = 0xf8 | (info.bitDepth - 8);
    out[offset++] = 0xf8 | (info.bitDepthChroma - 8);
    out[offset++] = 0;
  }
  return out;
}

function writeParameterSets(out: Buffer, offset: number, sets: readonly Buffer[]): number {
  for (const set of sets) {
    out.writeUInt16BE(set.length, offset);
    offset += 2 + set.copy(out, offset + 2);
  }
  return offset;
}

/**
 * Whether a length-prefixed access unit (4-byte lengths) contains an IDR slice (nal_unit_type 5).
 * Throws CodecError if a length runs past the end before an IDR slice is found.
 */
export function h264IsKeyframe(lengthPrefixed: Buffer): boolean {
  let offset = 0;
  while (offset < lengthPrefixed.length) {
    const length = readNaluLength(lengthPrefixed, offset, 4);
    offset += 4;
    if (length > 0 && (lengthPrefixed[offset]! & 0x1f) === H264_NAL_IDR) return true;
    offset += length;
  }
  return false;
}

import { readNaluLength } from './annexb.js';
import { BitReader, removeEmulationPrevention } from './bits.js';
import { CodecError } from './errors.js';

/** nal_unit_type values, H.265 Table 7-1. */
export const H265_NAL_IDR_W_RADL = 19;
export const H265_NAL_IDR_N_LP = 20;
export const H265_NAL_CRA = 21;
export const H265_NAL_VPS = 32;
export const H265_NAL_SPS = 33;
export const H265_NAL_PPS = 34;
export const H265_NAL_AUD = 35;
export const H265_NAL_PREFIX_SEI = 39;

export interface H265SpsInfo {
  readonly generalProfileSpace: number;
  readonly generalProfileIdc: number;
  readonly generalTierFlag: number;
  readonly generalLevelIdc: number;
  /** general_profile_compatibility_flag[0..31], flag j in bit 31 - j. */
  readonly generalProfileCompatibilityFlags: number;
  /** The 48 bits from general_progressive_source_flag to general_inbld_flag (a subarray of the RBSP). */
  readonly generalConstraintIndicatorFlags: Buffer;
  /** sps_max_sub_layers_minus1 + 1. */
  readonly maxSubLayers: number;
  readonly temporalIdNesting: boolean;
  readonly chromaFormatIdc: number;
  /** Luma samples after the conformance window. */
  readonly width: number;
  readonly height: number;
  readonly bitDepthLuma: number;
  readonly bitDepthChroma: number;
  /** vui_time_scale / vui_num_units_in_tick (§E.3.1); 0 when absent or when the VUI cannot be read. */
  readonly fps: number;
}

/** nal_unit_type from the two-byte NAL unit header (H.265 §7.3.1.2). */
export function h265NalType(nal: Buffer): number {
  return nal.length === 0 ? -1 : (nal[0]! >> 1) & 0x3f;
}

/** IRAP pictures are nal_unit_type 16..23 (BLA, IDR, CRA and reserved IRAP types), H.265 §7.4.2.2. */
export function h265IsIrap(type: number): boolean {
  return type >= 16 && type <= 23;
}

/**
 * Parses seq_parameter_set_rbsp() (H.265 §7.3.2.2.1) through the VUI timing info (§E.2.1).
 * `sps` is the whole NAL unit, header included. Fields after the bit depths only lead to the
 * VUI, so if they cannot be read the result carries fps 0 rather than an error.
 */
export function parseH265Sps(sps: Buffer): H265SpsInfo {
  if (sps.length < 3) throw new CodecError(`H.265 SPS: ${sps.length} bytes is too short`);
  const type = h265NalType(sps);
  if (type !== H265_NAL_SPS) throw new CodecError(`H.265 SPS: NAL unit type is ${type}, expected ${H265_NAL_SPS}`);
  const rbsp = removeEmulationPrevention(sps);
  const r = new BitReader(rbsp, 'H.265 SPS');
  r.skipBits(16);
  r.skipBits(4); // sps_video_parameter_set_id
  const maxSubLayersMinus1 = r.readBits(3);
  if (maxSubLayersMinus1 > 6) throw new CodecError(`H.265 SPS: sps_max_sub_layers_minus1 ${maxSubLayersMinus1} is out of range (max 6)`);
  const temporalIdNesting = r.readFlag();

  // profile_tier_level(1, sps_max_sub_layers_minus1), §7.3.3.
  const generalProfileSpace = r.readBits(2);
  const generalTierFlag = r.readBit();
  const generalProfileIdc = r.readBits(5);
  const generalProfileCompatibilityFlags = r.readBits(32);
  const generalConstraintIndicatorFlags = r.readBytes(6);
  const generalLevelIdc = r.readBits(8);
  skipSubLayers(r, maxSubLayersMinus1);

  r.readUEMax(15, 'sps_seq_parameter_set_id');
  const chromaFormatIdc = r.readUEMax(3, 'chroma_format_idc');
  const separateColourPlane = chromaFormatIdc === 3 ? r.readFlag() : false;
  let width = r.readUE();
  let height = r.readUE();
  if (width === 0 || height === 0) throw new CodecError(`H.265 SPS: picture size ${width}x${height} is empty`);
  if (r.readFlag()) {
    // Offsets count chroma samples (§7.4.3.2.1; SubWidthC, SubHeightC from Table 6-1).
    const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
    const subWidthC = chromaArrayType === 1 || chromaArrayType === 2 ? 2 : 1;
    const subHeightC = chromaArrayType === 1 ? 2 : 1;
    const left = r.readUE();
    const right = r.readUE();
    const top = r.readUE();
    const bottom = r.readUE();
    width -= subWidthC * (left + right);
    height -= subHeightC * (top + bottom);
    if (width <= 0 || height <= 0) throw new CodecError('H.265 SPS: conformance window removes the whole picture');
  }
  const bitDepthLuma = 8 + r.readUEMax(8, 'bit_depth_luma_minus8');
  const bitDepthChroma = 8 + r.readUEMax(8, 'bit_depth_chroma_minus8');

  let fps = 0;
  try {
    fps = readFpsAfterBitDepths(r, maxSubLayersMinus1);
  } catch (err) {
    if (!(err instanceof CodecError)) throw err;
  }

  return {
    generalProfileSpace,
    generalProfileIdc,
    generalTierFlag,
    generalLevelIdc,
    generalProfileCompatibilityFlags,
    generalConstraintIndicatorFlags,
    maxSubLayers: maxSubLayersMinus1 + 1,
    temporalIdNesting,
    chromaFormatIdc,
    width,
    height,
    bitDepthLuma,
    bitDepthChroma,
    fps,
  };
}

/** The sub-layer part of profile_tier_level() (§7.3.3), which only has to be skipped. */
function skipSubLayers(r: BitReader, maxSubLayersMinus1: number): void {
  if (maxSubLayersMinus1 === 0) return;
  let profilePresent = 0;
  let levelPresent = 0;
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    profilePresent |= r.readBit() << i;
    levelPresent |= r.readBit() << i;
  }
  r.skipBits(2 * (8 - maxSubLayersMinus1)); // reserved_zero_2bits
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (profilePresent & (1 << i)) r.skipBits(88);
    if (levelPresent & (1 << i)) r.skipBits(8);
  }
}

/** The SPS from log2_max_pic_order_cnt_lsb_minus4 to the VUI timing info (§7.3.2.2.1, §E.2.1). */
function readFpsAfterBitDepths(r: BitReader, maxSubLayersMinus1: number): number {
  const log2MaxPocLsb = 4 + r.readUEMax(12, 'log2_max_pic_order_cnt_lsb_minus4');
  const orderingInfoForAll = r.readFlag();
  for (let i = orderingInfoForAll ? 0 : maxSubLayersMinus1; i <= maxSubLayersMinus1; i++) {
    r.readUE(); // sps_max_dec_pic_buffering_minus1
    r.readUE(); // sps_max_num_reorder_pics
    r.readUE(); // sps_max_latency_increase_plus1
  }
  r.readUE(); // log2_min_luma_coding_block_size_minus3
  r.readUE(); // log2_diff_max_min_luma_coding_block_size
  r.readUE(); // log2_min_luma_transform_block_size_minus2
  r.readUE(); // log2_diff_max_min_luma_transform_block_size
  r.readUE(); // max_transform_hierarchy_depth_inter
  r.readUE(); // max_transform_hierarchy_depth_intra
  if (r.readFlag() && r.readFlag()) skipScalingListData(r);
  r.skipBits(2); // amp_enabled_flag, sample_adaptive_offset_enabled_flag
  if (r.readFlag()) {
    r.skipBits(8); // pcm_sample_bit_depth_luma_minus1, pcm_sample_bit_depth_chroma_minus1
    r.readUE(); // log2_min_pcm_luma_coding_block_size_minus3
    r.readUE(); // log2_diff_max_min_pcm_luma_coding_block_size
    r.skipBits(1); // pcm_loop_filter_disabled_flag
  }
  skipShortTermRefPicSets(r, r.readUEMax(64, 'num_short_term_ref_pic_sets'));
  if (r.readFlag()) {
    const count = r.readUEMax(32, 'num_long_term_ref_pics_sps');
    r.skipBits(count * (log2MaxPocLsb + 1)); // lt_ref_pic_poc_lsb_sps, used_by_curr_pic_lt_sps_flag
  }
  r.skipBits(2); // sps_temporal_mvp_enabled_flag, strong_intra_smoothing_enabled_flag
  return r.readFlag() ? readVuiFps(r) : 0;
}

/** scaling_list_data(), H.265 §7.3.4. */
function skipScalingListData(r: BitReader): void {
  for (let sizeId = 0; sizeId < 4; sizeId++) {
    const coefNum = Math.min(64, 1 << (4 + (sizeId << 1)));
    for (let matrixId = 0; matrixId < 6; matrixId += sizeId === 3 ? 3 : 1) {
      if (!r.readFlag()) {
        r.readUE(); // scaling_list_pred_matrix_id_delta
        continue;
      }
      if (sizeId > 1) r.readSE(); // scaling_list_dc_coef_minus8
      for (let i = 0; i < coefNum; i++) r.readSE(); // scaling_list_delta_coef
    }
  }
}

/**
 * st_ref_pic_set(stRpsIdx) for every set in the SPS (H.265 §7.3.7). A set predicted from an
 * earlier one (inter_ref_pic_set_prediction_flag) has one flag pair per picture of the
 * reference set, so the delta POCs of each set are derived as in equations 7-61 and 7-62.
 */
function skipShortTermRefPicSets(r: BitReader, count: number): void {
  const negative: number[][] = [];
  const positive: number[][] = [];
  for (let idx = 0; idx < count; idx++) {
    const s0: number[] = [];
    const s1: number[] = [];
    if (idx !== 0 && r.readFlag()) {
      // In the SPS delta_idx_minus1 is absent and inferred 0: the reference is the previous set.
      const refS0 = negative[idx - 1]!;
      const refS1 = positive[idx - 1]!;
      const sign = r.readBit();
      const deltaRps = (1 - 2 * sign) * (r.readUEMax(0x7fff, 'abs_delta_rps_minus1') + 1);
      const refCount = refS0.length + refS1.length;
      const useDelta: boolean[] = [];
      for (let j = 0; j <= refCount; j++) {
        const usedByCurr = r.readFlag();
        useDelta.push(usedByCurr || r.readFlag());
      }
      for (let j = refS1.length - 1; j >= 0; j--) {
        const dPoc = refS1[j]! + deltaRps;
        if (dPoc < 0 && useDelta[refS0.length + j]) s0.push(dPoc);
      }
      if (deltaRps < 0 && useDelta[refCount]) s0.push(deltaRps);
      for (let j = 0; j < refS0.length; j++) {
        const dPoc = refS0[j]! + deltaRps;
        if (dPoc < 0 && useDelta[j]) s0.push(dPoc);
      }
      for (let j = refS0.length - 1; j >= 0; j--) {
        const dPoc = refS0[j]! + deltaRps;
        if (dPoc > 0 && useDelta[j]) s1.push(dPoc);
      }
      if (deltaRps > 0 && useDelta[refCount]) s1.push(deltaRps);
      for (let j = 0; j < refS1.length; j++) {
        const dPoc = refS1[j]! + deltaRps;
        if (dPoc > 0 && useDelta[refS0.length + j]) s1.push(dPoc);
      }
    } else {
      const numNegative = r.readUEMax(16, 'num_negative_pics');
      const numPositive = r.readUEMax(16, 'num_positive_pics');
      let poc = 0;
      for (let i = 0; i < numNegative; i++) {
        poc -= r.readUEMax(0x7fff, 'delta_poc_s0_minus1') + 1;
        r.skipBits(1); // used_by_curr_pic_s0_flag
        s0.push(poc);
      }
      poc = 0;
      for (let i = 0; i < numPositive; i++) {
        poc += r.readUEMax(0x7fff, 'delta_poc_s1_minus1') + 1;
        r.skipBits(1); // used_by_curr_pic_s1_flag
        s1.push(poc);
      }
    }
    if (s0.length + s1.length > 32) throw new CodecError(`H.265 SPS: short-term RPS ${idx} has ${s0.length + s1.length} pictures`);
    negative.push(s0);
    positive.push(s1);
  }
}

/** vui_parameters() up to the timing info, H.265 §E.2.1. */
function readVuiFps(r: BitReader): number {
  if (r.readFlag()) {
    if (r.readBits(8) === 255) r.skipBits(32); // Extended_SAR: sar_width, sar_height
  }
  if (r.readFlag()) r.skipBits(1); // overscan_appropriate_flag
  if (r.readFlag()) {
    r.skipBits(4); // video_format, video_full_range_flag
    if (r.readFlag()) r.skipBits(24); // colour_primaries, transfer_characteristics, matrix_coeffs
  }
  if (r.readFlag()) {
    r.readUE(); // chroma_sample_loc_type_top_field
    r.readUE(); // chroma_sample_loc_type_bottom_field
  }
  r.skipBits(3); // neutral_chroma_indication_flag, field_seq_flag, frame_field_info_present_flag
  if (r.readFlag()) {
    for (let i = 0; i < 4; i++) r.readUE(); // def_disp_win_*_offset
  }
  if (!r.readFlag()) return 0;
  const numUnitsInTick = r.readBits(32);
  const timeScale = r.readBits(32);
  return numUnitsInTick === 0 ? 0 : timeScale / numUnitsInTick;
}

/**
 * ISO/IEC 14496-15 Annex E codecs parameter, e.g. "hvc1.1.6.L93.B0": profile space letter and
 * profile_idc, the compatibility flags bit-reversed in hex, tier letter and level_idc, then the
 * constraint bytes in hex with trailing zero bytes left out.
 */
export function h265CodecString(sps: Buffer): string {
  const info = parseH265Sps(sps);
  const space = info.generalProfileSpace === 0 ? '' : String.fromCharCode(64 + info.generalProfileSpace);
  let compat = 0;
  for (let i = 0; i < 32; i++) {
    if (info.generalProfileCompatibilityFlags & (1 << i)) compat |= 1 << (31 - i);
  }
  const flags = info.generalConstraintIndicatorFlags;
  let last = flags.length;
  while (last > 0 && flags[last - 1] === 0) last--;
  let constraints = '';
  for (let i = 0; i < last; i++) constraints += '.' + flags[i]!.toString(16).toUpperCase();
  const tier = info.generalTierFlag === 1 ? 'H' : 'L';
  return `hvc1.${space}${info.generalProfileIdc}.${(compat >>> 0).toString(16).toUpperCase()}.${tier}${info.generalLevelIdc}${constraints}`;
}

export interface HevcDecoderConfig {
  /** Bytes in each NAL unit length field of the samples: 1, 2 or 4. */
  readonly lengthSize: number;
  readonly vps: Buffer[];
  readonly sps: Buffer[];
  readonly pps: Buffer[];
  readonly generalProfileIdc: number;
  readonly generalLevelIdc: number;
}

/**
 * Parses an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 §8.3.3.1.2). NAL units are
 * subarrays of `record`, sorted by the NAL_unit_type of their array; arrays of other types
 * (SEI) are skipped.
 */
export function parseHevcDecoderConfig(record: Buffer): HevcDecoderConfig {
  const r = new BitReader(record, 'HEVCDecoderConfigurationRecord');
  const version = r.readBits(8);
  if (version !== 1) throw new CodecError(`HEVCDecoderConfigurationRecord: configurationVersion ${version} is not supported; supported: 1`);
  r.skipBits(3); // general_profile_space, general_tier_flag
  const generalProfileIdc = r.readBits(5);
  r.skipBits(32 + 48); // general_profile_compatibility_flags, general_constraint_indicator_flags
  const generalLevelIdc = r.readBits(8);
  // min_spatial_segmentation_idc, parallelismType, chromaFormat, bit depths, avgFrameRate,
  // constantFrameRate, numTemporalLayers, temporalIdNested, each with its reserved bits.
  r.skipBits(16 + 8 + 8 + 8 + 8 + 16 + 6);
  const lengthSize = r.readBits(2) + 1;
  if (lengthSize === 3) throw new CodecError('HEVCDecoderConfigurationRecord: lengthSizeMinusOne 2 is reserved; supported: 0, 1, 3');
  const vps: Buffer[] = [];
  const sps: Buffer[] = [];
  const pps: Buffer[] = [];
  const numOfArrays = r.readBits(8);
  for (let i = 0; i < numOfArrays; i++) {
    r.skipBits(2); // array_completeness, reserved
    const type = r.readBits(6);
    const target = type === H265_NAL_VPS ? vps : type === H265_NAL_SPS ? sps : type === H265_NAL_PPS ? pps : undefined;
    const numNalus = r.readBits(16);
    for (let j = 0; j < numNalus; j++) {
      const nalu = r.readBytes(r.readBits(16));
      target?.push(nalu);
    }
  }
  return { lengthSize, vps, sps, pps, generalProfileIdc, generalLevelIdc };
}

/**
 * Builds an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 §8.3.3.1.2) with 4-byte NAL unit
 * lengths. Profile, tier, level, constraint flags, chroma format, bit depths, sub-layer count
 * and frame rate come from the first SPS; min_spatial_segmentation_idc and parallelismType are
 * 0 (unknown). Each non-empty array is marked complete.
 */
export function buildHevcDecoderConfig(vps: readonly Buffer[], sps: readonly Buffer[], pps: readonly Buffer[]): Buffer {
  const first = sps[0];
  if (first === undefined) throw new CodecError('HEVCDecoderConfigurationRecord: at least one SPS is required');
  const info = parseH265Sps(first);
  if (info.bitDepthLuma > 15 || info.bitDepthChroma > 15) throw new CodecError('HEVCDecoderConfigurationRecord: bit depths above 15 do not fit');
  const arrays: [number, readonly Buffer[]][] = [
    [H265_NAL_VPS, vps],
    [H265_NAL_SPS, sps],
    [H265_NAL_PPS, pps],
  ];
  let size = 23;
  for (const [, nalus] of arrays) {
    if (nalus.length === 0) continue;
    if (nalus.length > 0xffff) throw new CodecError(`HEVCDecoderConfigurationRecord: ${nalus.length} NAL units in one array, at most 65535 fit`);
    size += 3;
    for (const nalu of nalus) {
      if (nalu.length > 0xffff) throw new CodecError(`HEVCDecoderConfigurationRecord: NAL unit of ${nalu.length} bytes exceeds 65535`);
      size += 2 + nalu.length;
    }
  }
  const avgFrameRate = Math.round(info.fps * 256);
  const out = Buffer.allocUnsafe(size);
  out[0] = 1;
  out[1] = (info.generalProfileSpace << 6) | (info.generalTierFlag << 5) | info.generalProfileIdc;
  out.writeUInt32BE(info.generalProfileCompatibilityFlags >>> 0, 2);
  info.generalConstraintIndicatorFlags.copy(out, 6);
  out[12] = info.generalLevelIdc;
  out.writeUInt16BE(0xf000, 13);
  out[15] = 0xfc;
  out[16] = 0xfc | info.chromaFormatIdc;
  out[17] = 0xf8 | (info.bitDepthLuma - 8);
  out[18] = 0xf8 | (info.bitDepthChroma - 8);
  out.writeUInt16BE(avgFrameRate <= 0xffff ? avgFrameRate : 0, 19);
  out[21] = (info.maxSubLayers << 3) | ((info.temporalIdNesting ? 1 : 0) << 2) | 3;
  out[22] = arrays.filter(([, nalus]) => nalus.length > 0).length;
  let offset = 23;
  for (const [type, nalus] of arrays) {
    if (nalus.length === 0) continue;
    out[offset] = 0x80 | type;
    out.writeUInt16BE(nalus.length, offset + 1);
    offset += 3;
    for (const nalu of nalus) {
      out.writeUInt16BE(nalu.length, offset);
      offset += 2 + nalu.copy(out, offset + 2);
    }
  }
  return out;
}

/**
 * Whether a length-prefixed access unit (4-byte lengths) contains an IRAP picture (IDR, CRA, BLA).
 * Throws CodecError if a length runs past the end before one is found.
 */
export function h265IsKeyframe(lengthPrefixed: Buffer): boolean {
  let offset = 0;
  while (offset < lengthPrefixed.length) {
    const length = readNaluLength(lengthPrefixed, offset, 4);
    offset += 4;
    if (length > 0 && h265IsIrap((lengthPrefixed[offset]! >> 1) & 0x3f)) return true;
    offset += length;
  }
  return false;
}

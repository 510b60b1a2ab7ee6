export { CodecError } from './errors.js';
export { BitReader, removeEmulationPrevention } from './bits.js';
export {
  annexBToLengthPrefixed,
  lengthPrefixedToAnnexB,
  nalusToLengthPrefixed,
  splitAnnexB,
  splitLengthPrefixed,
} from './annexb.js';
export {
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
} from './h264.js';
export type { AvcDecoderConfig, H264SpsInfo } from './h264.js';
export {
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
} from './h265.js';
export type { H265SpsInfo, HevcDecoderConfig } from './h265.js';
export {
  aacCodecString,
  adtsToRaw,
  buildAdtsHeader,
  buildAudioSpecificConfig,
  parseAdtsHeader,
  parseAudioSpecificConfig,
} from './aac.js';
export type { AacConfig, AdtsHeader, AudioSpecificConfigInfo } from './aac.js';

/**
 * Real parameter sets shared by the codec tests and the fuzz test that mutates them.
 *
 * Unless marked "crafted", each was extracted from an Annex-B stream made with ffmpeg 5.1
 * (`ffmpeg -f lavfi -i testsrc2=size=WxH:rate=R -t 0.2 -c:v libx264|libx265 ... -f h264|hevc`)
 * and the expected size and rate are what ffprobe reported for that stream. The crafted sets
 * reach syntax the encoders never write (SPS scaling lists, pic_order_cnt_type 1, separate
 * colour planes, inter-predicted RPS, long-term refs, PCM, sub-layer PTL); each was spliced
 * into a real stream and checked field by field with `-bsf:v trace_headers`.
 */

export const hex = (s: string): Buffer => Buffer.from(s, 'hex');

export interface H264SpsCase {
  readonly name: string;
  readonly sps: string;
  readonly pps: string;
  readonly profileIdc: number;
  readonly constraintFlags: number;
  readonly levelIdc: number;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly chromaFormatIdc: number;
  readonly bitDepth: number;
  readonly codec: string;
}

export const H264_SPS_CASES: readonly H264SpsCase[] = [
  {
    name: '1280x720@30 High (-preset veryfast -profile:v high)',
    sps: '6764001facd9405005bb0110000003001000000303c0f1831960',
    pps: '68ef8fcb',
    profileIdc: 100, constraintFlags: 0x00, levelIdc: 31,
    width: 1280, height: 720, fps: 30, chromaFormatIdc: 1, bitDepth: 8, codec: 'avc1.64001f',
  },
  {
    name: '1920x1080@25 Main, cropped from 1088',
    sps: '674d4028eca03c0113f2e022000003000200000300641e30632c',
    pps: '68ef8fc8',
    profileIdc: 77, constraintFlags: 0x40, levelIdc: 40,
    width: 1920, height: 1080, fps: 25, chromaFormatIdc: 1, bitDepth: 8, codec: 'avc1.4d4028',
  },
  {
    name: '854x480@29.97 Constrained Baseline, cropped from 864',
    sps: '6742c01fda0360f79bc04400000fa40003a9803c60ca80',
    pps: '68ce0fc8',
    profileIdc: 66, constraintFlags: 0xc0, levelIdc: 31,
    width: 854, height: 480, fps: 30000 / 1001, chromaFormatIdc: 1, bitDepth: 8, codec: 'avc1.42c01f',
  },
  {
    name: '1920x1080i25 High, frame_mbs_only_flag 0 (-flags +ildct+ilme)',
    sps: '67640028acd94078044fde0220000003002000000643e2c5b2c0',
    pps: '68fe8fcb',
    profileIdc: 100, constraintFlags: 0x00, levelIdc: 40,
    width: 1920, height: 1080, fps: 25, chromaFormatIdc: 1, bitDepth: 8, codec: 'avc1.640028',
  },
  {
    name: '640x360@50 High 4:2:2 10-bit (-pix_fmt yuv422p10le)',
    sps: '677a001fb6cb405017fc4e0220000003002000000c81e30654',
    pps: '68ce0fc8',
    profileIdc: 122, constraintFlags: 0x00, levelIdc: 31,
    width: 640, height: 360, fps: 50, chromaFormatIdc: 2, bitDepth: 10, codec: 'avc1.7a001f',
  },
  {
    name: '320x240@24 High 4:4:4 Predictive (-pix_fmt yuv444p)',
    sps: '67f4000d91968141fb011000000300100000030300f142aa',
    pps: '68ce0f1920',
    profileIdc: 244, constraintFlags: 0x00, levelIdc: 13,
    width: 320, height: 240, fps: 24, chromaFormatIdc: 3, bitDepth: 8, codec: 'avc1.f4000d',
  },
  {
    name: '854x478@15 High 10 monochrome, ChromaArrayType 0 crop units (-pix_fmt gray10le)',
    sps: '676e001edb2d01b07bc5de02d90000030001000003001e0f162ea0',
    pps: '68ce0fc8',
    profileIdc: 110, constraintFlags: 0x00, levelIdc: 30,
    width: 854, height: 478, fps: 15, chromaFormatIdc: 0, bitDepth: 10, codec: 'avc1.6e001e',
  },
  {
    name: '352x288@60 High, VUI with Extended_SAR 7:5, overscan, video signal, chroma loc, NAL HRD',
    sps: '6764001eacd9416096ffc001c00169c040406940000003004000001e1818003d090007a129b4e01e2c5b2c',
    pps: '68ebe3cb22c0',
    profileIdc: 100, constraintFlags: 0x00, levelIdc: 30,
    width: 352, height: 288, fps: 60, chromaFormatIdc: 1, bitDepth: 8, codec: 'avc1.64001e',
  },
  {
    name: '616x470@30, frame cropping 8/16/4/6 and SAR 4:3 (-bsf:v h264_metadata)',
    sps: '6742c01eda0280f728964c3840000003004000000f03c58ba8',
    pps: '68ce0fc8',
    profileIdc: 66, constraintFlags: 0xc0, levelIdc: 30,
    width: 616, height: 470, fps: 30, chromaFormatIdc: 1, bitDepth: 8, codec: 'avc1.42c01e',
  },
  {
    name: 'crafted: 1280x720 High, SPS scaling lists (explicit, default, early stop), pic_order_cnt_type 1, VUI without timing',
    sps: '6764001fad91b23646c8d91b2211881470e9aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa846854421c41005005bb010080',
    pps: '68ef8fcb',
    profileIdc: 100, constraintFlags: 0x00, levelIdc: 31,
    width: 1280, height: 720, fps: 0, chromaFormatIdc: 1, bitDepth: 8, codec: 'avc1.64001f',
  },
  {
    name: 'crafted: 716x568 High 4:4:4 10-bit, separate colour planes, 12 scaling lists, field coding, crop 2/2/1/3, 29.97',
    sps:
      '67f4001e92db33a215d10ae8854ce8857442ba21667442ba215d10a99d10ae8857442cce8857442ba215d10ae8857442ba215d10ae8857442ba215d10ae933a' +
      '215d10ae8857442ba215d10ae8857442ba215d10ae8857442ba99d10ae8857442ba215d10ae8857442ba215d10ae8857442ba215d267442ba215d10ae885744' +
      '2ba215d10ae8857442ba215d10ae88574e42816849db44ffc0040003fa40404069c00000fa40003a9821',
    pps: '68ce0fc8',
    profileIdc: 244, constraintFlags: 0x00, levelIdc: 30,
    width: 716, height: 568, fps: 60000 / 2002, chromaFormatIdc: 3, bitDepth: 10, codec: 'avc1.f4001e',
  },
];

export interface H265SpsCase {
  readonly name: string;
  readonly vps: string;
  readonly sps: string;
  readonly pps: string;
  readonly generalProfileIdc: number;
  readonly generalLevelIdc: number;
  readonly generalProfileCompatibilityFlags: number;
  readonly generalConstraintIndicatorFlags: string;
  readonly chromaFormatIdc: number;
  readonly width: number;
  readonly height: number;
  readonly bitDepth: number;
  readonly fps: number;
  readonly maxSubLayers: number;
  readonly codec: string;
}

const X265_PPS = '4401c073c189';

export const H265_SPS_CASES: readonly H265SpsCase[] = [
  {
    name: '640x360@30 Main',
    vps: '40010c01ffff01600000030090000003000003003f959409',
    sps: '42010101600000030090000003000003003fa005020171f2e595952930bc05a020000003002000000303c1',
    pps: X265_PPS,
    generalProfileIdc: 1, generalLevelIdc: 63, generalProfileCompatibilityFlags: 0x60000000, generalConstraintIndicatorFlags: '900000000000',
    chromaFormatIdc: 1, width: 640, height: 360, bitDepth: 8, fps: 30, maxSubLayers: 1, codec: 'hvc1.1.6.L63.90',
  },
  {
    name: '1920x1080@25 Main, conformance window from 1088 (min-cu-size=16)',
    vps: '40010c01ffff016000000300900000030000030078959409',
    sps: '420101016000000300900000030000030078a003c0801107cb965654a4c2f0168080000003008000000c84',
    pps: X265_PPS,
    generalProfileIdc: 1, generalLevelIdc: 120, generalProfileCompatibilityFlags: 0x60000000, generalConstraintIndicatorFlags: '900000000000',
    chromaFormatIdc: 1, width: 1920, height: 1080, bitDepth: 8, fps: 25, maxSubLayers: 1, codec: 'hvc1.1.6.L120.90',
  },
  {
    name: '854x480@29.97 Main, conformance window from 856',
    vps: '40010c01ffff01600000030090000003000003005a959409',
    sps: '42010101600000030090000003000003005aa006c201e1cde595952930bc05a02000007d20000ea601',
    pps: X265_PPS,
    generalProfileIdc: 1, generalLevelIdc: 90, generalProfileCompatibilityFlags: 0x60000000, generalConstraintIndicatorFlags: '900000000000',
    chromaFormatIdc: 1, width: 854, height: 480, bitDepth: 8, fps: 30000 / 1001, maxSubLayers: 1, codec: 'hvc1.1.6.L90.90',
  },
  {
    name: '1280x720@60 Main 10 (-pix_fmt yuv420p10le)',
    vps: '40010c01ffff022000000300900000030000030078959409',
    sps: '420101022000000300900000030000030078a00280802d136595952930bc05a020000003002000000781',
    pps: X265_PPS,
    generalProfileIdc: 2, generalLevelIdc: 120, generalProfileCompatibilityFlags: 0x20000000, generalConstraintIndicatorFlags: '900000000000',
    chromaFormatIdc: 1, width: 1280, height: 720, bitDepth: 10, fps: 60, maxSubLayers: 1, codec: 'hvc1.2.4.L120.90',
  },
  {
    name: '640x360@24 Main 4:2:2 10 (RExt, -pix_fmt yuv422p10le)',
    vps: '40010c01ffff0408000003009d0800000300003f959409',
    sps: '4201010408000003009d0800000300003fb005020171f12d965654a4c2f0168080000003008000000c04',
    pps: X265_PPS,
    generalProfileIdc: 4, generalLevelIdc: 63, generalProfileCompatibilityFlags: 0x08000000, generalConstraintIndicatorFlags: '9d0800000000',
    chromaFormatIdc: 2, width: 640, height: 360, bitDepth: 10, fps: 24, maxSubLayers: 1, codec: 'hvc1.4.10.L63.9D.8',
  },
  {
    name: '426x240 Main without VUI timing (vui-timing-info=0)',
    vps: '40010c01ffff01600000030090000003000003003c959409',
    sps: '42010101600000030090000003000003003ca00d880f1c9e595952930bc05a0020',
    pps: X265_PPS,
    generalProfileIdc: 1, generalLevelIdc: 60, generalProfileCompatibilityFlags: 0x60000000, generalConstraintIndicatorFlags: '900000000000',
    chromaFormatIdc: 1, width: 426, height: 240, bitDepth: 8, fps: 0, maxSubLayers: 1, codec: 'hvc1.1.6.L60.90',
  },
  {
    name: '720x576@50, 2 temporal sub-layers, default scaling lists, Extended_SAR 7:5, full VUI, display window, HRD',
    vps: '40010c02ffff01600000030090000003000003005d00009598acc048',
    sps:
      '42010201600000030090000003000003005d0000a005a200905965662b349272bffc001c00169c040406d8b2b2c0000003004000000c980736' +
      '1b8003d090007a12e000f424001e8488',
    pps: '4401c172b46240',
    generalProfileIdc: 1, generalLevelIdc: 93, generalProfileCompatibilityFlags: 0x60000000, generalConstraintIndicatorFlags: '900000000000',
    chromaFormatIdc: 1, width: 720, height: 576, bitDepth: 8, fps: 50, maxSubLayers: 2, codec: 'hvc1.1.6.L93.90',
  },
  {
    name: '1920x1080 field_seq_flag 1 (interlace=tff)',
    vps: '40010c01ffff016000000300400000030000030078959409',
    sps: '420101016000000300400000030000030078a003c0801107cb965654a4c2f0168680000003008000000c84',
    pps: X265_PPS,
    generalProfileIdc: 1, generalLevelIdc: 120, generalProfileCompatibilityFlags: 0x60000000, generalConstraintIndicatorFlags: '400000000000',
    chromaFormatIdc: 1, width: 1920, height: 1080, bitDepth: 8, fps: 25, maxSubLayers: 1, codec: 'hvc1.1.6.L120.40',
  },
  {
    name: 'crafted: 634x360@29.97, 3 sub-layers with sub-layer PTL, scaling_list_data, PCM, inter-predicted RPS, long-term refs',
    vps: '40010c01ffff01600000030090000003000003003f959409',
    sps:
      '42010501600000030090000003000003005dd00001600000030090000003000003005a3ca005020171a72e59598acc5669244baebaeb9575d75cab' +
      'aebae4d75d75d75d75d75d75d75d75cabaebaebaebaebaebaebaebae55d75d75d75d75d75d75d75d78a5d75d75d75d75d75d75d75d728a5d75d75d' +
      '75d75d75d75d75d728a5d75d75d75d75d75d75d75d7262975d75d75d75d75d75d75d75fbbd4cd6abec2f2f53623c87ff80020001fa848804d2389e' +
      '000007d20000ea6188',
    pps: X265_PPS,
    generalProfileIdc: 1, generalLevelIdc: 93, generalProfileCompatibilityFlags: 0x60000000, generalConstraintIndicatorFlags: '900000000000',
    chromaFormatIdc: 1, width: 634, height: 360, bitDepth: 8, fps: 30000 / 1001, maxSubLayers: 3, codec: 'hvc1.1.6.L93.90',
  },
];

/** Decoder configuration records written by ffmpeg's mp4 muxer (`-c copy -tag:v avc1|hvc1 out.mp4`) for the streams above. */
export const FFMPEG_AVCC = [
  { name: '1280x720 High', record: '0164001fffe1001a6764001facd9405005bb0110000003001000000303c0f183196001000468ef8fcbfdf8f800', sps: 0 },
  { name: '854x480 Baseline', record: '0142c01fffe100176742c01fda0360f79bc04400000fa40003a9803c60ca8001000468ce0fc8', sps: 2 },
  { name: '640x360 High 4:2:2 10-bit', record: '017a001fffe10019677a001fb6cb405017fc4e0220000003002000000c81e3065401000468ce0fc8fefafa00', sps: 4 },
] as const;

export const FFMPEG_HVCC = [
  {
    name: '640x360 Main',
    record:
      '0101600000009000000000003ff000fcfdf8f800000f03a00001001840010c01ffff01600000030090000003000003003f959409a10001002b42010101' +
      '600000030090000003000003003fa005020171f2e595952930bc05a020000003002000000303c1a2000100064401c073c189',
    sps: 0,
  },
  {
    name: '720x576 two sub-layers',
    record:
      '0101600000009000000000005df002fffdf8f800001303a00001001c40010c02ffff01600000030090000003000003005d00009598acc048a100010049' +
      '42010201600000030090000003000003005d0000a005a200905965662b349272bffc001c00169c040406d8b2b2c0000003004000000c9807361b8003d0' +
      '90007a12e000f424001e8488a2000100074401c172b46240',
    sps: 6,
  },
] as const;

/**
 * AudioSpecificConfigs written by ffmpeg's native AAC encoder (`-c:a aac` into .m4a, read with
 * `ffprobe -show_data`): 2 bytes of AAC-LC config, then the 0x2b7 sync extension.
 */
export const FFMPEG_ASC = [
  { asc: '119056e500', sampleRate: 48000, sampleRateIndex: 3, channels: 2 },
  { asc: '121056e500', sampleRate: 44100, sampleRateIndex: 4, channels: 2 },
  { asc: '138856e500', sampleRate: 22050, sampleRateIndex: 7, channels: 1 },
  { asc: '158856e500', sampleRate: 8000, sampleRateIndex: 11, channels: 1 },
  { asc: '103056e500', sampleRate: 96000, sampleRateIndex: 0, channels: 6 },
  { asc: '143856e500', sampleRate: 16000, sampleRateIndex: 8, channels: 8 },
  { asc: '161056e500', sampleRate: 7350, sampleRateIndex: 12, channels: 2 },
  { asc: '151856e500', sampleRate: 11025, sampleRateIndex: 10, channels: 3 },
] as const;

/**
 * Three ADTS frames from `ffmpeg -f lavfi -i sine=sample_rate=22050 -ac 1 -frames:a 3 -c:a aac
 * -b:a 16k -f adts`: AAC-LC, 22050 Hz, mono, frames of 154, 138 and 110 bytes.
 */
export const FFMPEG_ADTS =
  'fff15c40135ffcde02004c61766335392e33372e313030000258a2545222fed7759cfbfebbfc4a78f8de6a54d5242c31589c56271589e3dd54d195' +
  '4c6b55dad596c589b3719e3f0dbee9551ab0a50a54ed8ab32559927d6ca5519546571928181bfa37f4606060606060606060606366c18191220606' +
  '060606448a5965965965965965965965965965965965965965965965965965965965965efff15c40115ffc011292daca7364b9b25cd92e5fff4fff' +
  'bfc7572f5effff5bff7faeb8bbd7e7ffeafff3f7eb8bd6bf8fffabffdbe3ad6a741dbda4c320c0c0c0c0ce8953d7ea62bd84e2d811918c46a22a35c' +
  '547d22a3e9151f4ddc4a837d35f188cb39b8d4fc91bd29809b51199146c8a37a28de883d14403cc8a28c3cc80d74262a79e79e79fe5cdc0fff15c40' +
  '0ddffc011ef1191052ab2df6c9e2fedf3fe3dae74d4b4d54bb692b501d2d8e3323bbbbb8833554969b7d78b359266b2133ff1f064fbfb90f8f86c7b' +
  'fbc2327c6619fdc83ff060efbc21ff86c3bef08f8f8cc33fbe807f8cc13efa03f93305fbe80ffc182746808f8e1c0';

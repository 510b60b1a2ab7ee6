/**
 * What an H.264/H.265 access unit says about the stream, for any ingest that gets raw NAL units
 * (RTP today, MPEG-TS and WebRTC next): whether it starts a keyframe, the parameter sets it
 * carries in band (kept, so a track can be declared or updated from them), and access unit
 * delimiters to drop. Results are fields of the scanner, not a new object per frame.
 */
import { H264_NAL_AUD, H264_NAL_IDR, H264_NAL_PPS, H264_NAL_SPS } from './h264.js';
import { H265_NAL_AUD, H265_NAL_PPS, H265_NAL_SPS, H265_NAL_VPS, h265IsIrap } from './h265.js';

export type NalCodec = 'H264' | 'H265';

export class AccessUnitScanner {
  /** The latest parameter sets (one of each kind: what cameras send). */
  vps: Buffer[] = [];
  sps: Buffer[] = [];
  pps: Buffer[] = [];
  /** Set by scan(): the access unit is a keyframe (IDR / IRAP). */
  keyframe = false;
  /** Set by scan(): it carried a parameter set different from the one kept. */
  paramsChanged = false;

  constructor(readonly codec: NalCodec) {}

  /** Parameter sets known out of band (an SDP, a decoder configuration record): in-band repeats of them change nothing. */
  seed(sets: { vps: Buffer[]; sps: Buffer[]; pps: Buffer[] }): void {
    this.vps = sets.vps;
    this.sps = sets.sps;
    this.pps = sets.pps;
  }

  /** Scans `nalus` (no start codes); returns them without access unit delimiters. */
  scan(nalus: Buffer[]): Buffer[] {
    let keyframe = false;
    let changed = false;
    let aud = false;
    const h264 = this.codec === 'H264';
    for (const nal of nalus) {
      if (h264) {
        const type = nal[0]! & 0x1f;
        if (type === H264_NAL_IDR) keyframe = true;
        else if (type === H264_NAL_SPS) changed = replaceSet(this.sps, nal) || changed;
        else if (type === H264_NAL_PPS) changed = replaceSet(this.pps, nal) || changed;
        else if (type === H264_NAL_AUD) aud = true;
      } else {
        const type = (nal[0]! >> 1) & 0x3f;
        if (h265IsIrap(type)) keyframe = true;
        else if (type === H265_NAL_VPS) changed = replaceSet(this.vps, nal) || changed;
        else if (type === H265_NAL_SPS) changed = replaceSet(this.sps, nal) || changed;
        else if (type === H265_NAL_PPS) changed = replaceSet(this.pps, nal) || changed;
        else if (type === H265_NAL_AUD) aud = true;
      }
    }
    this.keyframe = keyframe;
    this.paramsChanged = changed;
    if (!aud) return nalus;
    return nalus.filter((n) => (h264 ? (n[0]! & 0x1f) !== H264_NAL_AUD : ((n[0]! >> 1) & 0x3f) !== H265_NAL_AUD));
  }
}

/** Adds or replaces the parameter set of its kind; true when the set is new. */
function replaceSet(sets: Buffer[], nal: Buffer): boolean {
  // Cameras repeat identical sets before every keyframe: compare before copying.
  for (const s of sets) if (s.equals(nal)) return false;
  // One set of each kind is what cameras send; a different one replaces it.
  sets.length = 0;
  sets.push(Buffer.from(nal));
  return true;
}

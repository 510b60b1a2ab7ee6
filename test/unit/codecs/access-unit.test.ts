import { describe, expect, it } from 'vitest';
import { AccessUnitScanner } from '../../../gateway/codecs/access-unit.js';

const h264 = (type: number, ...rest: number[]) => Buffer.from([0x60 | type, ...rest]);
const h265 = (type: number, ...rest: number[]) => Buffer.from([type << 1, 0x01, ...rest]);

describe('AccessUnitScanner', () => {
  it('marks H.264 IDR access units as keyframes and strips delimiters', () => {
    const s = new AccessUnitScanner('H264');
    const idr = h264(5, 0x88);
    const out = s.scan([h264(9, 0xf0), idr]);
    expect(s.keyframe).toBe(true);
    expect(out).toEqual([idr]);
    const p = [h264(1, 0x9a)];
    expect(s.scan(p)).toBe(p); // nothing to strip: the same array, no copy
    expect(s.keyframe).toBe(false);
  });

  it('keeps the latest in-band SPS/PPS and reports a change only when they differ', () => {
    const s = new AccessUnitScanner('H264');
    s.seed({ vps: [], sps: [h264(7, 1, 2)], pps: [h264(8, 3)] });
    s.scan([h264(7, 1, 2), h264(8, 3), h264(5)]);
    expect(s.paramsChanged).toBe(false);
    s.scan([h264(7, 1, 9), h264(8, 3), h264(5)]);
    expect(s.paramsChanged).toBe(true);
    expect(s.sps).toEqual([h264(7, 1, 9)]);
    expect(s.pps).toEqual([h264(8, 3)]);
  });

  it('copies kept parameter sets so a reused packet buffer cannot change them', () => {
    const s = new AccessUnitScanner('H264');
    const sps = h264(7, 1, 2);
    s.scan([sps]);
    sps[2] = 0xff;
    expect(s.sps[0]![2]).toBe(2);
  });

  it('tracks H.265 VPS/SPS/PPS and IRAP pictures', () => {
    const s = new AccessUnitScanner('H265');
    const out = s.scan([h265(35), h265(32, 1), h265(33, 2), h265(34, 3), h265(19, 4)]);
    expect(s.keyframe).toBe(true); // IDR_W_RADL
    expect(s.paramsChanged).toBe(true);
    expect(out).toHaveLength(4); // AUD (35) dropped
    expect(s.vps).toEqual([h265(32, 1)]);
    s.scan([h265(1, 5)]); // TRAIL_R
    expect(s.keyframe).toBe(false);
    expect(s.paramsChanged).toBe(false);
  });
});

/** The buffer-target controller: playbackRate catch-up within a band, a jump past a threshold. */
import { describe, expect, test } from 'vitest';
import { latencyPresets } from '../../../player/src/config.js';
import { LatencyController } from '../../../player/src/controller/latency-controller.js';

/** The few HTMLVideoElement fields the controller reads and writes. */
function fakeVideo(ranges: [number, number][], currentTime: number, extra: Partial<{ paused: boolean; ended: boolean; playbackRate: number }> = {}) {
  return {
    currentTime,
    playbackRate: extra.playbackRate ?? 1,
    paused: extra.paused ?? false,
    ended: extra.ended ?? false,
    buffered: { length: ranges.length, start: (i: number) => ranges[i]![0], end: (i: number) => ranges[i]![1] },
  };
}

const low = latencyPresets.low; // target 0.15, tolerance 0.05, rate 1.1, jump 0.5

function tick(video: ReturnType<typeof fakeVideo>, tuning = low): void {
  new LatencyController(video as unknown as HTMLVideoElement, tuning).tick();
}

describe('LatencyController', () => {
  test('bufferAhead is the end of the last range minus the playhead, never negative', () => {
    expect(new LatencyController(fakeVideo([[0, 10]], 9.7) as unknown as HTMLVideoElement, low).bufferAhead()).toBeCloseTo(0.3);
    expect(new LatencyController(fakeVideo([[0, 10]], 10.2) as unknown as HTMLVideoElement, low).bufferAhead()).toBe(0);
    expect(new LatencyController(fakeVideo([], 3) as unknown as HTMLVideoElement, low).bufferAhead()).toBe(0);
  });

  test('within target + tolerance: nothing changes', () => {
    const v = fakeVideo([[0, 10]], 9.82);
    tick(v);
    expect(v.playbackRate).toBe(1);
    expect(v.currentTime).toBe(9.82);
  });

  test('above target + tolerance: plays faster at catchUpRate', () => {
    const v = fakeVideo([[0, 10]], 9.7); // 0.3 s ahead
    tick(v);
    expect(v.playbackRate).toBe(1.1);
    expect(v.currentTime).toBe(9.7);
  });

  test('back at the target: normal rate again', () => {
    const v = fakeVideo([[0, 10]], 9.86, { playbackRate: 1.1 }); // 0.14 s ahead
    tick(v);
    expect(v.playbackRate).toBe(1);
  });

  test('between target and target + tolerance while catching up: keeps the catch-up rate (hysteresis)', () => {
    const v = fakeVideo([[0, 10]], 9.82, { playbackRate: 1.1 }); // 0.18 s ahead
    tick(v);
    expect(v.playbackRate).toBe(1.1);
  });

  test('past the jump threshold: skips to end - target at normal rate', () => {
    const v = fakeVideo([[0, 10]], 8, { playbackRate: 1.1 }); // 2 s ahead (GOP-cache backlog)
    tick(v);
    expect(v.currentTime).toBeCloseTo(9.85);
    expect(v.playbackRate).toBe(1);
  });

  test('a playhead before the last range (a gap) jumps into it', () => {
    const v = fakeVideo([[0, 5], [6, 6.3]], 4.9);
    tick(v);
    expect(v.currentTime).toBeCloseTo(6.15);
  });

  test('a jump never lands before the start of the last range', () => {
    const v = fakeVideo([[9.95, 10]], 9.9);
    tick(v);
    expect(v.currentTime).toBe(9.95);
  });

  test('paused, ended or empty: hands off', () => {
    for (const v of [fakeVideo([[0, 10]], 2, { paused: true }), fakeVideo([[0, 10]], 2, { ended: true }), fakeVideo([], 2)]) {
      tick(v);
      expect(v.currentTime).toBe(2);
      expect(v.playbackRate).toBe(1);
    }
  });

  test('the balanced preset tolerates a larger buffer before acting', () => {
    const v = fakeVideo([[0, 10]], 9.2); // 0.8 s ahead: past low's jump, within balanced's band
    tick(v, latencyPresets.balanced);
    expect(v.playbackRate).toBe(1);
    expect(v.currentTime).toBe(9.2);
  });

  test('stop() restores the normal rate', () => {
    const v = fakeVideo([[0, 10]], 9.7);
    const c = new LatencyController(v as unknown as HTMLVideoElement, low);
    c.tick();
    expect(v.playbackRate).toBe(1.1);
    c.stop();
    expect(v.playbackRate).toBe(1);
  });
});

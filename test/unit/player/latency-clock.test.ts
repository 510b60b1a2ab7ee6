/** The player's measured latency: stream time -> ingest wall clock from the gateway's stamps. */
import { describe, expect, test } from 'vitest';
import { LatencyClock, stampFromScriptData } from '../../../player/src/controller/latency-clock.js';

describe('stampFromScriptData', () => {
  test.each([
    ['a streamgate-time cue point', { onCuePoint: { name: 'streamgate-time', parameters: { dts: 4000, ingest: 1_700_000_000_000 } } }, { dts: 4000, ingest: 1_700_000_000_000 }],
    ['numbers as strings', { onCuePoint: { name: 'streamgate-time', parameters: { dts: '40', ingest: '1700000000000' } } }, { dts: 40, ingest: 1_700_000_000_000 }],
    ['another cue point', { onCuePoint: { name: 'chapter', parameters: { dts: 1, ingest: 2 } } }, undefined],
    ['onMetaData', { onMetaData: { width: 640 } }, undefined],
    ['missing ingest', { onCuePoint: { name: 'streamgate-time', parameters: { dts: 1 } } }, undefined],
    ['ingest 0', { onCuePoint: { name: 'streamgate-time', parameters: { dts: 1, ingest: 0 } } }, undefined],
    ['not a number', { onCuePoint: { name: 'streamgate-time', parameters: { dts: 'x', ingest: 5 } } }, undefined],
    ['null', null, undefined],
  ])('%s', (_name, data, expected) => {
    expect(stampFromScriptData(data)).toEqual(expected);
  });
});

describe('LatencyClock', () => {
  const T0 = 1_700_000_000_000;

  test('no stamp, no latency', () => {
    const clock = new LatencyClock();
    expect(clock.hasStamps).toBe(false);
    expect(clock.measure(1, T0)).toBeUndefined();
    expect(clock.latencyMs).toBeUndefined();
  });

  test('the first stamp is media time 0: stream time = base + mediaTime', () => {
    const clock = new LatencyClock();
    clock.addStamp({ dts: 5000, ingest: T0 });
    expect(clock.streamTimeAt(0)).toBe(5000);
    expect(clock.streamTimeAt(1.5)).toBe(6500);
  });

  test('extrapolates 1 ms per ms past the newest stamp and before the oldest', () => {
    const clock = new LatencyClock();
    clock.addStamp({ dts: 1000, ingest: T0 });
    expect(clock.ingestTimeOf(1250)).toBe(T0 + 250);
    expect(clock.ingestTimeOf(900)).toBe(T0 - 100);
  });

  test('interpolates between stamps (the ingest clock may run at another pace than dts)', () => {
    const clock = new LatencyClock();
    clock.addStamp({ dts: 0, ingest: T0 });
    clock.addStamp({ dts: 1000, ingest: T0 + 1100 });
    expect(clock.ingestTimeOf(500)).toBe(T0 + 550);
    expect(clock.ingestTimeOf(1000)).toBe(T0 + 1100);
  });

  test('latency = now - ingest time of the frame on screen', () => {
    const clock = new LatencyClock();
    clock.addStamp({ dts: 2000, ingest: T0 });
    clock.addStamp({ dts: 3000, ingest: T0 + 1000 });
    // media time 0.5 s -> dts 2500 -> ingested at T0 + 500; shown at T0 + 700
    expect(clock.measure(0.5, T0 + 700)).toBe(200);
    expect(clock.latencyMs).toBe(200);
  });

  test('the reported latency is the median of the recent frames, robust to one outlier', () => {
    const clock = new LatencyClock();
    clock.addStamp({ dts: 0, ingest: T0 });
    for (let i = 0; i < 11; i++) clock.measure(i * 0.04, T0 + i * 40 + 180);
    clock.measure(0.44, T0 + 440 + 5000); // one frame shown very late
    expect(clock.latencyMs).toBe(180);
  });

  test('only the last 12 frames count', () => {
    const clock = new LatencyClock();
    clock.addStamp({ dts: 0, ingest: T0 });
    for (let i = 0; i < 12; i++) clock.measure(i * 0.04, T0 + i * 40 + 900);
    for (let i = 12; i < 24; i++) clock.measure(i * 0.04, T0 + i * 40 + 150);
    expect(clock.latencyMs).toBe(150);
  });

  test('a stamp with the same dts replaces the previous one', () => {
    const clock = new LatencyClock();
    clock.addStamp({ dts: 0, ingest: T0 });
    clock.addStamp({ dts: 1000, ingest: T0 + 1000 });
    clock.addStamp({ dts: 1000, ingest: T0 + 1200 });
    expect(clock.ingestTimeOf(1000)).toBe(T0 + 1200);
  });

  test('timestamps going backwards start the stamp list over but keep the base', () => {
    const clock = new LatencyClock();
    clock.addStamp({ dts: 5000, ingest: T0 });
    clock.addStamp({ dts: 6000, ingest: T0 + 1000 });
    clock.addStamp({ dts: 100, ingest: T0 + 2000 });
    expect(clock.streamTimeAt(0)).toBe(5000);
    expect(clock.ingestTimeOf(100)).toBe(T0 + 2000);
    expect(clock.ingestTimeOf(6000)).toBe(T0 + 2000 + 5900);
  });

  test('reset() forgets the timeline (a new connection)', () => {
    const clock = new LatencyClock();
    clock.addStamp({ dts: 5000, ingest: T0 });
    clock.measure(0, T0 + 100);
    clock.reset();
    expect(clock.hasStamps).toBe(false);
    expect(clock.latencyMs).toBeUndefined();
    clock.addStamp({ dts: 9000, ingest: T0 + 10_000 });
    expect(clock.streamTimeAt(0)).toBe(9000);
  });

  test('keeps a bounded number of stamps', () => {
    const clock = new LatencyClock();
    for (let i = 0; i < 1000; i++) clock.addStamp({ dts: i * 1000, ingest: T0 + i * 1000 });
    // the oldest were dropped: far in the past is extrapolated from the oldest kept stamp
    expect(clock.ingestTimeOf(999_000)).toBe(T0 + 999_000);
    expect(clock.ingestTimeOf(0)).toBe(T0);
  });
});

/**
 * Room audio mixes: two participants publish tones (440 Hz and 1000 Hz) into room/{id}/...;
 * `room/{id}/_mix` carries both, `room/{id}/_mix-alice` only bob's, and a third participant
 * joining is mixed in after the job restarts. Measured with ffmpeg band-pass filters and
 * volumedetect on what the gateway serves over RTMP.
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Publisher } from '../helpers/ffmpeg.js';
import { bandLevels, toneParticipant as participant } from '../helpers/tones.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { hasTool } from '../helpers/tools.js';

const enabled = hasTool('ffmpeg');

describe.skipIf(!enabled)('room audio mix (room/{id}/_mix)', () => {
  let gw: TestGateway;
  const pubs: Publisher[] = [];

  beforeAll(async () => {
    gw = await startGateway({});
    pubs.push(participant(`${gw.rtmp}/room/r1/alice`, 440), participant(`${gw.rtmp}/room/r1/bob`, 1000));
    await waitFor('both participants', async () => (await fetch(`${gw.http}/api/v1/streams/room/r1/alice`)).ok && (await fetch(`${gw.http}/api/v1/streams/room/r1/bob`)).ok, 15_000);
  }, 30_000);

  afterAll(async () => {
    for (const p of pubs) await p.stop();
    await gw?.stop();
  });

  test('_mix carries both participants\' tones; nothing else is in the mix', async () => {
    const levels = await bandLevels(`${gw.rtmp}/room/r1/_mix`);
    const floor = Math.max(levels[2500]!, levels[3000]!);
    expect(levels[440]! - floor, JSON.stringify(levels)).toBeGreaterThan(20);
    expect(levels[1000]! - floor, JSON.stringify(levels)).toBeGreaterThan(20);
    const mix = (await (await fetch(`${gw.http}/api/v1/streams/room/r1/_mix`)).json()) as any;
    expect(mix.audio.codec).toBe('AAC');
    expect(mix.video ?? null).toBeNull();
  }, 40_000);

  test('_mix-alice is the mix without alice (no echo of her own voice)', async () => {
    const levels = await bandLevels(`${gw.rtmp}/room/r1/_mix-alice`);
    expect(levels[1000]! - levels[440]!, JSON.stringify(levels)).toBeGreaterThan(20);
  }, 40_000);

  test('a participant who joins is mixed in (the job restarts with three inputs)', async () => {
    pubs.push(participant(`${gw.rtmp}/room/r1/carol`, 2500));
    await waitFor('carol publishing', async () => (await fetch(`${gw.http}/api/v1/streams/room/r1/carol`)).ok, 15_000);
    await waitFor('carol in the mix', async () => {
      const levels = await bandLevels(`${gw.rtmp}/room/r1/_mix`, 2);
      return levels[2500]! - levels[3000]! > 20 && levels[440]! - levels[3000]! > 20;
    }, 30_000, 500);
  }, 60_000);

  test('a mix of a room with nobody publishing answers 404', async () => {
    const res = await fetch(`${gw.http}/room/empty/_mix.flv`);
    expect(res.status).toBe(404);
  }, 20_000);
});

/** Mean luma and its spread inside one tile of a frame of `url` (signalstats on a crop). */
function tileStats(url: string, crop: string): Promise<{ yavg: number; ydif: number }> {
  return new Promise((resolve, reject) =>
    execFile('ffmpeg', ['-hide_banner', '-t', '3', '-i', url, '-vf', `crop=${crop},signalstats,metadata=print:key=lavfi.signalstats.YAVG,metadata=print:key=lavfi.signalstats.YDIF`, '-an', '-f', 'null', '-'], { timeout: 30_000 }, (error, _o, stderr) => {
      const yavg = [...stderr.matchAll(/YAVG=([\d.]+)/g)].map((m) => Number(m[1]));
      const ydif = [...stderr.matchAll(/YDIF=([\d.]+)/g)].map((m) => Number(m[1]));
      if (yavg.length === 0) return reject(new Error(`no stats (${error?.message ?? ''}): ${stderr.slice(-600)}`));
      resolve({ yavg: yavg.reduce((a, b) => a + b, 0) / yavg.length, ydif: ydif.slice(1).reduce((a, b) => a + b, 0) / Math.max(1, ydif.length - 1) });
    }),
  );
}

describe.skipIf(!enabled)('room composite (room/{id}/_grid)', () => {
  let gw: TestGateway;
  const pubs: Publisher[] = [];

  beforeAll(async () => {
    gw = await startGateway({});
    pubs.push(participant(`${gw.rtmp}/room/g1/alice`, 440), participant(`${gw.rtmp}/room/g1/bob`, 1000));
    await waitFor('both participants', async () => (await fetch(`${gw.http}/api/v1/streams/room/g1/alice`)).ok && (await fetch(`${gw.http}/api/v1/streams/room/g1/bob`)).ok, 15_000);
  }, 30_000);

  afterAll(async () => {
    for (const p of pubs) await p.stop();
    await gw?.stop();
  });

  test('_grid is one 1280x720 H.264 picture with a live tile per participant and the mix as audio', async () => {
    const url = `${gw.rtmp}/room/g1/_grid`;
    // Two participants: two columns of 640x720, each tile a 160x120 picture scaled into it.
    const left = await tileStats(url, '640:360:0:180');
    const right = await tileStats(url, '640:360:640:180');
    for (const [name, t] of [['left', left], ['right', right]] as const) {
      expect(t.yavg, `${name} tile is not black`).toBeGreaterThan(30);
      expect(t.ydif, `${name} tile moves (testsrc2)`).toBeGreaterThan(0.5);
    }
    // Each 4:3 picture fills 640x480 of its 640x720 column: the strips above are the canvas's black,
    // which a single full-canvas picture would not leave there.
    expect((await tileStats(url, '1280:100:0:0')).yavg, 'black above the tiles').toBeLessThan(20);
    const grid = (await (await fetch(`${gw.http}/api/v1/streams/room/g1/_grid`)).json()) as any;
    expect(grid.video).toMatchObject({ codec: 'H264', width: 1280, height: 720 });
    expect(grid.audio.codec).toBe('AAC');
    const levels = await bandLevels(url);
    expect(levels[440]! - levels[3000]!, JSON.stringify(levels)).toBeGreaterThan(20);
    expect(levels[1000]! - levels[3000]!, JSON.stringify(levels)).toBeGreaterThan(20);
  }, 60_000);
});

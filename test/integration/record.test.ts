import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasTool } from '../helpers/tools.js';
import { decode, packetTimes, probe, publish } from '../helpers/ffmpeg.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';

const tools = hasTool('ffmpeg') && hasTool('ffprobe');

interface Entry {
  id: string;
  path: string;
  start: string;
  end: string;
  durationMs: number;
  size: number;
  codecs: string[];
  recording: boolean;
  url: string;
}

async function list(gw: TestGateway, query = ''): Promise<Entry[]> {
  const res = await fetch(`${gw.http}/api/v1/recordings${query}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { recordings: Entry[] }).recordings;
}

describe.skipIf(!tools)('recording', () => {
  let gw: TestGateway;
  let dir: string;
  let files: Entry[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sg-rec-'));
    // A long grace period so the reconnect test's publisher is back in time on a loaded machine.
    gw = await startGateway({ dataDir: dir, record: { rules: { 'rec/*': { segment: '10s' } } }, hub: { publisherGraceMs: 15_000 } });
    // Faster than real time: 25 s of media in a few seconds.
    const pub = publish(`${gw.rtmp}/rec/cam1`, { fps: 25, gop: 25, duration: 25, realtime: false });
    expect(await pub.exited).toBe(0);
    files = await waitFor(
      'three closed recording files',
      async () => {
        const l = await list(gw, '?path=rec/cam1');
        return l.length === 3 && l.every((e) => !e.recording) ? l : undefined;
      },
      20_000,
      200,
    );
  });

  afterAll(async () => {
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records 25 s with 10 s segments into three files named by path and UTC start', () => {
    expect(files.map((f) => f.id)).toEqual(files.map((f) => expect.stringMatching(/^rec\/cam1\/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z\.mp4$/)));
    for (const f of files) expect(existsSync(join(dir, 'recordings', f.id))).toBe(true);
    const durations = files.map((f) => f.durationMs);
    expect(durations[0]).toBeGreaterThanOrEqual(10_000);
    expect(durations[0]).toBeLessThan(11_100);
    expect(durations[1]).toBeGreaterThanOrEqual(10_000);
    expect(durations[0]! + durations[1]! + durations[2]!).toBeGreaterThan(24_500);
    expect(durations[0]! + durations[1]! + durations[2]!).toBeLessThan(25_500);
    expect(files[0]!.codecs).toEqual([expect.stringMatching(/^avc1\./), 'mp4a.40.2']);
  });

  it('indexes files back to back: each starts where the previous ended', () => {
    for (let i = 1; i < files.length; i++) {
      expect(Math.abs(Date.parse(files[i]!.start) - Date.parse(files[i - 1]!.end))).toBeLessThanOrEqual(2);
    }
  });

  it('writes files that ffprobe reads with continuous timestamps from zero', async () => {
    for (const f of files) {
      const file = join(dir, 'recordings', f.id);
      const result = await probe(file, 30);
      expect(result.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
      const video = packetTimes(result, 'video');
      expect(video[0]).toBeCloseTo(0, 2);
      for (let i = 1; i < video.length; i++) {
        const step = video[i]! - video[i - 1]!;
        expect(step).toBeGreaterThan(0.03);
        expect(step).toBeLessThan(0.05);
      }
      expect(video[video.length - 1]! + 0.04).toBeCloseTo(f.durationMs / 1000, 1);
      const audio = packetTimes(result, 'audio');
      expect(audio.length).toBeGreaterThan((f.durationMs / 1000) * 40);
      const decoded = await decode(file, 30);
      expect(decoded.code).toBe(0);
      expect(decoded.frames).toBeGreaterThanOrEqual(Math.floor((f.durationMs / 1000) * 25) - 1);
    }
  });

  it('filters the index by path and time', async () => {
    expect(await list(gw, '?path=rec/other')).toEqual([]);
    const from = new Date(Date.parse(files[1]!.start) + 1000).toISOString();
    const to = new Date(Date.parse(files[1]!.end) - 1000).toISOString();
    expect((await list(gw, `?path=rec/cam1&from=${from}&to=${to}`)).map((f) => f.id)).toEqual([files[1]!.id]);
    expect((await fetch(`${gw.http}/api/v1/recordings?from=yesterday`)).status).toBe(400);
  });

  it('serves a recording with range requests', async () => {
    const f = files[0]!;
    const full = await fetch(`${gw.http}${f.url}`);
    expect(full.status).toBe(200);
    expect(full.headers.get('content-type')).toBe('video/mp4');
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    expect(Number(full.headers.get('content-length'))).toBe(f.size);
    await full.arrayBuffer();
    const part = await fetch(`${gw.http}${f.url}`, { headers: { Range: 'bytes=4-11' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 4-11/${f.size}`);
    expect(Buffer.from(await part.arrayBuffer()).toString('latin1')).toBe('ftypiso6');
    const tail = await fetch(`${gw.http}${f.url}`, { headers: { Range: 'bytes=-100' } });
    expect(tail.status).toBe(206);
    expect((await tail.arrayBuffer()).byteLength).toBe(100);
    const beyond = await fetch(`${gw.http}${f.url}`, { headers: { Range: `bytes=${f.size + 10}-` } });
    expect(beyond.status).toBe(416);
    await beyond.arrayBuffer();
  });

  it('answers 404 for an unknown recording and refuses paths outside the recordings', async () => {
    const res = await fetch(`${gw.http}/api/v1/recordings/rec/cam1/2000-01-01T00-00-00.000Z.mp4`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('SG_ERR_RECORDING_NOT_FOUND');
    expect((await fetch(`${gw.http}/api/v1/recordings/..%2F..%2Fetc%2Fpasswd`)).status).toBe(404);
  });

  it('a publisher that drops and returns within the grace period gets a new file named by when it returned', async () => {
    const first = publish(`${gw.rtmp}/rec/flaky`, { fps: 25, gop: 25, duration: 30 });
    const watching = new AbortController();
    let second: ReturnType<typeof publish> | undefined;
    try {
      await waitFor('a fragment written', async () => (await list(gw, '?path=rec/flaky'))[0]?.durationMs, 15_000, 200);
      // A viewer keeps the stream through the outage (grace period): the hub continues the
      // media timeline across it, the file names must follow the wall clock.
      const viewer = await fetch(`${gw.http}/rec/flaky.flv`, { signal: watching.signal });
      expect(viewer.status).toBe(200);
      await first.stop();
      await waitFor('the file closed when the publisher left', async () => (await list(gw, '?path=rec/flaky'))[0]?.recording === false, 5000, 100);
      await new Promise((r) => setTimeout(r, 2000));
      const back = Date.now();
      second = publish(`${gw.rtmp}/rec/flaky`, { fps: 25, gop: 25, duration: 30 });
      const files = await waitFor(
        'a second file with a fragment',
        async () => {
          const l = await list(gw, '?path=rec/flaky');
          return l.length === 2 && l[1]!.durationMs > 0 ? l : undefined;
        },
        15_000,
        200,
      );
      expect(gw.gw.registry.get('rec/flaky')!.publishCount).toBe(2); // the same stream: the viewer kept it
      // Without the cut both would be one file, and the second start would be about 2 s early.
      expect(Date.parse(files[0]!.end)).toBeLessThan(back);
      expect(Date.parse(files[1]!.start)).toBeGreaterThanOrEqual(back);
      expect(Date.parse(files[1]!.start) - back).toBeLessThan(5000);
    } finally {
      watching.abort();
      await first.stop();
      await second?.stop();
    }
  });

  it('starts and stops recording through the API', async () => {
    // Mounted on its own app so the test does not depend on where the gateway mounts the router.
    const app = express();
    app.use(gw.gw.recorder.router());
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/streams/live/manual/record`;
    try {
      const pub = publish(`${gw.rtmp}/live/manual`, { fps: 25, gop: 25, duration: 30 });
      try {
        await waitFor('stream ready', () => gw.gw.registry.get('live/manual')?.ready, 15_000);
        const started = await fetch(api, { method: 'POST' });
        expect(started.status).toBe(201);
        expect(((await started.json()) as { recording: boolean }).recording).toBe(true);
        await waitFor('a fragment written', async () => (await list(gw, '?path=live/manual'))[0]?.durationMs, 10_000, 200);
        const status = (await (await fetch(api)).json()) as { recording: boolean; manual: boolean; file: string };
        expect(status).toMatchObject({ recording: true, manual: true });
        expect(status.file).toMatch(/^live\/manual\//);
        expect((await fetch(api, { method: 'DELETE' })).status).toBe(204);
        expect((await fetch(api, { method: 'DELETE' })).status).toBe(404);
        const [entry] = await list(gw, '?path=live/manual');
        expect(entry!.recording).toBe(false);
        expect((await probe(join(dir, 'recordings', entry!.id), 10)).streams).toHaveLength(2);
      } finally {
        await pub.stop();
      }
    } finally {
      server.close();
    }
  });
});

describe.skipIf(!tools)('recording under a dot-directory', () => {
  it('serves downloads when the data directory is hidden (/home/op/.streamgate): 200, not 403', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-rec-dot-'));
    const gw = await startGateway({ dataDir: join(dir, '.streamgate'), record: { rules: { 'rec/*': { segment: '10s' } } } });
    try {
      const pub = publish(`${gw.rtmp}/rec/dot`, { fps: 25, gop: 25, duration: 3, realtime: false });
      expect(await pub.exited).toBe(0);
      const [file] = await waitFor('a closed file', async () => {
        const l = await list(gw, '?path=rec/dot');
        return l.length > 0 && l.every((e) => !e.recording) ? l : undefined;
      }, 15_000, 200);
      const res = await fetch(`${gw.http}${file!.url}`);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).subarray(4, 8).toString('latin1')).toBe('ftyp');
    } finally {
      await gw.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

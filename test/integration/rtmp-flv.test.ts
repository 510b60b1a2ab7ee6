import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publish, probe, packetTimes, decode, type Publisher } from '../helpers/ffmpeg.js';
import { readFlv, videoTags } from '../helpers/flv-client.js';
import { startGateway, waitFor, sleep, type TestGateway } from '../helpers/gateway.js';
import { hasTool } from '../helpers/tools.js';

/** Timestamps advance without a gap larger than `maxGap` seconds and never go backwards. */
function expectContinuous(times: number[], maxGap: number): void {
  expect(times.length).toBeGreaterThan(10);
  for (let i = 1; i < times.length; i++) {
    expect(times[i]!).toBeGreaterThanOrEqual(times[i - 1]!);
    expect(times[i]! - times[i - 1]!).toBeLessThan(maxGap);
  }
}

describe.skipIf(!hasTool('ffmpeg'))('RTMP publish, HTTP-FLV / WS-FLV / RTMP play (H.264 + AAC)', () => {
  let g: TestGateway;
  let pub: Publisher;

  beforeAll(async () => {
    g = await startGateway();
    pub = publish(`${g.rtmp}/live/cam1`, { size: '320x240', fps: 25, gop: 25 });
    await waitFor('stream ready', () => g.gw.registry.get('live/cam1')?.ready, 15_000);
  });

  afterAll(async () => {
    await pub?.stop();
    await g?.stop();
  });

  it('lists the stream in the API with the contract fields, size from the SPS', async () => {
    await sleep(1200); // one sampling period for bitrates
    const res = await fetch(`${g.http}/api/v1/streams`);
    expect(res.status).toBe(200);
    const { streams } = (await res.json()) as { streams: any[] };
    const s = streams.find((x) => x.path === 'live/cam1');
    expect(s).toMatchObject({
      path: 'live/cam1',
      app: 'live',
      name: 'cam1',
      publisher: { protocol: 'rtmp' },
      video: { codec: 'H264', width: 320, height: 240 },
      audio: { codec: 'AAC', sampleRate: 44100, channels: 1 },
      droppedFrames: 0,
    });
    expect(s.publisher.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(Date.parse(s.publisher.since)).not.toBeNaN();
    expect(s.video.fps).toBeGreaterThan(0);
    expect(s.readers.count).toBe(0);
    expect(s.bitrateKbps.in).toBeGreaterThan(0);
    const one = await (await fetch(`${g.http}/api/v1/streams/live/cam1`)).json();
    expect(one.path).toBe('live/cam1');
    expect(Array.isArray(one.readerList)).toBe(true);
  });

  it('serves HTTP-FLV that ffprobe decodes with continuous timestamps', async () => {
    const result = await probe(`${g.http}/live/cam1.flv`, 3);
    const codecs = result.streams.map((s) => s.codec_name).sort();
    expect(codecs).toEqual(['aac', 'h264']);
    const video = result.streams.find((s) => s.codec_type === 'video')!;
    expect([video.width, video.height]).toEqual([320, 240]);
    expectContinuous(packetTimes(result, 'video'), 0.2);
    expectContinuous(packetTimes(result, 'audio'), 0.2);
    const decoded = await decode(`${g.http}/live/cam1.flv`, 2);
    expect(decoded.stderr).toBe('');
    expect(decoded.frames).toBeGreaterThan(20);
  });

  it('serves RTMP play that ffprobe decodes', async () => {
    const result = await probe(`${g.rtmp}/live/cam1`, 3);
    expect(result.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    expectContinuous(packetTimes(result, 'video'), 0.2);
    const decoded = await decode(`${g.rtmp}/live/cam1`, 2);
    expect(decoded.stderr).toBe('');
    expect(decoded.frames).toBeGreaterThan(20);
  });

  it('serves WS-FLV whose bytes ffprobe decodes', async () => {
    const cap = readFlv(`${g.ws}/live/cam1.flv`);
    expect(await cap.status).toBe(101);
    await waitFor('2 s of video over WS-FLV', () => videoTags(cap.tags).length > 50, 15_000);
    cap.close();
    expect(cap.header()).toEqual({ hasAudio: true, hasVideo: true });
    const file = join(mkdtempSync(join(tmpdir(), 'sg-')), 'ws.flv');
    writeFileSync(file, cap.bytes());
    const result = await probe(file, 10);
    expect(result.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    expectContinuous(packetTimes(result, 'video'), 0.2);
  });

  it('answers CORS preflight and sets Access-Control-Allow-Origin on FLV responses', async () => {
    const pre = await fetch(`${g.http}/live/cam1.flv`, { method: 'OPTIONS', headers: { Origin: 'http://portal.example', 'Access-Control-Request-Method': 'GET' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    const controller = new AbortController();
    const res = await fetch(`${g.http}/live/cam1.flv`, { headers: { Origin: 'http://portal.example' }, signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/x-flv');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    controller.abort();
  });

  it('counts readers per protocol while they read', async () => {
    const a = readFlv(`${g.http}/live/cam1.flv`);
    const b = readFlv(`${g.ws}/live/cam1.flv`);
    await waitFor('both readers receiving', () => a.tags.length > 5 && b.tags.length > 5);
    const s = await (await fetch(`${g.http}/api/v1/streams/live/cam1`)).json();
    expect(s.readers.count).toBeGreaterThanOrEqual(2);
    expect(s.readers.flv).toBeGreaterThanOrEqual(1);
    expect(s.readers['ws-flv']).toBeGreaterThanOrEqual(1);
    a.close();
    b.close();
  });

  it("routes node-media-server's own console logging into the gateway's logger", async () => {
    const { createRequire } = await import('node:module');
    const nmsLogger = createRequire(import.meta.url)('node-media-server/src/core/logger.js') as { error(m: string): void };
    const lines: string[] = [];
    const spy = (...args: unknown[]) => lines.push(args.join(' '));
    const original = console.log;
    console.log = spy;
    try {
      nmsLogger.error('engine says hello');
    } finally {
      console.log = original;
    }
    expect(lines).toEqual([]);
    expect(g.logs.some((l) => l.msg === 'engine says hello' && l.engine === 'node-media-server')).toBe(true);
  });

  it('tells a console which ports the listeners got', async () => {
    const info = await (await fetch(`${g.http}/api/v1/server`)).json();
    expect(info.ports.http).toBe(Number(new URL(g.http).port));
    expect(info.ports.rtmp).toBe(Number(new URL(g.rtmp).port));
  });

  it('answers 404 with a clear body for a path nobody publishes', async () => {
    const res = await fetch(`${g.http}/live/nobody.flv`);
    expect(res.status).toBe(404);
    const body = await res.json();
    expect(body.error.code).toBe('SG_ERR_STREAM_NOT_FOUND');
    expect(body.error.message).toContain('live/nobody');
    const ws = readFlv(`${g.ws}/live/nobody.flv`);
    expect(await ws.status).toBe(404);
    expect((await fetch(`${g.http}/api/v1/streams/live/nobody`)).status).toBe(404);
  }, 20_000);
});

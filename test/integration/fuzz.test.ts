/**
 * A seeded, time-bounded fuzz run against a running gateway: mutated RTMP handshakes and chunk
 * streams, RTSP requests, FLV tag bodies (published over RTMP), WebSocket frames and HTTP
 * requests. The process must stay up, keep serving a live stream throughout, and keep its memory
 * bounded. The case counts are reported in the README's security section.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeAmf0 } from '../../gateway/formats/amf0.js';
import { publish, type Publisher } from '../helpers/ffmpeg.js';
import { readFlv, type FlvCapture } from '../helpers/flv-client.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { chunkMessage, rtmpPublisher } from '../helpers/rtmp-client.js';
import { hasTool } from '../helpers/tools.js';
import { prng } from '../helpers/prng.js';
import { mutate, pool, shoot } from '../helpers/fuzz.js';

export const FUZZ_CASES = { rtmp: 1500, rtsp: 1500, flvTags: 2000, ws: 600, http: 600 };

describe.skipIf(!hasTool('ffmpeg'))('fuzzing a running gateway', () => {
  let g: TestGateway;
  let pub: Publisher;
  let watcher: FlvCapture;
  const ports = { rtmp: 0, rtsp: 0, http: 0 };
  let heapBefore = 0;

  beforeAll(async () => {
    g = await startGateway({ rtmp: { handshakeTimeoutMs: 2000 }, log: { level: 'warn' } });
    ports.rtmp = Number(new URL(g.rtmp).port);
    ports.rtsp = Number(new URL(g.rtsp).port);
    ports.http = Number(new URL(g.http).port);
    pub = publish(`${g.rtmp}/live/steady`, { duration: 120 });
    await waitFor('stream ready', () => g.gw.registry.get('live/steady')?.ready, 15_000);
    watcher = readFlv(`${g.http}/live/steady.flv`);
    await waitFor('watcher receiving', () => watcher.tags.length > 10);
    global.gc?.();
    heapBefore = process.memoryUsage().heapUsed;
  });

  afterAll(async () => {
    watcher?.close();
    await pub?.stop();
    await g?.stop();
  });

  async function stillServing(): Promise<void> {
    const n = watcher.tags.length;
    await waitFor('the live stream still flowing', () => watcher.tags.length > n + 5, 10_000);
  }

  it(`survives ${FUZZ_CASES.rtmp} mutated RTMP handshakes and chunk streams`, async () => {
    const rnd = prng(1);
    const valid = Buffer.concat([
      Buffer.from([3]),
      Buffer.alloc(1536),
      Buffer.alloc(1536),
      chunkMessage(3, 20, 0, 0, encodeAmf0('connect', 1, { app: 'live', tcUrl: 'rtmp://x/live' })),
      chunkMessage(2, 1, 0, 0, Buffer.from([0, 0, 0x10, 0])),
      chunkMessage(3, 20, 0, 0, encodeAmf0('createStream', 2, null)),
      chunkMessage(8, 20, 1, 0, encodeAmf0('publish', 3, null, 'fuzz', 'live')),
      chunkMessage(6, 9, 1, 0, Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f, 1, 0, 2, 0x68, 0xee])),
      chunkMessage(4, 8, 1, 0, Buffer.from([0xaf, 0, 0x12, 0x10])),
    ]);
    const cases = Array.from({ length: FUZZ_CASES.rtmp }, () => mutate(valid, rnd));
    await pool(cases, 24, (c) => shoot(ports.rtmp, c));
    await stillServing();
  }, 120_000);

  it(`survives ${FUZZ_CASES.flvTags} mutated FLV tag bodies from publishers`, async () => {
    const rnd = prng(2);
    const seq = Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f, 1, 0, 2, 0x68, 0xee]);
    const frame = Buffer.from([0x17, 1, 0, 0, 0, 0, 0, 0, 5, 0x65, 0x88, 0x84, 0x21, 0xa0]);
    const hevc = Buffer.concat([Buffer.from([0x90]), Buffer.from('hvc1'), Buffer.alloc(30, 1)]);
    const aac = Buffer.from([0xaf, 0, 0x12, 0x10]);
    const seeds = [seq, frame, hevc, aac, encodeAmf0('@setDataFrame', 'onMetaData', { width: 1, height: 2 })];
    const per = FUZZ_CASES.flvTags / 10;
    for (let p = 0; p < 10; p++) {
      let c;
      try {
        c = await rtmpPublisher(ports.rtmp, 'fuzz', `tags${p}`);
      } catch {
        continue;
      }
      for (let i = 0; i < per; i++) {
        const k = Math.floor(rnd() * seeds.length);
        const type = k === 4 ? 18 : k === 3 ? 8 : 9;
        c.message(type === 8 ? 4 : 6, type, 1, i * 10, mutate(seeds[k]!, rnd), 60000);
      }
      await new Promise((r) => setTimeout(r, 50));
      c.close();
    }
    await stillServing();
  }, 120_000);

  it(`survives ${FUZZ_CASES.rtsp} mutated RTSP requests`, async () => {
    const rnd = prng(3);
    const base = `rtsp://127.0.0.1:${ports.rtsp}/live/steady`;
    const sdp = 'v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\na=control:streamid=0\r\n';
    const seeds = [
      `OPTIONS ${base} RTSP/1.0\r\nCSeq: 1\r\n\r\n`,
      `DESCRIBE ${base} RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n`,
      `ANNOUNCE rtsp://127.0.0.1:${ports.rtsp}/fuzz/a RTSP/1.0\r\nCSeq: 3\r\nContent-Type: application/sdp\r\nContent-Length: ${sdp.length}\r\n\r\n${sdp}`,
      `SETUP ${base}/streamid=0 RTSP/1.0\r\nCSeq: 4\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n`,
    ].map((s) => Buffer.from(s));
    const interleaved = Buffer.concat([Buffer.from([0x24, 0, 0, 16]), Buffer.from([0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x65, 1, 2, 3])]);
    const cases = Array.from({ length: FUZZ_CASES.rtsp }, () => {
      const k = Math.floor(rnd() * (seeds.length + 1));
      return k === seeds.length ? Buffer.concat([seeds[2]!, mutate(interleaved, rnd)]) : mutate(seeds[k]!, rnd);
    });
    await pool(cases, 24, (c) => shoot(ports.rtsp, c));
    await stillServing();
  }, 120_000);

  it(`survives ${FUZZ_CASES.ws} mutated WebSocket frames on WS-FLV and rooms`, async () => {
    const rnd = prng(4);
    const upgrade = (path: string) =>
      Buffer.from(`GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    const text = Buffer.from('{"type":"chat","text":"hi"}');
    const frame = Buffer.concat([Buffer.from([0x81, 0x80 | text.length, 1, 2, 3, 4]), text.map((b, i) => b ^ [1, 2, 3, 4][i % 4]!)]);
    const cases = Array.from({ length: FUZZ_CASES.ws }, (_, i) =>
      Buffer.concat([upgrade(i % 2 ? '/live/steady.flv' : '/api/v1/rooms/live/steady/ws?name=f'), mutate(Buffer.concat([frame, frame]), rnd)]),
    );
    await pool(cases, 16, (c) => shoot(ports.http, c, 200));
    await stillServing();
  }, 120_000);

  it(`survives ${FUZZ_CASES.http} mutated HTTP requests`, async () => {
    const rnd = prng(5);
    const seeds = ['GET /live/steady.flv HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /api/v1/streams/live/steady HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /live/steady/index.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n', 'POST /api/v1/rooms/live/steady/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{"text":"hello"}'].map((s) => Buffer.from(s));
    const cases = Array.from({ length: FUZZ_CASES.http }, () => mutate(seeds[Math.floor(rnd() * seeds.length)]!, rnd));
    await pool(cases, 16, (c) => shoot(ports.http, c, 100));
    await stillServing();
  }, 120_000);

  it('kept its memory bounded and the publisher connected', async () => {
    await stillServing();
    global.gc?.();
    const growth = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
    expect(growth).toBeLessThan(100);
    expect(g.gw.registry.get('live/steady')?.publisher).toBeDefined();
    // Every rejection went through a typed error path: no "unexpected error" (a bug) was logged.
    const unexpected = g.logs.filter((l) => Number(l.level) >= 50);
    expect(unexpected.map((l) => `${l.msg} ${JSON.stringify(l.err ?? '').slice(0, 300)}`)).toEqual([]);
  });
});

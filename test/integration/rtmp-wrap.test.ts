/**
 * RTMP timestamps are 32-bit milliseconds: an encoder whose clock starts high (or a stream older
 * than 49.7 days) wraps to 0. Time must run on across the wrap, with timestamp deltas (type 1
 * chunk headers, as OBS sends them) and with absolute timestamps (type 0, as ffmpeg sends them).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFlv } from '../helpers/flv-client.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { rtmpPublisher, type RawRtmp } from '../helpers/rtmp-client.js';

const AAC_CONFIG = Buffer.from([0xaf, 0x00, 0x12, 0x10]); // AAC LC, 44.1 kHz, stereo
const frame = (i: number) => Buffer.concat([Buffer.from([0xaf, 0x01]), Buffer.alloc(20, i & 0xff)]);
const START = 2 ** 32 - 1000; // one second before the wrap

/** A type 1 chunk (same stream id as before): a timestamp delta, a length and a type. */
function deltaChunk(csid: number, delta: number, type: number, body: Buffer): Buffer {
  const h = Buffer.from([0x40 | csid, (delta >> 16) & 0xff, (delta >> 8) & 0xff, delta & 0xff, (body.length >> 16) & 0xff, (body.length >> 8) & 0xff, body.length & 0xff, type]);
  return Buffer.concat([h, body]);
}

describe('RTMP timestamps across the 32-bit wrap', () => {
  let g: TestGateway;
  const clients: RawRtmp[] = [];

  beforeAll(async () => {
    g = await startGateway();
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await g?.stop();
  });

  for (const form of ['deltas', 'absolute'] as const) {
    it(`keeps time running with ${form} timestamps`, async () => {
      const path = `live/wrap-${form}`;
      const c = await rtmpPublisher(Number(new URL(g.rtmp).port), 'live', `wrap-${form}`);
      clients.push(c);
      c.message(4, 8, 1, START, AAC_CONFIG);
      c.message(4, 8, 1, START, frame(0));
      await waitFor('stream ready', () => g.gw.registry.get(path)?.ready);
      const cap = readFlv(`${g.http}/${path}.flv`);
      await waitFor('the reader joined', () => cap.tags.some((t) => t.type === 8), 5000);
      // 100 frames 23 ms apart: the wrap comes after frame 43.
      for (let i = 1; i <= 100; i++) {
        if (form === 'deltas') c.send(deltaChunk(4, 23, 8, frame(i)));
        else c.message(4, 8, 1, (START + i * 23) % 2 ** 32, frame(i));
      }
      await waitFor('every frame', () => cap.tags.filter((t) => t.type === 8 && t.body[1] === 1).length >= 100, 5000);
      const times = cap.tags.filter((t) => t.type === 8 && t.body[1] === 1).map((t) => t.timestamp);
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!, `step ${i}`).toBe(23);
      cap.close();
    });
  }
});

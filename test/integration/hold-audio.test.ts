import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlvDemuxer } from '../../gateway/protocols/flv/demux.js';
import { publish, type Publisher } from '../helpers/ffmpeg.js';
import { sleep, startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { hasTool } from '../helpers/tools.js';

interface Arrivals {
  /** Per socket read: the tag types it completed (8 audio, 9 video). */
  reads: number[][];
  audioDts: number[];
  close(): void;
}

/** Reads HTTP-FLV over a raw socket and notes which tags each read completed. */
function readArrivals(httpBase: string, path: string): Arrivals {
  const url = new URL(`${httpBase}/${path}.flv`);
  const arrivals: Arrivals = { reads: [], audioDts: [], close: () => socket.destroy() };
  let current: number[] = [];
  let headerDone = false;
  let pending = Buffer.alloc(0);
  const demux = new FlvDemuxer((tag) => {
    if (tag.type !== 8 && tag.type !== 9) return;
    current.push(tag.type);
    if (tag.type === 8 && tag.body[1] === 1) arrivals.audioDts.push(tag.timestamp);
  });
  const socket = connect(Number(url.port), url.hostname, () => socket.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`));
  socket.on('data', (d: Buffer) => {
    current = [];
    if (!headerDone) {
      pending = Buffer.concat([pending, d]);
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      headerDone = true;
      demux.push(pending.subarray(end + 4));
    } else {
      demux.push(d);
    }
    if (current.length > 0) arrivals.reads.push(current);
  });
  socket.on('error', () => {});
  return arrivals;
}

/** Share of socket reads that brought audio frames but no video frame. */
function audioAloneShare(reads: number[][]): number {
  const withAudio = reads.filter((r) => r.includes(8));
  return withAudio.filter((r) => !r.includes(9)).length / withAudio.length;
}

describe.skipIf(!hasTool('ffmpeg'))('hub.holdAudioForVideo with a real publisher', () => {
  let held: TestGateway;
  let plain: TestGateway;
  const pubs: Publisher[] = [];

  beforeAll(async () => {
    [held, plain] = await Promise.all([startGateway({ hub: { holdAudioForVideo: true } }), startGateway({})]);
  });

  afterAll(async () => {
    await Promise.all(pubs.map((p) => p.stop()));
    await Promise.all([held?.stop(), plain?.stop()]);
  });

  it('sends audio together with the next video frame, losing none, while the default sends it alone', async () => {
    pubs.push(publish(`${held.rtmp}/live/a`, { fps: 25 }), publish(`${plain.rtmp}/live/a`, { fps: 25 }));
    await waitFor('both streams ready', () => held.gw.registry.get('live/a')?.ready && plain.gw.registry.get('live/a')?.ready, 15_000);
    const a = readArrivals(held.http, 'live/a');
    const b = readArrivals(plain.http, 'live/a');
    await sleep(1000);
    a.reads.length = 0;
    b.reads.length = 0;
    await sleep(4000);
    a.close();
    b.close();
    expect(a.reads.filter((r) => r.includes(8)).length).toBeGreaterThan(20);
    // Held: audio leaves in the same write as the video frame after it.
    expect(audioAloneShare(a.reads)).toBeLessThan(0.1);
    // Default: ffmpeg sends audio and video apart, and each leaves as soon as it comes.
    expect(audioAloneShare(b.reads)).toBeGreaterThan(0.3);
    // Nothing is lost: 44.1 kHz AAC frames are 23.2 ms apart, with no gaps.
    const gaps = a.audioDts.slice(1).map((t, i) => t - a.audioDts[i]!);
    expect(Math.max(...gaps)).toBeLessThan(30);
    expect(Math.min(...gaps)).toBeGreaterThan(15);
  });
});

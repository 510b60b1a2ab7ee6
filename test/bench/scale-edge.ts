/**
 * What an edge relay costs: one origin and one edge in this process on a real redis-server,
 * ffmpeg publishing 640x360 25 fps H.264 + AAC over RTMP to the origin.
 *
 *   npm run build && node dist/test/bench/scale-edge.js [--seconds 20] [--cold 5]
 *
 * - added latency: a reader on the origin and one on the edge; each video frame is matched by its
 *   payload bytes and the edge's arrival time minus the origin's is the relay's cost.
 * - cold start: time from the request to the first keyframe for a reader on the edge while the
 *   edge has no relay of the path (the relay is closed between runs), against the origin's.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { publish } from '../helpers/ffmpeg.js';
import { isKeyframeTag, readFlv, type FlvCapture } from '../helpers/flv-client.js';
import { sleep, startGateway, waitFor } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '20' }, cold: { type: 'string', default: '5' } } });
const seconds = Number(values.seconds);
const coldRuns = Number(values.cold);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Arrival time (performance.now) of each video frame, by a hash of its coded payload. */
function arrivals(capture: FlvCapture, into: Map<string, number>): () => void {
  let seen = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    for (; seen < capture.tags.length; seen++) {
      const tag = capture.tags[seen]!;
      if (tag.type !== 9 || tag.body.length < 6 || tag.body[1] !== 1) continue;
      const key = createHash('sha1').update(tag.body.subarray(5)).digest('hex');
      if (!into.has(key)) into.set(key, now);
    }
  }, 1);
  return () => clearInterval(timer);
}

async function main(): Promise<void> {
  const redis = await startRedis();
  const origin = await startGateway({ cluster: { redis: { url: redis.url }, relaySecret: 'bench' } });
  const edge = await startGateway({ cluster: { redis: { url: redis.url }, relaySecret: 'bench', edge: { enabled: true, idleCloseMs: 200 } }, hub: { publisherGraceMs: 100 } });
  const pub = publish(`${origin.rtmp}/live/bench`, { size: '640x360', fps: 25, gop: 25, duration: seconds + coldRuns * 4 + 30 });
  try {
    await waitFor('origin ready', () => origin.gw.registry.get('live/bench')?.ready, 15_000);
    await sleep(1500);
    // Cold start.
    const cold = { origin: [] as number[], edge: [] as number[] };
    for (let i = 0; i < coldRuns; i++) {
      for (const [name, base] of [['origin', origin.http], ['edge', edge.http]] as const) {
        const t0 = performance.now();
        const r = readFlv(`${base}/live/bench.flv`);
        await waitFor('keyframe', () => r.tags.some(isKeyframeTag), 10_000, 1);
        cold[name].push(performance.now() - t0);
        r.close();
      }
      await waitFor('edge relay closed', () => !edge.gw.registry.get('live/bench'), 5000, 20);
    }
    // Added latency, steady state.
    const atOrigin = new Map<string, number>();
    const atEdge = new Map<string, number>();
    const a = readFlv(`${origin.http}/live/bench.flv`);
    const b = readFlv(`${edge.http}/live/bench.flv`);
    const stopA = arrivals(a, atOrigin);
    const stopB = arrivals(b, atEdge);
    await sleep(seconds * 1000);
    stopA();
    stopB();
    a.close();
    b.close();
    const deltas: number[] = [];
    for (const [key, t] of atEdge) {
      const o = atOrigin.get(key);
      if (o !== undefined) deltas.push(t - o);
    }
    deltas.sort((x, y) => x - y);
    const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const result = {
      frames: deltas.length,
      addedLatencyMs: { p50: +percentile(deltas, 50).toFixed(2), p95: +percentile(deltas, 95).toFixed(2), max: +deltas[deltas.length - 1]!.toFixed(2) },
      coldFirstKeyframeMs: { originMedian: +med(cold.origin).toFixed(1), edgeMedian: +med(cold.edge).toFixed(1), runs: coldRuns },
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await pub.stop();
    await edge.stop();
    await origin.stop();
    await redis.stop();
  }
}

void main();

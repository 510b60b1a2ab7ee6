/**
 * What a relay costs. `--mode edge`: one origin and one edge in this process on a real
 * redis-server. `--mode workers`: the built gateway with cluster.workers: 2 as a child process,
 * read through each worker's private port (the owner's readers vs the relaying worker's). ffmpeg
 * publishes 640x360 25 fps H.264 + AAC over RTMP to the origin (the shared port).
 *
 *   npm run build && node dist/test/bench/scale.js [--mode edge|workers] [--seconds 20] [--cold 5]
 *
 * - added latency: a reader on the origin and one on the edge; each video frame is matched by its
 *   payload bytes and the edge's arrival time minus the origin's is the relay's cost.
 * - cold start: time from the request to the first keyframe for a reader on the edge while the
 *   edge has no relay of the path (the relay is closed between runs), against the origin's.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { publish } from '../helpers/ffmpeg.js';
import { isKeyframeTag, readFlv, type FlvCapture } from '../helpers/flv-client.js';
import { collectJsonLines, sleep, startGateway, waitFor } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis.js';

const { values } = parseArgs({ options: { mode: { type: 'string', default: 'edge' }, seconds: { type: 'string', default: '20' }, cold: { type: 'string', default: '5' } } });
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

/** Frames seen by both captures: the second's arrival minus the first's, sorted. */
function added(first: Map<string, number>, second: Map<string, number>): number[] {
  const deltas: number[] = [];
  for (const [key, t] of second) {
    const o = first.get(key);
    if (o !== undefined) deltas.push(t - o);
  }
  return deltas.sort((x, y) => x - y);
}

async function workersMode(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-workers-'));
  const file = join(dir, 'w.json');
  writeFileSync(file, JSON.stringify({ bind: '127.0.0.1', dataDir: dir, log: { level: 'info', format: 'json' }, http: { port: 0 }, rtmp: { port: 0 }, rtsp: { enabled: false }, srt: { enabled: false }, cluster: { workers: 2 } }));
  const child = spawn(process.execPath, ['dist/gateway/main.js', '--config', file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Record<string, any>[] = [];
  collectJsonLines(child.stdout, lines);
  let pub: ReturnType<typeof publish> | undefined;
  try {
    await waitFor('workers', () => ['http-private', 'rtmp'].every((n) => lines.filter((l) => l.listener === n).length === 2), 20_000);
    const rtmp = lines.find((l) => l.listener === 'rtmp')!.port;
    const privates = lines.filter((l) => l.listener === 'http-private').map((l) => `http://127.0.0.1:${l.port}`);
    pub = publish(`rtmp://127.0.0.1:${rtmp}/live/bench`, { size: '640x360', fps: 25, gop: 25, duration: seconds + 30 });
    const ownerOf = async () => {
      for (const base of privates) {
        const res = await fetch(`${base}/api/v1/streams/live/bench`).catch(() => undefined);
        if (res?.status === 200 && ((await res.json()) as any).publisher?.protocol === 'rtmp') return base;
      }
      return undefined;
    };
    const owner = await waitFor('owner', ownerOf, 15_000);
    const other = privates.find((p) => p !== owner)!;
    await sleep(1500);
    const t0 = performance.now();
    const atOwner = new Map<string, number>();
    const atOther = new Map<string, number>();
    const a = readFlv(`${owner}/live/bench.flv`);
    const b = readFlv(`${other}/live/bench.flv`);
    await waitFor('relay keyframe', () => b.tags.some(isKeyframeTag), 10_000, 1);
    const coldRelay = performance.now() - t0;
    const stopA = arrivals(a, atOwner);
    const stopB = arrivals(b, atOther);
    await sleep(seconds * 1000);
    stopA();
    stopB();
    a.close();
    b.close();
    const deltas = added(atOwner, atOther);
    process.stdout.write(
      `${JSON.stringify({ mode: 'workers', frames: deltas.length, addedLatencyMs: { p50: +percentile(deltas, 50).toFixed(2), p95: +percentile(deltas, 95).toFixed(2), max: +deltas[deltas.length - 1]!.toFixed(2) }, coldRelayFirstKeyframeMs: +coldRelay.toFixed(1) })}\n`,
    );
  } finally {
    await pub?.stop();
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}

async function main(): Promise<void> {
  if (values.mode === 'workers') return workersMode();
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
    const deltas = added(atOrigin, atEdge);
    const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const result = {
      mode: 'edge',
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

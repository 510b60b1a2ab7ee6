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
 *
 * `--mode cpu` (`--readers 100 --seconds 4`): what readers and the loopback relay cost in CPU. The
 * built gateway with cluster.workers: 2; ffmpeg sends a pre-encoded ~2 Mbps H.264 + AAC file over
 * RTMP (-c copy, so the load generator stays light); HTTP-FLV readers are plain sockets that
 * discard what they get, pointed at one worker's private port. Each phase lasts `--seconds`, and
 * each worker's CPU is read around it:
 *   idle      the publisher only (the owner ingests, the other worker idles, no relay)
 *   (warm-up: 10 readers on each worker for 2 s, not measured; the relay stays up after it)
 *   relay0    the other worker relays the stream (one pull) to no reader: the relay's own cost
 *   one       N readers on the owner: one process serves everything
 *   relayN    N readers on the other worker (the owner serves the one pull)
 *   split     N/2 readers on each worker (the same N readers spread over two processes)
 * CPU is every thread's on-CPU time (/proc/{pid}/task/{tid}/schedstat), so the kernel's socket
 * work on the gateway's behalf is in it; the load generator's (this process and ffmpeg) is printed
 * apart: on a small box it shares the cores.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { publish, runFfmpeg } from '../helpers/ffmpeg.js';
import { isKeyframeTag, readFlv, type FlvCapture } from '../helpers/flv-client.js';
import { collectJsonLines, sleep, startGateway, waitFor } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis.js';

const { values } = parseArgs({
  options: { mode: { type: 'string', default: 'edge' }, seconds: { type: 'string' }, cold: { type: 'string', default: '5' }, readers: { type: 'string', default: '100' } },
});
const seconds = Number(values.seconds ?? (values.mode === 'cpu' ? 4 : 20));
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
        const res = await fetch(`${base}/api/v1/streams/live/bench?local=1`).catch(() => undefined);
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

/**
 * CPU seconds a process used so far, every thread: the on-CPU time of /proc/{pid}/task/{tid}/schedstat
 * (nanoseconds; /proc/{pid}/stat counts 10 ms ticks, too coarse for a few seconds at a few percent).
 */
function cpuSeconds(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return ns / 1e9;
}

/** An HTTP-FLV reader that only counts bytes (a socket, no parsing: the load generator shares the cores). */
function sink(url: string): { bytes: () => number; close: () => void } {
  let bytes = 0;
  const req = httpGet(url, { agent: false }, (res) => {
    res.on('data', (chunk: Buffer) => (bytes += chunk.length));
  });
  req.on('error', () => {});
  return { bytes: () => bytes, close: () => req.destroy() };
}

async function cpuMode(): Promise<void> {
  const n = Number(values.readers);
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-cpu-'));
  // ~2 Mbps: 640x360 25 fps H.264 at a constant 1.9 Mbps + 64 kbps AAC, 10 s looped.
  const media = join(dir, 'bench.flv');
  const encode = runFfmpeg(['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100', '-t', '10',
    '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-g', '25', '-b:v', '1900k', '-minrate', '1900k', '-maxrate', '1900k', '-bufsize', '1M', '-x264-params', 'nal-hrd=cbr', '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', media]);
  if ((await encode.exited) !== 0) throw new Error(`encoding the bench file failed: ${encode.stderr()}`);
  const file = join(dir, 'w.json');
  writeFileSync(file, JSON.stringify({ bind: '127.0.0.1', dataDir: dir, log: { level: 'warn', format: 'json' }, http: { port: 0 }, rtmp: { port: 0 }, rtsp: { enabled: false }, srt: { enabled: false }, webrtc: { enabled: false }, cluster: { workers: 2, edge: { idleCloseMs: 60000 } } }));
  const child = spawn(process.execPath, ['dist/gateway/main.js', '--config', file, '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Record<string, any>[] = [];
  collectJsonLines(child.stdout, lines);
  let pub: ReturnType<typeof runFfmpeg> | undefined;
  const readers: ReturnType<typeof sink>[] = [];
  try {
    await waitFor('workers', () => ['http-private', 'rtmp'].every((l) => lines.filter((x) => x.listener === l).length === 2), 20_000);
    const rtmp = lines.find((l) => l.listener === 'rtmp')!.port;
    const privates = lines.filter((l) => l.listener === 'http-private').map((l) => `http://127.0.0.1:${l.port}`);
    pub = runFfmpeg(['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', media, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${rtmp}/live/bench`]);
    const local = async (base: string) => ((await fetch(`${base}/api/v1/streams/live/bench?local=1`).then((r) => (r.ok ? r.json() : undefined), () => undefined)) as any);
    const owner = await waitFor('owner', async () => {
      for (const base of privates) if ((await local(base))?.publisher?.protocol === 'rtmp') return base;
      return undefined;
    }, 15_000);
    const other = privates.find((p) => p !== owner)!;
    const pidOf = async (base: string) => ((await (await fetch(`${base}/api/v1/cluster`)).json()) as any).worker.pid as number;
    const pids = { owner: await pidOf(owner), other: await pidOf(other) };
    await sleep(1000);
    const phase = async (name: string) => {
      const c0 = { owner: cpuSeconds(pids.owner), other: cpuSeconds(pids.other), bench: process.cpuUsage(), ffmpeg: cpuSeconds(pub!.proc.pid!) };
      const b0 = readers.reduce((sum, r) => sum + r.bytes(), 0);
      const t0 = performance.now();
      await sleep(seconds * 1000);
      const wall = (performance.now() - t0) / 1000;
      const pct = (s: number) => +((s / wall) * 100).toFixed(2);
      const bench = process.cpuUsage(c0.bench);
      const result = {
        phase: name,
        ownerCpuPct: pct(cpuSeconds(pids.owner) - c0.owner),
        otherCpuPct: pct(cpuSeconds(pids.other) - c0.other),
        loadGeneratorCpuPct: pct((bench.user + bench.system) / 1e6 + cpuSeconds(pub!.proc.pid!) - c0.ffmpeg),
        readers: readers.length,
        readMbps: +(((readers.reduce((sum, r) => sum + r.bytes(), 0) - b0) * 8) / 1e6 / wall).toFixed(1),
      };
      process.stderr.write(`${JSON.stringify(result)}\n`);
      return result;
    };
    const closeAll = () => {
      for (const r of readers.splice(0)) r.close();
    };
    const settle = () => sleep(1000);
    const idle = await phase('idle');
    // Warm-up (JIT of the relay's and the readers' paths, not measured); the relay then stays up
    // without readers (edge.idleCloseMs 60 s).
    for (let i = 0; i < 10; i++) readers.push(sink(`${owner}/live/bench.flv`), sink(`${other}/live/bench.flv`));
    await waitFor('relay up', async () => (await local(other))?.ready, 10_000);
    await sleep(2000);
    closeAll();
    await settle();
    const relay0 = await phase('relay0');
    for (let i = 0; i < n; i++) readers.push(sink(`${owner}/live/bench.flv`));
    await settle();
    const one = await phase('one');
    closeAll();
    for (let i = 0; i < n; i++) readers.push(sink(`${other}/live/bench.flv`));
    await settle();
    const relayN = await phase('relayN');
    closeAll();
    for (let i = 0; i < n / 2; i++) readers.push(sink(`${other}/live/bench.flv`), sink(`${owner}/live/bench.flv`));
    readers.splice(n);
    await settle();
    const split = await phase('split');
    closeAll();
    const perReader = (one.ownerCpuPct - relay0.ownerCpuPct) / n;
    const perReaderRelaying = (relayN.otherCpuPct - relay0.otherCpuPct) / n;
    const relayExtra = relay0.otherCpuPct - idle.otherCpuPct;
    const result = {
      mode: 'cpu',
      readers: n,
      seconds,
      streamMbps: +(one.readMbps / n).toFixed(2),
      phases: { idle, relay0, one, relayN, split },
      cpuPctPerReader: { owner: +perReader.toFixed(3), relayingWorker: +perReaderRelaying.toFixed(3) },
      ingestCpuPct: +(idle.ownerCpuPct - idle.otherCpuPct).toFixed(2),
      relayExtraCpuPct: { relayingWorker: +relayExtra.toFixed(2), ownerServingThePull: +(relay0.ownerCpuPct - idle.ownerCpuPct).toFixed(2) },
      boxCpuPct: { oneProcess: +(one.ownerCpuPct + one.otherCpuPct).toFixed(2), twoProcesses: +(split.ownerCpuPct + split.otherCpuPct).toFixed(2) },
      // Extrapolated, linearly: a worker is one JavaScript thread, so one core is its ceiling.
      extrapolatedReadersPerProcess: {
        owner: Math.floor((100 - idle.ownerCpuPct) / perReader),
        relayingWorker: Math.floor((100 - relay0.otherCpuPct) / perReaderRelaying),
      },
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    for (const r of readers) r.close();
    await pub?.stop();
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}

async function main(): Promise<void> {
  if (values.mode === 'workers') return workersMode();
  if (values.mode === 'cpu') return cpuMode();
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

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});

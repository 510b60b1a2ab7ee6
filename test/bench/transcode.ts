/**
 * Rendition benchmark: added latency and cost of H.265 + PCMA -> H.264 + AAC jobs.
 *
 *   npx tsc -p tsconfig.json && node dist/test/bench/transcode.js [--seconds 20] [--warmup 5]
 *     [--profile h264|wall] [--size 1280x720] [--fps 30] [--jobs 1]
 *   npm run bench -- --suite transcode     (the per-job cost table: 640x360 and 1080p, h264 and wall)
 *
 * A pre-encoded HEVC + G.711 clip (generated once with ffmpeg) is pushed over RTSP in real time
 * with -c copy to `--jobs` paths, so the publishers cost almost nothing; each path gets one
 * rendition reader (one ffmpeg job per camera, as a wall of N cameras makes). Two HTTP-FLV readers
 * in this process record when each frame of the first camera arrives: one on the source, one on
 * the rendition. The rendition's timeline starts at the source keyframe the job joined on (ffmpeg
 * keeps timestamp deltas, the hub rebases to 0), so rendition frame t matches source frame K + t;
 * K is the source keyframe that makes every latency non-negative and the smallest. Added latency =
 * arrival(rendition frame) - arrival(matching source frame). CPU is each job's /proc utime+stime
 * over the window; fps is the slowest job's.
 */
import { spawn } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { configWith } from '../../gateway/config.js';
import { Gateway } from '../../gateway/gateway.js';
import { FlvDemuxer } from '../../gateway/protocols/flv/demux.js';
import { isKeyframeTag, isSequenceHeaderTag } from '../helpers/flv-client.js';
import { percentile } from '../helpers/stats.js';
import { ensureHevcPcmaMedia } from './media.js';


interface Arrival {
  dts: number;
  at: number;
  key: boolean;
}

/** Video frames of an HTTP-FLV URL as they arrive (sequence headers skipped). */
function watch(url: string): { frames: Arrival[]; close(): void } {
  const frames: Arrival[] = [];
  const demux = new FlvDemuxer((tag) => {
    if (tag.type !== 9) return;
    if (isSequenceHeaderTag(tag)) return;
    frames.push({ dts: tag.timestamp, at: performance.now(), key: isKeyframeTag(tag) });
  });
  const req = httpGet(url, (res) => res.on('data', (d: Buffer) => demux.push(d)));
  req.on('error', () => {});
  return { frames, close: () => req.destroy() };
}


export interface TranscodeBenchOptions {
  profile: string;
  size: string;
  fps: number;
  jobs: number;
  seconds: number;
  warmup: number;
}

export interface TranscodeBenchResult {
  profile: string;
  source: string;
  jobs: number;
  args: string;
  firstFrameMs: number;
  /** The slowest job's output frame rate over the window. */
  renditionFps: number;
  ffmpegSpeed: number;
  /** Mean CPU of one job, in cores. */
  cpuCoresPerJob: number;
  /** Cameras one core transcodes at this cost (1 / cpuCoresPerJob). */
  camerasPerCore: number;
  restarts: number;
  matchedFrames?: number;
  addedLatencyMs?: { p50: number; p95: number; p99: number; max: number } | string;
}

export async function benchTranscode(o: TranscodeBenchOptions): Promise<TranscodeBenchResult> {
  const { profile, seconds, warmup, jobs } = o;
  const media = process.env.BENCH_MEDIA ?? ensureHevcPcmaMedia(o.size, o.fps);
  const gw = new Gateway(
    configWith({ bind: '127.0.0.1', http: { port: 0 }, rtmp: { port: 0 }, rtsp: { port: 0 }, transcode: { idleCloseMs: 1000, maxJobs: Math.max(4, jobs), maxCpuPercent: 0 } }),
    { logger: pino({ level: 'warn' }) },
  );
  const ports = await gw.start();
  const paths = Array.from({ length: jobs }, (_, i) => `live/bench${i + 1}`);
  const pushers = paths.map((path) =>
    spawn('ffmpeg', ['-hide_banner', '-v', 'error', '-re', '-stream_loop', '-1', '-i', media, '-c', 'copy', '-f', 'rtsp', '-rtsp_transport', 'tcp', `rtsp://127.0.0.1:${ports.rtsp}/${path}`], { stdio: 'inherit' }),
  );
  const readers: { close(): void }[] = [];
  try {
    const deadline = Date.now() + 20_000;
    while (!paths.every((p) => gw.registry.get(p)?.ready)) {
      if (Date.now() > deadline) throw new Error('the sources did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const source = watch(`http://127.0.0.1:${ports.http}/${paths[0]}.flv`);
    readers.push(source);
    await new Promise((r) => setTimeout(r, 1500));
    const requestedAt = performance.now();
    const rendition = watch(`http://127.0.0.1:${ports.http}/${paths[0]}_${profile}.flv`);
    readers.push(rendition);
    const others = paths.slice(1).map((p) => watch(`http://127.0.0.1:${ports.http}/${p}_${profile}.flv`));
    readers.push(...others);
    while (rendition.frames.length === 0) {
      if (performance.now() - requestedAt > 20_000) throw new Error('the rendition did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
    const firstFrameMs = performance.now() - requestedAt;
    await new Promise((r) => setTimeout(r, warmup * 1000));
    const all = [rendition, ...others];
    const running = paths.map((p) => gw.transcoder.renditions.job(`${p}_${profile}`));
    if (running.some((j) => !j)) throw new Error(`only ${running.filter(Boolean).length} of ${jobs} jobs run (transcode.maxJobs?)`);
    const cpu0 = running.map((j) => j!.cpuSeconds() ?? NaN);
    const counts0 = all.map((r) => r.frames.length);
    const t0 = performance.now();
    const from = rendition.frames.length;
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const cpu1 = running.map((j) => j!.cpuSeconds() ?? NaN);
    const wall = (performance.now() - t0) / 1000;
    const info = running[0]!.info();
    const window = rendition.frames.slice(from);
    const slowestFps = Math.min(...all.map((r, i) => (r.frames.length - counts0[i]!) / wall));
    const cpuPerJob = cpu1.reduce((a, c, i) => a + (c - cpu0[i]!), 0) / jobs / wall;
    const result: TranscodeBenchResult = {
      profile,
      source: `${o.size}@${o.fps} HEVC + PCMA`,
      jobs,
      args: info.args.join(' '),
      firstFrameMs: Math.round(firstFrameMs),
      renditionFps: Math.round(slowestFps * 10) / 10,
      ffmpegSpeed: info.speed,
      cpuCoresPerJob: Math.round(cpuPerJob * 100) / 100,
      camerasPerCore: Math.round((1 / cpuPerJob) * 10) / 10,
      restarts: running.reduce((a, j) => a + j!.restarts, 0),
    };
    // Match rendition frames to source frames: try each source keyframe as the origin.
    // FLV carries whole milliseconds and ffmpeg rounds differently (33/66/100 vs 33/67/100): nearest within 3 ms.
    const byDts = new Map<number, number>();
    for (const f of source.frames) for (const d of [-1, 0, 1]) if (!byDts.has(f.dts + d)) byDts.set(f.dts + d, f.at);
    for (const f of source.frames) byDts.set(f.dts, f.at);
    let best: { origin: number; lat: number[] } | undefined;
    // The rendition's first frame may carry a few ms of start offset (audio starting first): count from it.
    const r0 = rendition.frames[0]!.dts;
    for (const k of source.frames.filter((f) => f.key)) {
      const lat: number[] = [];
      for (const f of window) {
        const at = byDts.get(k.dts + f.dts - r0);
        if (at !== undefined) lat.push(f.at - at);
      }
      if (lat.length < window.length * 0.9) continue;
      const min = Math.min(...lat);
      if (min < -5) continue;
      if (!best || min < Math.min(...best.lat)) best = { origin: k.dts, lat };
    }
    if (process.env.BENCH_DEBUG) {
      process.stderr.write(`rendition first: ${JSON.stringify(rendition.frames.slice(0, 5))}\nsource keys: ${JSON.stringify(source.frames.filter((f) => f.key).slice(0, 6))}\nsource first: ${JSON.stringify(source.frames.slice(0, 3))}\n`);
    }
    if (best) {
      const sorted = [...best.lat].sort((a, b) => a - b);
      Object.assign(result, {
        matchedFrames: sorted.length,
        addedLatencyMs: { p50: Math.round(percentile(sorted, 50)), p95: Math.round(percentile(sorted, 95)), p99: Math.round(percentile(sorted, 99)), max: Math.round(sorted.at(-1)!) },
      });
    } else {
      result.addedLatencyMs = 'could not match rendition frames to source frames';
    }
    return result;
  } finally {
    for (const r of readers) r.close();
    for (const p of pushers) p.kill('SIGKILL');
    await gw.stop();
  }
}

/** Run directly (not imported by run.ts): one configuration from the command line, JSON out. */
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '20' },
      warmup: { type: 'string', default: '5' },
      profile: { type: 'string', default: 'h264' },
      size: { type: 'string', default: '1280x720' },
      fps: { type: 'string', default: '30' },
      jobs: { type: 'string', default: '1' },
    },
  });
  benchTranscode({ profile: values.profile!, size: values.size!, fps: Number(values.fps), jobs: Number(values.jobs), seconds: Number(values.seconds), warmup: Number(values.warmup) }).then(
    (result) => {
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`${String((error as Error)?.stack ?? error)}\n`);
      process.exit(1);
    },
  );
}

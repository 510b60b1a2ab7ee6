/**
 * Rendition benchmark: added latency and cost of one 720p30 HEVC + PCMA -> H.264 + AAC job with
 * the default `h264` profile.
 *
 *   npx tsc -p tsconfig.json && node dist/test/bench/transcode.js [--seconds 20] [--warmup 5] [--profile h264]
 *
 * A pre-encoded 720p30 HEVC + G.711 clip (generated once with ffmpeg) is pushed over RTSP in real
 * time with -c copy, so the publisher costs almost nothing. Two HTTP-FLV readers in this process
 * record when each frame arrives: one on the source, one on `_h264`. The rendition's timeline
 * starts at the source keyframe the job joined on (ffmpeg keeps timestamp deltas, the hub rebases
 * to 0), so rendition frame t matches source frame K + t; K is the source keyframe that makes
 * every latency non-negative and the smallest. Added latency = arrival(rendition frame) -
 * arrival(matching source frame). CPU is the job's /proc utime+stime over the window.
 */
import { spawn } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { configWith } from '../../gateway/config.js';
import { Gateway } from '../../gateway/gateway.js';
import { FlvDemuxer } from '../../gateway/protocols/flv/demux.js';
import { isKeyframeTag, isSequenceHeaderTag } from '../helpers/flv-client.js';
import { percentile } from '../helpers/stats.js';
import { ensureHevcPcmaMedia } from './media.js';


const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    profile: { type: 'string', default: 'h264' },
  },
});

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


async function main(): Promise<void> {
  const seconds = Number(values.seconds);
  const warmup = Number(values.warmup);
  const profile = values.profile!;
  const media = process.env.BENCH_MEDIA ?? ensureHevcPcmaMedia();
  const gw = new Gateway(configWith({ bind: '127.0.0.1', http: { port: 0 }, rtmp: { port: 0 }, rtsp: { port: 0 }, transcode: { idleCloseMs: 1000, profiles: { h264: {}, 'video-only': { audio: { codec: 'none' } } } } }), { logger: pino({ level: 'warn' }) });
  const ports = await gw.start();
  const pusher = spawn('ffmpeg', ['-hide_banner', '-v', 'error', '-re', '-stream_loop', '-1', '-i', media, '-c', 'copy', '-f', 'rtsp', '-rtsp_transport', 'tcp', `rtsp://127.0.0.1:${ports.rtsp}/live/bench`], { stdio: 'inherit' });
  try {
    const deadline = Date.now() + 15_000;
    while (!gw.registry.get('live/bench')?.ready) {
      if (Date.now() > deadline) throw new Error('the source did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const source = watch(`http://127.0.0.1:${ports.http}/live/bench.flv`);
    await new Promise((r) => setTimeout(r, 1500));
    const requestedAt = performance.now();
    const rendition = watch(`http://127.0.0.1:${ports.http}/live/bench_${profile}.flv`);
    while (rendition.frames.length === 0) {
      if (performance.now() - requestedAt > 20_000) throw new Error('the rendition did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
    const firstFrameMs = performance.now() - requestedAt;
    await new Promise((r) => setTimeout(r, warmup * 1000));
    const job = gw.transcoder.renditions.job(`live/bench_${profile}`)!;
    const cpu0 = job.cpuSeconds() ?? NaN;
    const t0 = performance.now();
    const from = rendition.frames.length;
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const cpu1 = job.cpuSeconds() ?? NaN;
    const wall = (performance.now() - t0) / 1000;
    const info = job.info();
    const window = rendition.frames.slice(from);
    source.close();
    rendition.close();

    // Match rendition frames to source frames: try each source keyframe as the origin.
    // FLV carries whole milliseconds and ffmpeg rounds differently (33/66/100 vs 33/67/100): nearest within 3 ms.
    const byDts = new Map<number, number>();
    for (const f of source.frames) for (const d of [-1, 0, 1]) if (!byDts.has(f.dts + d)) byDts.set(f.dts + d, f.at);
    for (const f of source.frames) byDts.set(f.dts, f.at);
    let best: { origin: number; lat: number[] } | undefined;
    for (const k of source.frames.filter((f) => f.key)) {
      const lat: number[] = [];
      for (const f of window) {
        const at = byDts.get(k.dts + f.dts);
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
    const fps = window.length / wall;
    const result: Record<string, unknown> = {
      profile,
      args: job.args.join(' '),
      firstFrameMs: Math.round(firstFrameMs),
      renditionFps: Math.round(fps * 10) / 10,
      ffmpegSpeed: info.speed,
      cpuCores: Math.round(((cpu1 - cpu0) / wall) * 100) / 100,
      cpuPercentOfMachine: Math.round(((cpu1 - cpu0) / wall / 2) * 1000) / 10,
      restarts: info.restarts,
    };
    if (best) {
      const sorted = [...best.lat].sort((a, b) => a - b);
      Object.assign(result, {
        matchedFrames: sorted.length,
        addedLatencyMs: { p50: Math.round(percentile(sorted, 50)), p95: Math.round(percentile(sorted, 95)), p99: Math.round(percentile(sorted, 99)), max: Math.round(sorted.at(-1)!) },
      });
    } else {
      result.addedLatencyMs = 'could not match rendition frames to source frames';
    }
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } finally {
    pusher.kill('SIGKILL');
    await gw.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String((error as Error)?.stack ?? error)}\n`);
    process.exit(1);
  },
);

/**
 * WebRTC benchmarks.
 *
 * 1. Glass-to-glass latency over WHEP in Chromium with the bar-code method (as player-latency.ts:
 *    ffmpeg burns the wall clock into each frame, the page reads it back from each presented
 *    frame): p50/p95, and the time from the POST to the first frame, over fresh sessions.
 * 2. WHEP readers per core: N libdatachannel readers (load processes, test/helpers/whep-readers.mjs)
 *    of one 2 Mbps stream; the gateway's CPU (this process) over the window, each reader's rate.
 * 3. WHIP ingest (--publishers 4,8,16): for each N a fresh gateway in this process and N
 *    libdatachannel publishers of a 1280x720 25 fps 2 Mbps H.264 + Opus clip (load processes,
 *    test/helpers/whip-publishers.mjs, --per-process each); over the window: the gateway's CPU, each
 *    path's video frame rate and bytes as the gateway counted them (/metrics publisher counters),
 *    packets lost on the WHIP sessions (/api/v1/webrtc/sessions), the load processes' and their
 *    ffmpegs' CPU (/proc/PID/stat) and the whole machine's (/proc/stat), to tell which side ran out.
 *
 *   npm run build && node dist/test/bench/webrtc.js [--seconds 20] [--sessions 5] [--readers 50,100]
 *     [--publishers 4,8,16] [--per-process 4] [--skip-latency] [--skip-readers]
 *
 * Not part of `npm test`. Needs ffmpeg, and /usr/bin/chromium for the latency part. The gateway,
 * Chromium and the load processes share this machine's cores: the CPU figure is the gateway process alone.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { publish } from '../helpers/ffmpeg.js';
import { sleep, startGateway, waitFor } from '../helpers/gateway.js';
import { clockBarcodeFilter, hasChromium, installBarcodeProbe, launchChromium, median, percentile, readProbe } from '../helpers/browser.js';
import { blankVideoPage } from '../helpers/browser-play.js';
import { whepPlay } from '../helpers/webrtc.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    sessions: { type: 'string', default: '5' },
    readers: { type: 'string', default: '50,100' },
    'per-process': { type: 'string', default: '4' },
    // Readers rows: load readers that count bytes only (no packet to JS), so a process holds more.
    'bytes-only': { type: 'boolean', default: false },
    // WHIP rows: the gateway's overload guard (webrtc.overloadLagMs; 500 is the product default, 0 off).
    'overload-lag-ms': { type: 'string', default: '500' },
    publishers: { type: 'string', default: '' },
    'skip-latency': { type: 'boolean', default: false },
    'skip-readers': { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const WARMUP_MS = 3000;

async function latency(http: string): Promise<void> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 960, height: 540 } });
    await installBarcodeProbe(page);
    await blankVideoPage(page, http, 'bench-whep', 640, 360);
    const r = await whepPlay(page, `${http}/live/bench/whep`);
    if (r.status !== 201) throw new Error(`WHEP answered ${r.status}: ${r.body}`);
    await page.waitForFunction('window.__sgProbe && window.__sgProbe.samples.length > 10', undefined, { timeout: 20_000 });
    await sleep(WARMUP_MS);
    const start = (await readProbe(page)).samples.length;
    await sleep(SECONDS * 1000);
    const probe = await readProbe(page);
    const g2g = probe.samples.slice(start).map((s) => s.g2gDisplay);
    await page.close();
    // First frame: from the start of the WHEP exchange (offer, POST, ICE, DTLS) to the first frame on screen.
    const firstFrames: number[] = [];
    for (let i = 0; i < Number(values.sessions); i++) {
      const p = await browser.newPage({ viewport: { width: 960, height: 540 } });
      await installBarcodeProbe(p);
      await blankVideoPage(p, http, `bench-whep-${i}`, 640, 360);
      const t0 = (await p.evaluate('performance.now()')) as number;
      await whepPlay(p, `${http}/live/bench/whep`);
      await p.waitForFunction('window.__sgProbe && window.__sgProbe.firstFrameAt !== null', undefined, { timeout: 20_000 });
      firstFrames.push(Math.round((await readProbe(p)).firstFrameAt! - t0));
      await p.close();
    }
    console.log(`\nWHEP glass-to-glass, Chromium, 640x360 25 fps H.264 + PCMA (passed through), ${SECONDS} s after ${WARMUP_MS / 1000} s warm-up`);
    console.log(`g2g p50 ${Math.round(median(g2g))} ms, p95 ${Math.round(percentile(g2g, 95))} ms over ${g2g.length} frames; first frame after the offer: ${firstFrames.join(', ')} ms (median ${median(firstFrames)})`);
    console.log(JSON.stringify({ bench: 'webrtc-latency', seconds: SECONDS, frames: g2g.length, g2gP50: median(g2g), g2gP95: percentile(g2g, 95), firstFrames }));
  } finally {
    await browser.close();
  }
}

function loadProcess(url: string, count: number, measureMs: number): Promise<{ readers: { fps: number | null; kbps: number | null; gaps: number; connected: boolean }[] }> {
  const script = resolve(process.cwd(), 'test/helpers/whep-readers.mjs');
  return new Promise((done, fail) =>
    execFile(process.execPath, [script, url, String(count), String(measureMs), '3000'], { timeout: measureMs + 60_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, WHEP_BYTES_ONLY: values['bytes-only'] ? '1' : '' } }, (error, stdout) =>
      error ? fail(error) : done(JSON.parse(stdout)),
    ),
  );
}

async function readersPerCore(http: string, total: number): Promise<void> {
  const perProcess = Number(values['per-process']);
  const counts: number[] = [];
  for (let left = total; left > 0; left -= perProcess) counts.push(Math.min(perProcess, left));
  const measureMs = SECONDS * 1000;
  const runs = Promise.all(counts.map((n) => loadProcess(`${http}/live/rate/whep`, n, measureMs)));
  // The load processes connect, warm up 3 s, then measure: sample this process's CPU over the same window.
  await waitFor(`${total} connected WHEP sessions`, async () => {
    const s = ((await (await fetch(`${http}/api/v1/webrtc/sessions`)).json()) as { sessions: { state: string }[] }).sessions;
    return s.filter((x) => x.state === 'connected').length >= total;
  }, 60_000);
  await sleep(3000);
  // The gateway's side of every session: what it sent, and the loss its readers report (RTCP).
  const sessions = async () => ((await (await fetch(`${http}/api/v1/webrtc/sessions`)).json()) as { sessions: { id: string; bytesSent: number; packetsLost: number; fractionLost: number }[] }).sessions;
  const before = new Map((await sessions()).map((x) => [x.id, x]));
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  await sleep(measureMs - 500);
  const cpu = process.cpuUsage(cpu0);
  const windowMs = Date.now() - t0;
  const cpuPercent = ((cpu.user + cpu.system) / 1000 / windowMs) * 100;
  const after = await sessions();
  const sentKbps = after.filter((x) => before.has(x.id)).map((x) => ((x.bytesSent - before.get(x.id)!.bytesSent) * 8) / windowMs);
  const reportedLost = after.reduce((n, x) => n + Math.max(0, x.packetsLost - (before.get(x.id)?.packetsLost ?? 0)), 0);
  console.log(`     gateway side: sent per reader min/median ${Math.round(Math.min(...sentKbps))}/${Math.round(median(sentKbps))} kbps, packets the readers reported lost in the window: ${reportedLost}`);
  const readers = (await runs).flatMap((r) => r.readers);
  // Bytes-only load processes count one reader each (a sample); the others report null.
  const fps = readers.flatMap((r) => (r.fps === null ? [] : [r.fps]));
  const kbps = readers.flatMap((r) => (r.kbps === null ? [] : [r.kbps]));
  const mem = process.memoryUsage().rss / 1024 / 1024;
  console.log(
    `${String(total).padStart(4)} WHEP readers | gateway CPU ${cpuPercent.toFixed(1)} % of a core | readers per core ≈ ${Math.round((total / cpuPercent) * 100)} | fps min/median ${Math.min(...fps).toFixed(1)}/${median(fps).toFixed(1)} | kbps median ${Math.round(median(kbps))} | gaps ${readers.reduce((a, r) => a + r.gaps, 0)} | RSS ${Math.round(mem)} MB`,
  );
  console.log(JSON.stringify({ bench: 'webrtc-readers', readers: total, cpuPercent, fpsMin: Math.min(...fps), fpsMedian: median(fps), kbpsMedian: median(kbps), rssMb: mem }));
}

/** utime + stime of a process (all its threads), in ms, from /proc/PID/stat; 0 once it is gone. */
function procCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of proc(5), in clock ticks (USER_HZ, 100 on Linux); f[0] is field 3.
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/**
 * Jiffies of the whole machine (/proc/stat "cpu" line): busy (user, nice, system, irq, softirq),
 * softirq apart (loopback UDP is delivered there, charged to no process), steal (taken by the
 * hypervisor: a VM's cores are not all ours) and the total of the first 8.
 */
function machineCpu(): { busy: number; softirq: number; steal: number; total: number } {
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { busy: user + nice + system + irq + softirq, softirq, steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
}

interface LoadProcess {
  pid: number;
  ffmpegPid: number;
  ready: Promise<{ publishers: { path: string; connected: boolean; status: number }[] }>;
  result: Promise<{ cpuPercent: number; rtpFromFfmpeg: { video: number; audio: number }; publishers: { path: string; packets: number; sendFailures: number }[] }>;
  end(): void;
}

function publisherProcess(origin: string, first: number, count: number, clip: string): LoadProcess {
  const script = resolve(process.cwd(), 'test/helpers/whip-publishers.mjs');
  const child = spawn(process.execPath, [script, '--origin', origin, '--first', String(first), '--count', String(count), '--clip', clip], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const p = { pid: child.pid!, ffmpegPid: 0 } as LoadProcess;
  let onReady!: (v: any) => void;
  let onResult!: (v: any) => void;
  p.ready = new Promise((r, fail) => {
    onReady = r;
    child.on('exit', (code) => fail(new Error(`whip-publishers.mjs exited (${code}) before it was ready`)));
  });
  p.result = new Promise((r, fail) => {
    onResult = r;
    child.on('exit', (code) => fail(new Error(`whip-publishers.mjs exited (${code}) before its result`)));
  });
  // Settled promises ignore the later rejection; this keeps an unawaited one from being "unhandled".
  p.result.catch(() => {});
  lines.on('line', (line) => {
    const msg = JSON.parse(line);
    if (msg.ready) {
      p.ffmpegPid = msg.ffmpegPid;
      onReady(msg);
    } else onResult(msg);
  });
  p.end = () => {
    if (!child.stdin!.writableEnded) child.stdin!.end();
  };
  return p;
}

interface WhipSnapshot {
  at: number;
  gatewayCpu: NodeJS.CpuUsage;
  machine: { busy: number; softirq: number; steal: number; total: number };
  load: number[];
  ffmpeg: number[];
  /** Per path: video frames and payload bytes the hub counted, RTP packets received and lost on the session. */
  paths: Map<string, { frames: number; payloadBytes: number; packets: number; lost: number; bytes: number }>;
}

async function whipSnapshot(http: string, load: LoadProcess[]): Promise<WhipSnapshot> {
  const at = Date.now();
  const gatewayCpu = process.cpuUsage();
  const machine = machineCpu();
  const metrics = await (await fetch(`${http}/metrics`)).text();
  const sessions = ((await (await fetch(`${http}/api/v1/webrtc/sessions`)).json()) as { sessions: { kind: string; path: string; packetsReceived: number; packetsLost: number; bytesReceived: number }[] }).sessions;
  const paths: WhipSnapshot['paths'] = new Map();
  const entry = (path: string) => {
    let e = paths.get(path);
    if (!e) paths.set(path, (e = { frames: 0, payloadBytes: 0, packets: 0, lost: 0, bytes: 0 }));
    return e;
  };
  for (const m of metrics.matchAll(/^streamgate_publisher_frames_total\{path="([^"]+)",kind="video"\} (\d+)/gm)) entry(m[1]!).frames = Number(m[2]);
  for (const m of metrics.matchAll(/^streamgate_publisher_bytes_total\{path="([^"]+)"\} (\d+)/gm)) entry(m[1]!).payloadBytes = Number(m[2]);
  for (const s of sessions) {
    if (s.kind !== 'whip') continue;
    const e = entry(s.path);
    e.packets = s.packetsReceived;
    e.lost = s.packetsLost;
    e.bytes = s.bytesReceived;
  }
  return { at, gatewayCpu, machine, load: load.map((l) => procCpuMs(l.pid)), ffmpeg: load.map((l) => procCpuMs(l.ffmpegPid)), paths };
}

/** Below this a path of the 25 fps clip is counted as not at full rate (a 15 s window is ±0.07 fps). */
const FULL_RATE_FPS = 24.5;

async function whipIngest(total: number, clip: string): Promise<void> {
  const perProcess = Number(values['per-process']);
  const gw = await startGateway({ webrtc: { maxSessions: 2000, overloadLagMs: Number(values['overload-lag-ms']) } });
  const load: LoadProcess[] = [];
  try {
    // One load process after the other: 16 node processes starting at once, each with its DTLS
    // handshakes, on 2 cores took longer than the 10 s ICE/DTLS connect timeouts (seen at 128).
    const ready: Awaited<LoadProcess['ready']>[] = [];
    for (let first = 0; first < total; first += perProcess) {
      const l = publisherProcess(gw.http, first, Math.min(perProcess, total - first), clip);
      load.push(l);
      ready.push(await l.ready);
    }
    const refused = ready.flatMap((r) => r.publishers).filter((p) => !p.connected);
    const connectedSessions = async () =>
      ((await (await fetch(`${gw.http}/api/v1/webrtc/sessions`)).json()) as { sessions: { kind: string; state: string }[] }).sessions.filter((x) => x.kind === 'whip' && x.state === 'connected').length;
    await waitFor(`${total} connected WHIP sessions`, async () => (await connectedSessions()) >= total - refused.length, 60_000).catch(async () => {
      console.log(`(only ${await connectedSessions()} of ${total} WHIP sessions connected; measuring those)`);
    });
    await sleep(WARMUP_MS);
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const a = await whipSnapshot(gw.http, load);
    await sleep(SECONDS * 1000);
    const b = await whipSnapshot(gw.http, load);
    const rssMb = process.memoryUsage().rss / 1024 / 1024;
    loop.disable();
    for (const l of load) l.end();
    const results = await Promise.all(load.map((l) => l.result));
    const seconds = (b.at - a.at) / 1000;
    const ms = seconds * 1000;
    const cpu = (u: NodeJS.CpuUsage, v: NodeJS.CpuUsage) => ((v.user - u.user + v.system - u.system) / 1000 / ms) * 100;
    const gatewayCpu = cpu(a.gatewayCpu, b.gatewayCpu);
    const perPath = [...b.paths].filter(([path]) => path.startsWith('live/pub')).map(([path, e]) => {
      const s = a.paths.get(path) ?? { frames: 0, payloadBytes: 0, packets: 0, lost: 0, bytes: 0 };
      return { path, fps: (e.frames - s.frames) / seconds, mbps: ((e.bytes - s.bytes) * 8) / 1e6 / seconds, pps: (e.packets - s.packets) / seconds, lost: e.lost - s.lost };
    });
    // A path the gateway lost entirely (no session) counts at 0 fps.
    while (perPath.length < total) perPath.push({ path: '(missing)', fps: 0, mbps: 0, pps: 0, lost: 0 });
    const fps = perPath.map((p) => p.fps);
    const mbpsIn = perPath.reduce((x, p) => x + p.mbps, 0);
    const ppsIn = perPath.reduce((x, p) => x + p.pps, 0);
    const lost = perPath.reduce((x, p) => x + p.lost, 0);
    const sum = (v: number[]) => v.reduce((x, y) => x + y, 0);
    const loadCpu = load.map((_, i) => ((b.load[i]! - a.load[i]!) / ms) * 100);
    const ffmpegCpu = load.map((_, i) => ((b.ffmpeg[i]! - a.ffmpeg[i]!) / ms) * 100);
    // Whole machine in % of one core (200 % = both cores busy), and what is left for processes
    // that are not part of this run (another test suite on the same machine shows up there).
    const machine = ((b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total)) * 100 * cpus().length;
    const steal = ((b.machine.steal - a.machine.steal) / (b.machine.total - a.machine.total)) * 100 * cpus().length;
    const softirq = ((b.machine.softirq - a.machine.softirq) / (b.machine.total - a.machine.total)) * 100 * cpus().length;
    const others = Math.max(0, machine - gatewayCpu - sum(loadCpu) - sum(ffmpegCpu));
    const belowFull = perPath.filter((p) => p.fps < FULL_RATE_FPS).length;
    const sendFailures = results.flatMap((r) => r.publishers).reduce((x, p) => x + p.sendFailures, 0);
    console.log(
      `${String(total).padStart(3)} WHIP publishers | in ${mbpsIn.toFixed(1)} Mbps, ${Math.round(ppsIn)} pkt/s | gateway CPU ${gatewayCpu.toFixed(1)} % of a core, ${(gatewayCpu / total).toFixed(2)} % per publisher, event loop p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms, RSS ${Math.round(rssMb)} MB | fps min/median ${Math.min(...fps).toFixed(1)}/${median(fps).toFixed(1)}, ${belowFull} paths < ${FULL_RATE_FPS} | lost ${lost} | load ${load.length} procs ${sum(loadCpu).toFixed(0)} % (max ${Math.max(...loadCpu).toFixed(0)} %), their ffmpegs ${sum(ffmpegCpu).toFixed(0)} % | machine ${machine.toFixed(0)} % of ${cpus().length * 100} %, softirq ${softirq.toFixed(0)} %, rest ${others.toFixed(0)} %, steal ${steal.toFixed(0)} % | refused ${refused.length}, send failures ${sendFailures}`,
    );
    console.log(JSON.stringify({ bench: 'webrtc-whip', publishers: total, perProcess, seconds, mbpsIn, ppsIn, gatewayCpuPercent: gatewayCpu, perPublisherCpuPercent: gatewayCpu / total, eventLoopP99Ms: loop.percentile(99) / 1e6, rssMb, fpsMin: Math.min(...fps), fpsMedian: median(fps), belowFullRate: belowFull, lostPackets: lost, loadCpuPercent: loadCpu, ffmpegCpuPercent: ffmpegCpu, machineBusyPercent: machine, softirqPercent: softirq, otherProcessesPercent: others, stealPercent: steal, refused: refused.length, sendFailures, loadProcesses: results }));
  } finally {
    for (const l of load) l.end();
    await gw.stop();
  }
}

async function main(): Promise<void> {
  const publishers = values.publishers ? values.publishers.split(',').map(Number) : [];
  const readers = values['skip-readers'] ? [] : values.readers.split(',').map(Number);
  if (!values['skip-latency'] || readers.length > 0) {
    if (!values['skip-latency'] && !hasChromium()) process.exit(2);
    const gw = await startGateway({ webrtc: { maxSessions: 2000 } });
    const bench = publish(`${gw.rtmp}/live/bench`, { size: '640x360', fps: 25, gop: 25, audio: 'pcma', duration: 3600, vf: clockBarcodeFilter() });
    const rate = publish(`${gw.rtmp}/live/rate`, { size: '1280x720', fps: 25, gop: 50, audio: 'pcma', duration: 3600, bitrate: '2M' });
    try {
      await waitFor('the bench streams', async () => (await fetch(`${gw.http}/api/v1/streams/live/bench`)).ok && (await fetch(`${gw.http}/api/v1/streams/live/rate`)).ok, 15_000);
      await sleep(1500);
      if (!values['skip-latency']) await latency(gw.http);
      if (readers.length > 0) console.log(`\nWHEP readers of one 1280x720 25 fps 2 Mbps H.264 + PCMA stream, ${values['per-process']} readers per load process, ${SECONDS} s window`);
      for (const n of readers) await readersPerCore(gw.http, n);
    } finally {
      await bench.stop();
      await rate.stop();
      await gw.stop();
    }
  }
  if (publishers.length > 0) {
    // One clip for every load process: encoded once here, played by each with -c copy.
    const dir = mkdtempSync(join(tmpdir(), 'sg-bench-whip-'));
    const clip = join(dir, 'clip.ts');
    await new Promise<void>((done, fail) =>
      execFile(process.execPath, [resolve(process.cwd(), 'test/helpers/whip-publishers.mjs'), '--encode-clip', clip], (error) => (error ? fail(error) : done())),
    );
    console.log(`\nWHIP publishers of a 1280x720 25 fps 2 Mbps H.264 baseline (GOP 25) + Opus 64 kb/s clip, ${values['per-process']} per load process, a fresh gateway per row, ${SECONDS} s window after ${WARMUP_MS / 1000} s warm-up`);
    try {
      for (const n of publishers) await whipIngest(n, clip);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);

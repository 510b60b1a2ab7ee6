/**
 * Fan-out and latency benchmark: Streamgate vs node-media-server 4.4.3, side by side.
 *
 *   npm run bench -- --readers 1,100,1000 [--transport flv|ws] [--targets streamgate,nms]
 *                    [--seconds 20] [--stalled 0] [--merge-ms 0,audio,100] [--sample 20]
 *   npm run bench -- --suite transcode     (CPU per rendition job, see transcode.ts)
 *   npm run bench -- --suite all
 *
 * --merge-ms sets Streamgate's hub.writeMergeMs per run; `audio` is writeMergeMs 0 with
 * hub.holdAudioForVideo (audio frames leave with the next video frame).
 *
 * The server under test runs in its own process pinned to core 0 (taskset); this process (the
 * publisher and every reader) pins itself to core 1. The publisher pushes a pre-encoded 720p30
 * H.264 + AAC stream (~2 Mbps, 1 s GOP, generated once with ffmpeg) over RTMP in real time and
 * puts a user-data SEI NAL with its send time (monotonic clock of this process) in front of every
 * video frame; servers pass NAL units through untouched, so a reader's latency is arrival - stamp.
 * A sample of readers parse FLV tags for latency; all count bytes. Results: JSON lines on stdout
 * and a Markdown table at the end.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { connect as netConnect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { FlvDemuxer, type FlvTag } from '../../gateway/protocols/flv/demux.js';
import { ensureMedia, loadTags, root } from './media.js';
import { benchTranscode, type TranscodeBenchResult } from './transcode.js';
import { rtmpPublisher, type RawRtmp } from '../helpers/rtmp-client.js';
import { percentile } from '../helpers/stats.js';


const { values } = parseArgs({
  options: {
    readers: { type: 'string', default: '1,100,1000' },
    transport: { type: 'string', default: 'flv' },
    targets: { type: 'string', default: 'streamgate,nms' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    stalled: { type: 'string', default: '0' },
    'merge-ms': { type: 'string', default: '0' },
    sample: { type: 'string', default: '20' },
    /** fanout (default), transcode, or all. */
    suite: { type: 'string', default: 'fanout' },
  },
});

const SEI_UUID = Buffer.from('5354524d47415445424e434831323334', 'hex'); // "STRMGATEBNCH1234", no zero bytes

function now(): number {
  return performance.now();
}

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

/** An SEI (H.264 NAL type 6) with payload type 5 (user_data_unregistered): UUID + ASCII send time. */
function seiNal(stamp: number): Buffer {
  const text = Buffer.from(stamp.toFixed(3).padStart(16, '0'), 'latin1'); // ASCII digits and '.': no zero bytes, so no emulation prevention needed
  const payload = Buffer.concat([SEI_UUID, text]);
  return Buffer.concat([Buffer.from([0x06, 0x05, payload.length]), payload, Buffer.from([0x80])]);
}

function stampedVideoBody(body: Buffer, stamp: number): Buffer {
  const sei = seiNal(stamp);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(sei.length);
  return Buffer.concat([body.subarray(0, 5), len, sei, body.subarray(5)]);
}

/** Finds our SEI in an AVC video tag body and returns its stamp. */
function readStamp(body: Buffer): number | undefined {
  if ((body[0]! & 0x0f) !== 7 || body[1] !== 1) return undefined;
  let p = 5;
  while (p + 4 <= body.length) {
    const n = body.readUInt32BE(p);
    p += 4;
    if (body[p] === 0x06 && body[p + 1] === 0x05 && body.subarray(p + 3, p + 19).equals(SEI_UUID)) {
      return Number(body.toString('latin1', p + 19, p + 35));
    }
    p += n;
  }
  return undefined;
}

class Publisher {
  private stopped = false;
  private client: RawRtmp | undefined;

  constructor(private readonly tags: FlvTag[]) {}

  async start(rtmpPort: number): Promise<void> {
    this.client = await rtmpPublisher(rtmpPort, 'live', 'bench');
    const c = this.client;
    const media = this.tags;
    const duration = media[media.length - 1]!.timestamp + 33;
    const t0 = now();
    let loop = 0;
    let i = 0;
    // The first sequence headers and metadata go once; the loop replays frames with shifted timestamps.
    const headers = media.filter((t) => t.type === 18 || (t.type === 9 && t.body[1] === 0) || (t.type === 8 && t.body[1] === 0));
    const frames = media.filter((t) => !headers.includes(t));
    for (const h of headers) c.message(h.type === 18 ? 5 : h.type === 9 ? 6 : 4, h.type, 1, 0, h.body, 60000);
    const tick = () => {
      if (this.stopped) return;
      const elapsed = now() - t0;
      while (!this.stopped) {
        const tag = frames[i]!;
        const ts = tag.timestamp + loop * duration;
        if (ts > elapsed) break;
        const body = tag.type === 9 ? stampedVideoBody(tag.body, now()) : tag.body;
        c.message(tag.type === 9 ? 6 : 4, tag.type, 1, ts, body, 60000);
        i++;
        if (i >= frames.length) {
          i = 0;
          loop++;
        }
      }
      setTimeout(tick, 2);
    };
    tick();
  }

  stop(): void {
    this.stopped = true;
    this.client?.close();
  }
}

interface ReaderStat {
  bytes: number;
  errors: number;
  latencies: number[];
  connected: boolean;
}

const readBuffer = Buffer.alloc(256 * 1024);

function startReader(url: string, transport: string, sampled: boolean, stalled: boolean): { stat: ReaderStat; close(): void } {
  const stat: ReaderStat = { bytes: 0, errors: 0, latencies: [], connected: false };
  const demux = sampled
    ? new FlvDemuxer((tag) => {
        if (tag.type !== 9) return;
        const s = readStamp(tag.body);
        if (s !== undefined) stat.latencies.push(now() - s);
      })
    : undefined;
  const onData = (d: Buffer) => {
    stat.bytes += d.length;
    demux?.push(d);
  };
  if (transport === 'ws' && sampled) {
    const ws = new WebSocket(url.replace('http://', 'ws://'), { perMessageDeflate: false });
    ws.on('open', () => (stat.connected = true));
    ws.on('message', (d: Buffer) => onData(d));
    ws.on('error', () => stat.errors++);
    return { stat, close: () => ws.terminate() };
  }
  if (!sampled) {
    // Counting-only readers (HTTP-FLV or WS-FLV): a raw socket, no HTTP or WebSocket parser, so
    // the load generator stays cheap; WS-FLV bytes include the 2-4 byte frame headers.
    // onread into one shared buffer: no allocation per read, so the 1000 readers' callbacks
    // cost little and do not delay the sampled readers' latency measurements.
    const u = new URL(url);
    let first = true;
    const sock = netConnect({
      port: Number(u.port),
      host: u.hostname,
      onread: {
        buffer: readBuffer,
        callback: (n: number, buf: Uint8Array) => {
          if (first) {
            first = false;
            stat.connected = Buffer.from(buf.buffer, buf.byteOffset, Math.min(n, 12)).toString('latin1').includes(transport === 'ws' ? ' 101' : ' 200');
          }
          stat.bytes += n;
          return true;
        },
      },
    });
    sock.on('connect', () => {
      const upgrade = transport === 'ws' ? 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: c3RyZWFtZ2F0ZWJlbmNoMQ==\r\nSec-WebSocket-Version: 13\r\n' : '';
      sock.write(`GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\n${upgrade}\r\n`);
      if (stalled) sock.pause();
    });
    sock.on('error', () => stat.errors++);
    return { stat, close: () => sock.destroy() };
  }
  const req = httpGet(url, { agent: false }, (res) => {
    stat.connected = res.statusCode === 200;
    if (stalled) {
      res.pause();
      res.socket.pause();
      return;
    }
    res.on('data', onData);
    res.on('error', () => stat.errors++);
  });
  req.on('error', () => stat.errors++);
  return { stat, close: () => req.destroy() };
}

function procStat(pid: number): { cpuTicks: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = /VmRSS:\s+(\d+) kB/.exec(status);
  return { cpuTicks, rssBytes: rss ? Number(rss[1]) * 1024 : 0 };
}

const CLK_TCK = 100;


interface Server {
  name: string;
  proc: ChildProcess;
  rtmpPort: number;
  httpPort: number;
  stop(): Promise<void>;
}

async function waitPort(port: number, timeoutMs = 15000): Promise<void> {
  const { connect } = await import('node:net');
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        res(true);
      });
      s.once('error', () => res(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`port ${port} did not open`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startServer(name: string, merge: string): Promise<Server> {
  const rtmpPort = await freePort();
  const httpPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  let args: string[];
  if (name === 'streamgate') {
    const config = join(dir, 'bench.yaml');
    writeFileSync(config, `bind: 127.0.0.1\ndataDir: ${dir}\nlog:\n  level: warn\nrtsp:\n  enabled: false\nhub:\n  writeMergeMs: ${merge === 'audio' ? 0 : Number(merge)}\n  holdAudioForVideo: ${merge === 'audio'}\n`);
    args = [join(root, 'dist', 'gateway', 'main.js'), '--config', config, '--http-port', String(httpPort), '--rtmp-port', String(rtmpPort)];
  } else {
    args = [join(root, 'dist', 'test', 'bench', 'nms-server.js'), String(rtmpPort), String(httpPort), dir];
  }
  // BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the server (written when it stops).
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  // Streamgate runs with the flags `npm start` uses (a small young generation keeps RSS down).
  const serverFlags = name === 'streamgate' ? ['--max-semi-space-size=4'] : [];
  const proc = spawn('taskset', ['-c', '0', process.execPath, '--max-old-space-size=2048', ...serverFlags, ...nodeArgs, ...args], { stdio: ['ignore', 'ignore', 'inherit'], cwd: dir });
  await waitPort(rtmpPort);
  await waitPort(httpPort);
  return {
    name,
    proc,
    rtmpPort,
    httpPort,
    stop: async () => {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill(name === 'streamgate' ? 'SIGINT' : 'SIGKILL');
      const t = setTimeout(() => proc.kill('SIGKILL'), 8000);
      await exited;
      clearTimeout(t);
    },
  };
}

interface Result {
  server: string;
  transport: string;
  readers: number;
  stalled: number;
  merge: string;
  kbpsMin: number;
  kbpsMedian: number;
  latencyP50: number;
  latencyP99: number;
  latencyMax: number;
  cpuPercent: number;
  rssMB: number;
  rssGrowthMB: number;
  errors: number;
  notConnected: number;
}

async function runOne(tags: FlvTag[], serverName: string, readers: number, transport: string, seconds: number, warmup: number, stalled: number, merge: string, sample: number): Promise<Result> {
  const server = await startServer(serverName, merge);
  const pub = new Publisher(tags);
  const clients: ReturnType<typeof startReader>[] = [];
  try {
    await pub.start(server.rtmpPort);
    await new Promise((r) => setTimeout(r, 1500));
    const url = `http://127.0.0.1:${server.httpPort}/live/bench.flv`;
    const rssBefore = procStat(server.proc.pid!).rssBytes;
    // The sampled readers are spread evenly over the connection order (the last one included):
    // a fan-out writes readers in turn, so sampling only the first ones would flatter the latency.
    const stride = Math.max(1, Math.floor(readers / Math.max(1, sample)));
    for (let i = 0; i < readers; i++) {
      clients.push(startReader(url, transport, (readers - 1 - i) % stride === 0 && readers - 1 - i < stride * sample, false));
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 20));
    }
    for (let i = 0; i < stalled; i++) clients.push(startReader(url, transport, false, true));
    await new Promise((r) => setTimeout(r, warmup * 1000));
    const healthy = clients.slice(0, readers);
    const bytes0 = healthy.map((c) => c.stat.bytes);
    for (const c of healthy) c.stat.latencies.length = 0;
    const p0 = procStat(server.proc.pid!);
    const t0 = now();
    let rssMax = p0.rssBytes;
    const sampler = setInterval(() => (rssMax = Math.max(rssMax, procStat(server.proc.pid!).rssBytes)), 500);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    clearInterval(sampler);
    const p1 = procStat(server.proc.pid!);
    const elapsed = (now() - t0) / 1000;
    const kbps = healthy.map((c, i) => ((c.stat.bytes - bytes0[i]!) * 8) / 1000 / elapsed).sort((a, b) => a - b);
    const lat = healthy.flatMap((c) => c.stat.latencies).sort((a, b) => a - b);
    return {
      server: serverName,
      transport,
      readers,
      stalled,
      merge,
      kbpsMin: Math.round(kbps[0] ?? 0),
      kbpsMedian: Math.round(percentile(kbps, 50)),
      latencyP50: Math.round(percentile(lat, 50) * 10) / 10,
      latencyP99: Math.round(percentile(lat, 99) * 10) / 10,
      latencyMax: Math.round((lat[lat.length - 1] ?? NaN) * 10) / 10,
      cpuPercent: Math.round(((p1.cpuTicks - p0.cpuTicks) / CLK_TCK / elapsed) * 1000) / 10,
      rssMB: Math.round(rssMax / 1e6),
      rssGrowthMB: Math.round((rssMax - rssBefore) / 1e6),
      errors: clients.reduce((a, c) => a + c.stat.errors, 0),
      notConnected: healthy.filter((c) => !c.stat.connected).length,
    };
  } finally {
    pub.stop();
    for (const c of clients) c.close();
    await server.stop();
  }
}

/**
 * What one on-demand rendition job costs per camera: the two camera sizes a wall mixes (640x360
 * sub-streams, 1080p main streams), with the full-size h264 profile and the 360p wall profile, and
 * four 360p cameras at once to check the per-job figure adds up.
 */
async function transcodeSuite(): Promise<void> {
  const runs = [
    { size: '640x360', fps: 25, profile: 'h264', jobs: 1 },
    { size: '640x360', fps: 25, profile: 'h264', jobs: 4 },
    { size: '1920x1080', fps: 25, profile: 'h264', jobs: 1 },
    { size: '1920x1080', fps: 25, profile: 'wall', jobs: 1 },
  ];
  const results: TranscodeBenchResult[] = [];
  for (const run of runs) {
    const r = await benchTranscode({ ...run, seconds: Math.min(Number(values.seconds), 15), warmup: Number(values.warmup) });
    results.push(r);
    process.stdout.write(JSON.stringify(r) + '\n');
  }
  const lines = [
    '| source | profile | jobs | fps (slowest) | speed | CPU cores / job | cameras / core | first frame ms | added latency p50 / p95 ms |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...results.map((r) => {
      const lat = typeof r.addedLatencyMs === 'object' ? `${r.addedLatencyMs.p50} / ${r.addedLatencyMs.p95}` : String(r.addedLatencyMs);
      return `| ${r.source} | ${r.profile} | ${r.jobs} | ${r.renditionFps} | ${r.ffmpegSpeed} | ${r.cpuCoresPerJob} | ${r.camerasPerCore} | ${r.firstFrameMs} | ${lat} |`;
    }),
  ];
  process.stdout.write('\n' + lines.join('\n') + '\n');
}

async function main(): Promise<void> {
  if (values.suite === 'transcode' || values.suite === 'all') {
    await transcodeSuite();
    if (values.suite === 'transcode') return;
  }
  try {
    execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });
  } catch {
    process.stderr.write('taskset not available: server and load generator share cores\n');
  }
  const tags = loadTags(ensureMedia());
  const results: Result[] = [];
  const merges = values['merge-ms']!.split(',');
  for (const readers of values.readers!.split(',').map(Number)) {
    for (const target of values.targets!.split(',')) {
      for (const merge of target === 'streamgate' ? merges : ['0']) {
        const r = await runOne(tags, target, readers, values.transport!, Number(values.seconds), Number(values.warmup), Number(values.stalled), merge, Number(values.sample));
        results.push(r);
        process.stdout.write(JSON.stringify(r) + '\n');
      }
    }
  }
  const lines = [
    '| server | transport | readers | stalled | merge ms | kbps/reader min / median | latency p50 / p99 / max ms | CPU % (1 core) | RSS MB (growth) | errors |',
    '| --- | --- | ---: | ---: | ---: | --- | --- | ---: | --- | ---: |',
    ...results.map(
      (r) =>
        `| ${r.server} | ${r.transport} | ${r.readers} | ${r.stalled} | ${r.merge} | ${r.kbpsMin} / ${r.kbpsMedian} | ${r.latencyP50} / ${r.latencyP99} / ${r.latencyMax} | ${r.cpuPercent} | ${r.rssMB} (+${r.rssGrowthMB}) | ${r.errors + r.notConnected} |`,
    ),
  ];
  process.stdout.write('\n' + lines.join('\n') + '\n');
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String((error as Error)?.stack ?? error)}\n`);
    process.exit(1);
  },
);

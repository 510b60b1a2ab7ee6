/**
 * WebRTC benchmarks.
 *
 * 1. Glass-to-glass latency over WHEP in Chromium with the bar-code method (as player-latency.ts:
 *    ffmpeg burns the wall clock into each frame, the page reads it back from each presented
 *    frame): p50/p95, and the time from the POST to the first frame, over fresh sessions.
 * 2. WHEP readers per core: N libdatachannel readers (load processes, test/helpers/whep-readers.mjs)
 *    of one 2 Mbps stream; the gateway's CPU (this process) over the window, each reader's rate.
 *
 *   npm run build && node dist/test/bench/webrtc.js [--seconds 20] [--sessions 5] [--readers 50,100]
 *
 * Not part of `npm test`. Needs ffmpeg and /usr/bin/chromium. The gateway, Chromium and the load
 * processes share this machine's cores: the CPU figure is the gateway process alone.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
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
    'skip-latency': { type: 'boolean', default: false },
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

function loadProcess(url: string, count: number, measureMs: number): Promise<{ readers: { fps: number; kbps: number; gaps: number; connected: boolean }[] }> {
  const script = resolve(process.cwd(), 'test/helpers/whep-readers.mjs');
  return new Promise((done, fail) =>
    execFile(process.execPath, [script, url, String(count), String(measureMs), '3000'], { timeout: measureMs + 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout) =>
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
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  await sleep(measureMs - 500);
  const cpu = process.cpuUsage(cpu0);
  const cpuPercent = ((cpu.user + cpu.system) / 1000 / (Date.now() - t0)) * 100;
  const readers = (await runs).flatMap((r) => r.readers);
  const fps = readers.map((r) => r.fps);
  const kbps = readers.map((r) => r.kbps);
  const mem = process.memoryUsage().rss / 1024 / 1024;
  console.log(
    `${String(total).padStart(4)} WHEP readers | gateway CPU ${cpuPercent.toFixed(1)} % of a core | readers per core ≈ ${Math.round((total / cpuPercent) * 100)} | fps min/median ${Math.min(...fps).toFixed(1)}/${median(fps).toFixed(1)} | kbps median ${Math.round(median(kbps))} | gaps ${readers.reduce((a, r) => a + r.gaps, 0)} | RSS ${Math.round(mem)} MB`,
  );
  console.log(JSON.stringify({ bench: 'webrtc-readers', readers: total, cpuPercent, fpsMin: Math.min(...fps), fpsMedian: median(fps), kbpsMedian: median(kbps), rssMb: mem }));
}

async function main(): Promise<void> {
  if (!hasChromium()) process.exit(2);
  const gw = await startGateway({ webrtc: { maxSessions: 2000 } });
  const bench = publish(`${gw.rtmp}/live/bench`, { size: '640x360', fps: 25, gop: 25, audio: 'pcma', duration: 3600, vf: clockBarcodeFilter() });
  const rate = publish(`${gw.rtmp}/live/rate`, { size: '1280x720', fps: 25, gop: 50, audio: 'pcma', duration: 3600, bitrate: '2M' });
  try {
    await waitFor('the bench streams', async () => (await fetch(`${gw.http}/api/v1/streams/live/bench`)).ok && (await fetch(`${gw.http}/api/v1/streams/live/rate`)).ok, 15_000);
    await sleep(1500);
    if (!values['skip-latency']) await latency(gw.http);
    console.log(`\nWHEP readers of one 1280x720 25 fps 2 Mbps H.264 + PCMA stream, ${values['per-process']} readers per load process, ${SECONDS} s window`);
    for (const n of values.readers.split(',').map(Number)) await readersPerCore(gw.http, n);
  } finally {
    await bench.stop();
    await rate.stop();
    await gw.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

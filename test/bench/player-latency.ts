/**
 * Glass-to-glass latency of the bundled player, measured with the bar-code method: ffmpeg burns
 * the wall clock (ms) into every frame it captures, the page decodes it from each presented frame
 * (requestVideoFrameCallback + canvas) and compares it with the clock at the frame's expected
 * display time. Reports p50/p95 over a window per transport (HTTP-FLV, WS-FLV, WebRTC), the player's own
 * overlay figure for comparison, and the time from navigation start to the first frame.
 *
 *   npm run build && node dist/test/bench/player-latency.js [--seconds 30] [--loads 5] [--hold-audio]
 *     [--transports http,ws,webrtc] [--audio aac|pcma]
 *
 * --hold-audio runs the gateway with hub.holdAudioForVideo (audio leaves with the next video frame).
 *
 * Not part of `npm test`. Needs ffmpeg and /usr/bin/chromium.
 */
import { parseArgs } from 'node:util';
import type { Browser } from 'playwright-core';
import { publish } from '../helpers/ffmpeg.js';
import { sleep, startGateway, waitFor } from '../helpers/gateway.js';
import { clockBarcodeFilter, hasChromium, installBarcodeProbe, launchChromium, median, percentile, readProbe } from '../helpers/browser.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    loads: { type: 'string', default: '5' },
    size: { type: 'string', default: '640x360' },
    latency: { type: 'string', default: 'low' },
    'hold-audio': { type: 'boolean', default: false },
    transports: { type: 'string', default: 'http,ws' },
    // WebRTC sends G.711 as it is; with AAC (no Opus rendition) it plays the video alone.
    audio: { type: 'string', default: 'aac' },
  },
});
const SECONDS = Number(values.seconds);
const LOADS = Number(values.loads);
const WARMUP_MS = 3000;

interface Result {
  transport: string;
  frames: number;
  decodeErrors: number;
  waitingEvents: number;
  droppedFrames: number;
  g2gP50: number;
  g2gP95: number;
  overlayP50: number;
  firstFrameMs: number[];
}

type BenchTransport = 'http' | 'ws' | 'webrtc';
const NAMES: Record<BenchTransport, string> = { http: 'HTTP-FLV', ws: 'WS-FLV', webrtc: 'WebRTC' };

async function measure(browser: Browser, http: string, transport: BenchTransport): Promise<Result> {
  const url = `${http}/player/?stream=live/bench&transport=${transport}&latency=${values.latency}`;
  const page = await browser.newPage({ viewport: { width: 960, height: 540 } });
  await installBarcodeProbe(page);
  await page.addInitScript(`window.__waiting = 0; document.addEventListener('waiting', () => window.__waiting++, true);`);
  await page.goto(url);
  await page.waitForFunction(`document.getElementById('player').dataset.sgState === 'playing'`, undefined, { timeout: 20_000 });
  await sleep(WARMUP_MS);
  const start = (await readProbe(page)).samples.length;
  const waitingBefore = (await page.evaluate('window.__waiting')) as number;
  const droppedBefore = (await page.evaluate('window.streamgatePlayer.stats.droppedFrames')) as number;
  const framesBefore = (await readProbe(page)).frames;
  await sleep(SECONDS * 1000);
  const probe = await readProbe(page);
  const samples = probe.samples.slice(start);
  const g2g = samples.map((s) => s.g2gDisplay);
  const overlay = samples.filter((s) => s.overlay !== null).map((s) => s.overlay!);
  const result: Result = {
    transport: NAMES[transport],
    frames: probe.frames - framesBefore,
    decodeErrors: probe.decodeErrors,
    waitingEvents: ((await page.evaluate('window.__waiting')) as number) - waitingBefore,
    droppedFrames: ((await page.evaluate('window.streamgatePlayer.stats.droppedFrames')) as number) - droppedBefore,
    g2gP50: Math.round(median(g2g)),
    g2gP95: Math.round(percentile(g2g, 95)),
    overlayP50: Math.round(median(overlay)),
    firstFrameMs: [],
  };
  await page.close();

  // Time from navigation start to the first frame on screen, over fresh page loads.
  for (let i = 0; i < LOADS; i++) {
    const p = await browser.newPage({ viewport: { width: 960, height: 540 } });
    await installBarcodeProbe(p);
    await p.goto(url);
    await p.waitForFunction('window.__sgProbe && window.__sgProbe.firstFrameAt !== null', undefined, { timeout: 20_000 });
    result.firstFrameMs.push(Math.round((await readProbe(p)).firstFrameAt!));
    await p.close();
  }
  return result;
}

async function main(): Promise<void> {
  if (!hasChromium()) process.exit(2);
  const gw = await startGateway(values['hold-audio'] ? { hub: { holdAudioForVideo: true } } : {});
  const pub = publish(`${gw.rtmp}/live/bench`, { size: values.size, fps: 25, gop: 25, audio: values.audio as 'aac' | 'pcma', duration: 3600, vf: clockBarcodeFilter() });
  const browser = await launchChromium();
  try {
    await waitFor('the bench stream', async () => (await fetch(`${gw.http}/api/v1/streams/live/bench`)).status === 200, 15_000);
    await sleep(1500);
    const results: Result[] = [];
    for (const transport of values.transports.split(',') as BenchTransport[]) results.push(await measure(browser, gw.http, transport));
    console.log(`\nGlass-to-glass latency, bundled player (latency=${values.latency}), ${values.size} 25 fps H.264+${values.audio.toUpperCase()}, ${SECONDS} s after ${WARMUP_MS / 1000} s warm-up`);
    console.log('transport | g2g p50 | g2g p95 | overlay p50 | frames | stalls | dropped | first frame (ms from navigation; first load cold)');
    for (const r of results) {
      console.log(
        `${r.transport.padEnd(9)} | ${String(r.g2gP50).padStart(4)} ms | ${String(r.g2gP95).padStart(4)} ms | ${String(r.overlayP50).padStart(8)} ms | ${String(r.frames).padStart(6)} | ${String(r.waitingEvents).padStart(6)} | ${String(r.droppedFrames).padStart(7)} | ${r.firstFrameMs.join(', ')} (median ${median(r.firstFrameMs)})`,
      );
    }
    console.log(JSON.stringify({ bench: 'player-latency', seconds: SECONDS, results }));
  } finally {
    await browser.close();
    await pub.stop();
    await gw.stop();
  }
}

main().then(
  // After WebRTC sessions the process does not end by itself once gw.stop() resolved
  // (node-datachannel's native threads keep it alive): end it.
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

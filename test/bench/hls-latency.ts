/**
 * Glass-to-glass latency of hls.js against the gateway's HLS output, measured with the bar-code
 * method of the player benchmark (ffmpeg burns the wall clock into every frame, the page decodes it
 * from each presented frame and compares it with the clock at the frame's expected display time).
 *
 * Cases: stock hls.js (node_modules) with lowLatencyMode on LL-HLS fMP4 (the default output), the
 * player's HLS engine (`/player/?transport=hls`) on the same, and, for comparison, stock hls.js on
 * classic HLS (lowLatency off) in fMP4 and TS.
 *
 *   npm run build && node dist/test/bench/hls-latency.js [--seconds 30] [--cases ll,player,classic,ts]
 *
 * Not part of `npm test`. Needs ffmpeg and /usr/bin/chromium.
 */
import { parseArgs } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { publish, type Publisher } from '../helpers/ffmpeg.js';
import { sleep, startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { clockBarcodeFilter, hasChromium, installBarcodeProbe, launchChromium, median, percentile, readProbe } from '../helpers/browser.js';
import { blankVideoPage, playWithHlsJs } from '../helpers/browser-play.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    cases: { type: 'string', default: 'll,player,classic,ts' },
    size: { type: 'string', default: '640x360' },
  },
});
const SECONDS = Number(values.seconds);
const WARMUP_MS = 4000;
const PATH = 'live/bench';

interface Case {
  id: string;
  label: string;
  hls: { container: 'fmp4' | 'ts'; lowLatency: boolean };
  /** stock hls.js, or the bundled player's HLS engine */
  client: 'hls.js' | 'player';
}

const CASES: Case[] = [
  { id: 'll', label: 'hls.js lowLatencyMode, LL-HLS fMP4', hls: { container: 'fmp4', lowLatency: true }, client: 'hls.js' },
  { id: 'player', label: 'player transport=hls, LL-HLS fMP4', hls: { container: 'fmp4', lowLatency: true }, client: 'player' },
  { id: 'classic', label: 'hls.js defaults, LL off, fMP4', hls: { container: 'fmp4', lowLatency: false }, client: 'hls.js' },
  { id: 'ts', label: 'hls.js defaults, LL off, TS', hls: { container: 'ts', lowLatency: false }, client: 'hls.js' },
];

interface Result {
  case: string;
  frames: number;
  decodeErrors: number;
  stalls: number;
  droppedFrames: number;
  p50: number;
  p95: number;
  hlsJsEstimateS: number | null;
  firstFrameMs: number | null;
}

async function open(browser: Browser, gw: TestGateway, c: Case): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 960, height: 540 } });
  await installBarcodeProbe(page);
  await page.addInitScript(`window.__waiting = 0; document.addEventListener('waiting', () => window.__waiting++, true);`);
  if (c.client === 'player') {
    await page.goto(`${gw.http}/player/?stream=${PATH}&transport=hls`);
  } else {
    await blankVideoPage(page, gw.http, 'hls-bench');
    await playWithHlsJs(page, `${gw.http}/${PATH}/index.m3u8`, c.hls.lowLatency ? { lowLatencyMode: true } : {});
  }
  return page;
}

async function measure(browser: Browser, gw: TestGateway, c: Case): Promise<Result> {
  const page = await open(browser, gw, c);
  try {
    await page.waitForFunction('window.__sgProbe && window.__sgProbe.samples.length > 0', undefined, { timeout: 30_000 });
    await sleep(WARMUP_MS);
    const dropped = `(() => { const v = document.querySelector('video'); return v.getVideoPlaybackQuality().droppedVideoFrames; })()`;
    const start = await readProbe(page);
    const waitingBefore = (await page.evaluate('window.__waiting')) as number;
    const droppedBefore = (await page.evaluate(dropped)) as number;
    await sleep(SECONDS * 1000);
    const probe = await readProbe(page);
    const g2g = probe.samples.slice(start.samples.length).map((s) => s.g2gDisplay);
    const estimate = (await page.evaluate(c.client === 'player' ? 'window.streamgatePlayer.stats.latencyMs / 1000' : 'window.hls.latency')) as number | null;
    return {
      case: c.label,
      frames: probe.frames - start.frames,
      decodeErrors: probe.decodeErrors - start.decodeErrors,
      stalls: ((await page.evaluate('window.__waiting')) as number) - waitingBefore,
      droppedFrames: ((await page.evaluate(dropped)) as number) - droppedBefore,
      p50: Math.round(median(g2g)),
      p95: Math.round(percentile(g2g, 95)),
      hlsJsEstimateS: typeof estimate === 'number' && Number.isFinite(estimate) ? Math.round(estimate * 100) / 100 : null,
      firstFrameMs: start.firstFrameAt === null ? null : Math.round(start.firstFrameAt),
    };
  } finally {
    await page.close();
  }
}

async function main(): Promise<void> {
  if (!hasChromium()) process.exit(2);
  const wanted = new Set(values.cases.split(','));
  const browser = await launchChromium();
  const results: Result[] = [];
  try {
    // One gateway (and publisher) per HLS configuration, reused by the cases that share it.
    const configs = new Map<string, Case[]>();
    for (const c of CASES.filter((x) => wanted.has(x.id))) {
      const key = `${c.hls.container}/${c.hls.lowLatency}`;
      configs.set(key, [...(configs.get(key) ?? []), c]);
    }
    for (const cases of configs.values()) {
      const gw = await startGateway({ hls: cases[0]!.hls });
      let pub: Publisher | undefined;
      try {
        pub = publish(`${gw.rtmp}/${PATH}`, { size: values.size, fps: 25, gop: 25, audio: 'aac', duration: 3600, vf: clockBarcodeFilter() });
        await waitFor('the bench stream', async () => (await fetch(`${gw.http}/api/v1/streams/${PATH}`)).status === 200, 15_000);
        await sleep(2500);
        for (const c of cases) results.push(await measure(browser, gw, c));
      } finally {
        await pub?.stop();
        await gw.stop();
      }
    }
  } finally {
    await browser.close();
  }
  console.log(`\nGlass-to-glass latency over HLS, ${values.size} 25 fps H.264+AAC, GOP 1 s, ${SECONDS} s after ${WARMUP_MS / 1000} s warm-up`);
  console.log('case                                 |  p50 ms |  p95 ms | estimate s | frames | stalls | dropped | first frame ms');
  for (const r of results) {
    console.log(
      `${r.case.padEnd(36)} | ${String(r.p50).padStart(7)} | ${String(r.p95).padStart(7)} | ${String(r.hlsJsEstimateS ?? '-').padStart(10)} | ${String(r.frames).padStart(6)} | ${String(r.stalls).padStart(6)} | ${String(r.droppedFrames).padStart(7)} | ${r.firstFrameMs ?? '-'}`,
    );
  }
  console.log(JSON.stringify({ bench: 'hls-latency', seconds: SECONDS, results }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

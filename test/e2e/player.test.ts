/**
 * The bundled player in Debian's Chromium against a real gateway and ffmpeg RTMP publishers.
 * Needs `npm run build:player` first (npm test builds): the gateway serves dist/player.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { publish, type Publisher } from '../helpers/ffmpeg.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import {
  clockBarcodeFilter,
  hasChromium,
  installBarcodeProbe,
  launchChromium,
  median,
  pageWaitFor,
  readProbe,
  screenshot,
  snapshotVideo,
  type VideoSnapshot,
  withPage,
} from '../helpers/browser.js';
import { hasTool } from '../helpers/tools.js';

const enabled = hasChromium() && hasTool('ffmpeg');

describe.skipIf(!enabled)('player in Chromium', () => {
  let gw: TestGateway;
  let browser: Browser;
  const publishers: Publisher[] = [];

  function startPublisher(path: string, options: Parameters<typeof publish>[1] = {}): Publisher {
    const p = publish(`${gw.rtmp}/${path}`, { size: '320x240', fps: 25, duration: 120, ...options });
    publishers.push(p);
    return p;
  }

  async function published(path: string): Promise<void> {
    await waitFor(`${path} to be published`, async () => {
      const res = await fetch(`${gw.http}/api/v1/streams/${path}`);
      if (res.status !== 200) return false;
      const s = (await res.json()) as { ready: boolean; publisher: unknown };
      return s.ready && s.publisher !== null;
    }, 15_000);
  }

  /** Opens `url` on a fresh page (with the bar-code probe when `probe`) and runs `fn` on it. */
  function onPage(url: string, fn: (page: Page) => Promise<void>, probe = false): Promise<void> {
    return withPage(browser, { width: 960, height: 540 }, async (page) => {
      if (probe) await installBarcodeProbe(page);
      await page.goto(url);
      await fn(page);
    });
  }

  /**
   * A snapshot showing a picture: polls because right after the latency controller skips ahead
   * the element may briefly have no decoded frame to draw (seeking, readyState < 2).
   */
  async function picture(page: Page, selector: string): Promise<VideoSnapshot> {
    let last: VideoSnapshot | undefined;
    const end = Date.now() + 5000;
    while (Date.now() < end) {
      last = await snapshotVideo(page, selector);
      if (last.readyState >= 2 && last.lumaStdDev > 10) return last;
      await page.waitForTimeout(100);
    }
    throw new Error(`the video shows a uniform picture (luma std dev ${last?.lumaStdDev}, readyState ${last?.readyState})`);
  }

  /** currentTime advances for 5 s and the picture is neither uniform nor frozen. */
  async function expectPlaying(page: Page, selector = 'video'): Promise<void> {
    await pageWaitFor(page, 'the video to advance', `(() => { const v = document.querySelector(${JSON.stringify(selector)}); return v && v.currentTime > 0.2 && v.videoWidth > 0; })()`);
    const first = await picture(page, selector);
    const times = [first.currentTime];
    for (let i = 0; i < 5; i++) {
      await page.waitForTimeout(1000);
      times.push((await snapshotVideo(page, selector)).currentTime);
    }
    for (let i = 1; i < times.length; i++) expect(times[i], `currentTime advances (second ${i}: ${times.join(', ')})`).toBeGreaterThan(times[i - 1]!);
    expect(times[5]! - times[0]!).toBeGreaterThan(4);
    const last = await picture(page, selector);
    expect(last.paused).toBe(false);
    expect(last.fingerprint, 'picture changes over 5 s').not.toBe(first.fingerprint);
  }

  beforeAll(async () => {
    gw = await startGateway({ hub: { publisherGraceMs: 2000 } });
    browser = await launchChromium();
    startPublisher('live/cam1');
    await published('live/cam1');
  });

  afterAll(async () => {
    await Promise.all(publishers.map((p) => p.stop()));
    await browser?.close();
    await gw?.stop();
  });

  for (const transport of ['http', 'ws'] as const) {
    test(`plays an RTMP publish over ${transport === 'http' ? 'HTTP-FLV' : 'WS-FLV'}: currentTime advances for 5 s, picture not uniform`, async () => {
      await onPage(`${gw.http}/player/?stream=live/cam1&transport=${transport}`, async (page) => {
        await expectPlaying(page);
        await pageWaitFor(page, 'state playing', `document.getElementById('player').dataset.sgState === 'playing'`);
        const stats = (await page.evaluate('window.streamgatePlayer.stats')) as { engine: string; latencyMs: number; media: { videoCodec: string; width: number } };
        expect(stats.engine).toBe(transport === 'http' ? 'http-flv' : 'ws-flv');
        expect(stats.media.width).toBe(320);
        expect(stats.media.videoCodec).toMatch(/^avc1/);
        expect(stats.latencyMs, 'latency measured from the gateway stamps').toBeGreaterThan(0);
        const overlay = await page.textContent('.sgp-overlay');
        expect(overlay).toMatch(/\d+ ms/);
        expect(overlay).toContain('320×240');
        await screenshot(page, `player-${transport}`);
      });
    });
  }

  test('the stream picker lists live streams; its links keep ?token= and play', async () => {
    await onPage(`${gw.http}/player/?token=picker-token`, async (page) => {
      const link = page.locator('#player a', { hasText: 'live/cam1' });
      await link.waitFor({ timeout: 10_000 });
      const href = new URL((await link.getAttribute('href'))!, gw.http);
      expect(href.pathname).toBe('/player/');
      expect(href.searchParams.get('stream')).toBe('live/cam1');
      expect(href.searchParams.get('token'), 'the token that listed the streams also plays them').toBe('picker-token');
      await link.click();
      await page.waitForURL(/stream=live%2Fcam1|stream=live\/cam1/);
      await pageWaitFor(page, 'state playing', `document.getElementById('player').dataset.sgState === 'playing'`, 15_000);
      await expectPlaying(page);
    });
  });

  test('stock flv.js plays the same stream (interop)', async () => {
    await withPage(browser, { width: 640, height: 480 }, async (page) => {
      // A blank page on the gateway's origin, with flv.js from node_modules.
      await page.route(`${gw.http}/interop/flvjs.html`, (route) =>
        route.fulfill({ contentType: 'text/html', body: '<!doctype html><html><body style="margin:0;background:#000"><video id="v" muted autoplay style="width:640px;height:480px"></video></body></html>' }),
      );
      await page.goto(`${gw.http}/interop/flvjs.html`);
      await page.addScriptTag({ content: readFileSync(resolve(process.cwd(), 'node_modules/flv.js/dist/flv.min.js'), 'utf8') });
      await page.evaluate(`(() => {
        const p = flvjs.createPlayer({ type: 'flv', isLive: true, url: ${JSON.stringify(`${gw.http}/live/cam1.flv`)} }, { enableStashBuffer: false });
        window.flvErrors = [];
        p.on(flvjs.Events.ERROR, (type, detail) => window.flvErrors.push(type + ' ' + detail));
        p.attachMediaElement(document.getElementById('v'));
        p.load();
        p.play();
        window.flvPlayer = p;
      })()`);
      await expectPlaying(page);
      expect(await page.evaluate('window.flvErrors')).toEqual([]);
      await screenshot(page, 'interop-flvjs');
    });
  });

  test('the ES-module library plays through createPlayer(), emits typed events, and destroy() cleans up', async () => {
    await withPage(browser, { width: 640, height: 400 }, async (page) => {
      // player/public/examples/library.html imports /player/lib/streamgate-player.js as a module.
      await page.goto(`${gw.http}/player/examples/library.html?stream=live/cam1&transport=ws&latency=balanced`);
      await pageWaitFor(page, 'the playing event', `window.events && window.events.includes('playing')`);
      expect(await page.evaluate('window.firstFrameMs')).toBeGreaterThan(0);
      expect(await page.evaluate('window.player.stats.engine')).toBe('ws-flv');
      await page.evaluate('window.player.destroy(); window.player.destroy()');
      expect(await page.evaluate('window.events.filter((e) => e === "destroyed-event").length')).toBe(1);
      expect(await page.locator('#cam video').count()).toBe(0);
      await waitFor('the WS-FLV reader to close', async () => {
        const s = (await (await fetch(`${gw.http}/api/v1/streams/live/cam1`)).json()) as { readers: Record<string, number> };
        return !s.readers['ws-flv'];
      });
    });
  });

  test('publisher stops -> offline -> publisher restarts -> playback resumes without a reload', async () => {
    let pub = startPublisher('live/flaky', { audio: 'none' });
    await published('live/flaky');
    const state = `document.getElementById('player').dataset.sgState`;
    try {
      await onPage(`${gw.http}/player/?stream=live/flaky`, async (page) => {
        await pageWaitFor(page, 'playing', `${state} === 'playing'`);
        await page.evaluate(`window.__navigations = performance.getEntriesByType('navigation').length; window.__marker = 1`);

        // 1. Within the gateway's grace period: the same connection resumes.
        await pub.stop();
        await pageWaitFor(page, 'offline', `${state} === 'offline'`, 10_000);
        expect(await page.textContent('.sgp-status-title')).toBe('Stream offline');
        await screenshot(page, 'player-offline');
        pub = startPublisher('live/flaky', { audio: 'none' });
        await pageWaitFor(page, 'playing again (within grace)', `${state} === 'playing'`, 15_000);
        const t1 = (await snapshotVideo(page)).currentTime;
        await page.waitForTimeout(1000);
        expect((await snapshotVideo(page)).currentTime).toBeGreaterThan(t1);

        // 2. After the grace period: the stream ends, the player reconnects with backoff.
        await pub.stop();
        await pageWaitFor(page, 'offline', `${state} === 'offline'`, 10_000);
        await waitFor('the stream to end', async () => (await fetch(`${gw.http}/api/v1/streams/live/flaky`)).status === 404, 10_000);
        pub = startPublisher('live/flaky', { audio: 'none' });
        await pageWaitFor(page, 'playing again (after grace)', `${state} === 'playing'`, 20_000);
        const t2 = (await snapshotVideo(page)).currentTime;
        await page.waitForTimeout(1000);
        expect((await snapshotVideo(page)).currentTime).toBeGreaterThan(t2);
        expect(await page.evaluate('window.__marker'), 'the page was not reloaded').toBe(1);
      });
    } finally {
      await pub.stop();
    }
  });

  test('overlay latency is within 100 ms of the bar-code (glass-to-glass) measurement', async () => {
    const pub = startPublisher('live/clock', { size: '640x360', audio: 'none', vf: clockBarcodeFilter() });
    await published('live/clock');
    try {
      await onPage(`${gw.http}/player/?stream=live/clock`, async (page) => {
        await pageWaitFor(page, 'playing', `document.getElementById('player').dataset.sgState === 'playing'`);
        await page.waitForTimeout(2500); // let the latency controller settle
        const before = (await readProbe(page)).samples.length;
        await page.waitForTimeout(4000);
        const probe = await readProbe(page);
        const window = probe.samples.slice(before).filter((s) => s.overlay !== null);
        expect(window.length, `decoded frames with an overlay value (decode errors: ${probe.decodeErrors})`).toBeGreaterThan(50);
        expect(probe.decodeErrors).toBeLessThan(probe.frames * 0.1);
        const barcode = median(window.map((s) => s.g2g));
        const overlay = median(window.map((s) => s.overlay!));
        console.log(`latency: bar code median ${barcode} ms, overlay median ${overlay} ms, ${window.length} frames`);
        expect(barcode).toBeGreaterThan(0);
        expect(barcode, 'FLV glass-to-glass p50 (bar-code median) at most 600 ms').toBeLessThanOrEqual(600);
        expect(Math.abs(overlay - barcode)).toBeLessThan(100);
        await screenshot(page, 'player-latency');
      }, true);
    } finally {
      await pub.stop();
    }
  });
});

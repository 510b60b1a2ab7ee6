/**
 * The video wall and the admin console in Debian's Chromium, against a real gateway with nine
 * ffmpeg RTMP publishers. Needs `npm run build:player` first (npm test builds).
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { publish, type Publisher } from '../helpers/ffmpeg.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { hasChromium, launchChromium, pageLog, pageWaitFor, screenshot, withPage } from '../helpers/browser.js';
import { hasTool } from '../helpers/tools.js';

const enabled = hasChromium() && hasTool('ffmpeg');
const PATHS = Array.from({ length: 9 }, (_, i) => `wall/cam${i + 1}`);

describe.skipIf(!enabled)('video wall and admin console in Chromium', () => {
  let gw: TestGateway;
  let browser: Browser;
  let wall: Page;
  let wallLog: string[];
  const publishers = new Map<string, Publisher>();

  beforeAll(async () => {
    gw = await startGateway();
    browser = await launchChromium();
    // Nine small streams without audio: the machine is shared, keep the encoders cheap.
    for (const path of PATHS) publishers.set(path, publish(`${gw.rtmp}/${path}`, { size: '320x240', fps: 25, audio: 'none', duration: 120 }));
    await waitFor('nine streams published', async () => {
      const res = (await (await fetch(`${gw.http}/api/v1/streams`)).json()) as { streams: { ready: boolean; publisher: unknown }[] };
      return res.streams.filter((s) => s.ready && s.publisher).length === 9;
    }, 20_000);
  });

  afterAll(async () => {
    await Promise.all([...publishers.values()].map((p) => p.stop()));
    await browser?.close();
    await gw?.stop();
  });

  test('a 9-tile wall plays 9 streams', async () => {
    wall = await browser.newPage({ viewport: { width: 1280, height: 760 } });
    wallLog = pageLog(wall);
    try {
      await wall.goto(`${gw.http}/player/wall.html?streams=${PATHS.join(',')}`);
      expect(await wall.locator('.tile').count()).toBe(9);
      await pageWaitFor(wall, 'all nine tiles playing', `[...document.querySelectorAll('.tile')].every((t) => t.dataset.state === 'playing')`, 30_000);
      const times = (): Promise<number[]> => wall.evaluate(`[...document.querySelectorAll('.tile video')].map((v) => v.currentTime)`) as Promise<number[]>;
      const t0 = await times();
      await wall.waitForTimeout(2000);
      const t1 = await times();
      for (let i = 0; i < 9; i++) expect(t1[i]! - t0[i]!, `tile ${PATHS[i]} advances`).toBeGreaterThan(1);
      // The grid is 3x3 and every tile shows its name and a latency.
      expect(await wall.evaluate(`getComputedStyle(document.getElementById('wall')).getPropertyValue('--cols').trim()`)).toBe('3');
      expect(await wall.locator('.tile-name').allTextContents()).toEqual(PATHS);
      await pageWaitFor(wall, 'latencies on every tile', `[...document.querySelectorAll('.tile-latency')].every((e) => / ms$/.test(e.textContent))`, 10_000);
      await screenshot(wall, 'wall-9');
      // Click enlarges a tile; Escape restores it.
      await wall.locator('.tile').nth(4).click();
      expect(await wall.locator('.tile.enlarged').count()).toBe(1);
      await wall.keyboard.press('Escape');
      expect(await wall.locator('.tile.enlarged').count()).toBe(0);
    } catch (error) {
      console.error(wallLog.join('\n'));
      throw error;
    }
  });

  test('tiles out of view are stopped and start live when scrolled into view', async () => {
    await withPage(browser, { width: 960, height: 576 }, async (page) => {
      // Layout 4 (2x2) with nine streams: rows 3-5 are below the fold.
      await page.goto(`${gw.http}/player/wall.html?layout=4&streams=${PATHS.join(',')}`);
      const states = `[...document.querySelectorAll('.tile')].map((t) => t.dataset.state)`;
      await pageWaitFor(page, 'first four playing, the rest paused', `(() => { const s = ${states}; return s.slice(0, 4).every((x) => x === 'playing') && s.slice(4).every((x) => x === 'paused'); })()`);
      await page.locator('.tile[data-path="wall/cam9"]').scrollIntoViewIfNeeded();
      await pageWaitFor(page, 'cam9 playing after scrolling', `document.querySelector('.tile[data-path="wall/cam9"]').dataset.state === 'playing'`);
      await pageWaitFor(page, 'cam1 paused after scrolling away', `document.querySelector('.tile[data-path="wall/cam1"]').dataset.state === 'paused'`);
    });
  });

  test('admin lists the streams with codecs and readers, and kick disconnects a publisher', async () => {
    await withPage(browser, { width: 1400, height: 900 }, async (page) => {
      // One stream's snapshot fails (as when no keyframe was seen or ffmpeg is missing).
      await page.route(/\/api\/v1\/streams\/wall\/cam1\/snapshot\.jpg/, (route) =>
        route.fulfill({ status: 404, contentType: 'application/json', body: '{"error":{"code":"SG_ERR_STREAM_NOT_FOUND","message":"no keyframe yet"}}' }),
      );
      // What the snapshot service answered for cam5, for the message if its thumbnail never shows.
      const snapshots: string[] = [];
      page.on('response', (r) => {
        if (r.url().includes('/wall/cam5/snapshot.jpg')) snapshots.push(`${r.status()} after ${Math.round(r.request().timing().responseEnd)} ms`);
      });
      await page.goto(`${gw.http}/`); // redirects to the admin console
      expect(page.url()).toContain('/player/admin.html');
      await pageWaitFor(page, 'nine rows', `document.querySelectorAll('#streams tr[data-path]').length === 9`);
      const row = page.locator('#streams tr[data-path="wall/cam5"]');
      expect(await row.locator('td.video').textContent()).toMatch(/^H264 320×240 @ 25/);
      expect(await row.locator('td.publisher').textContent()).toMatch(/^RTMP 127\.0\.0\.1:\d+$/);
      // The wall (still open) reads every stream over WS-FLV.
      await pageWaitFor(page, 'readers from the wall', `/^1 \\(ws-flv 1\\)$/.test(document.querySelector('#streams tr[data-path="wall/cam5"] td.readers').textContent)`);
      // The snapshot service answers: the thumbnail shows a picture; where it fails, it stays hidden.
      // A failed one (a decode past transcode.snapshot.timeoutMs on a busy machine) is asked again 10 s later.
      await pageWaitFor(page, 'the cam5 thumbnail', `(() => { const i = document.querySelector('#streams tr[data-path="wall/cam5"] td.thumb img'); return !i.hidden && i.naturalWidth === 240; })()`, 25_000).catch((error: Error) => {
        throw new Error(`${error.message}; cam5 snapshot answers: ${snapshots.join(', ') || 'none'}`);
      });
      expect(await row.locator('td.thumb img').isVisible()).toBe(true);
      await pageWaitFor(page, 'the cam1 snapshot to be refused', `document.querySelector('#streams tr[data-path="wall/cam1"] td.thumb img').src !== ''`);
      await page.waitForTimeout(300);
      expect(await page.locator('#streams tr[data-path="wall/cam1"] td.thumb img').isHidden()).toBe(true);
      // Play URLs are there to copy.
      await row.locator('button.urls-toggle').click();
      const urls = page.locator('#streams tr[data-path="wall/cam5"] + tr.urls input');
      expect(await urls.evaluateAll((inputs) => inputs.map((i) => (i as HTMLInputElement).dataset.kind))).toEqual(['flv', 'wsFlv', 'hls', 'whep', 'whip', 'rtsp', 'rtmp', 'player', 'embed']);
      expect(await urls.first().inputValue()).toBe(`${gw.http}/wall/cam5.flv`);
      await screenshot(page, 'admin');

      // Kick: two clicks (arm, confirm).
      const kick = row.locator('button.kick');
      await kick.click();
      expect(await kick.textContent()).toBe('Confirm kick');
      await kick.click();
      const code = await Promise.race([publishers.get('wall/cam5')!.exited, new Promise((r) => setTimeout(() => r('still running'), 10_000))]);
      expect(code, 'ffmpeg was disconnected').not.toBe('still running');
      expect((await fetch(`${gw.http}/api/v1/streams/wall/cam5`)).status).toBe(404);
      await pageWaitFor(page, 'the row to go', `document.querySelectorAll('#streams tr[data-path]').length === 8`);
      // ... and the wall tile for it goes offline.
      await pageWaitFor(wall, 'tile offline', `document.querySelector('.tile[data-path="wall/cam5"]').dataset.state === 'offline'`, 10_000);
      await screenshot(wall, 'wall-after-kick');

      // A wall with ?all=1 follows the API: the eight streams still published.
      const all = await browser.newPage({ viewport: { width: 1280, height: 760 } });
      await all.goto(`${gw.http}/player/wall.html?all=1`);
      await pageWaitFor(all, 'eight tiles from the API', `document.querySelectorAll('.tile').length === 8 && document.querySelector('.tile[data-path="wall/cam5"]') === null`);
      await all.close();
    });
  });
});

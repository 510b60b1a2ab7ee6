/**
 * An H.265 + G.711 (PCMA) camera pushed over RTSP, opened in Debian's Chromium (no HEVC in MSE,
 * no G.711 in FLV): the player says why it cannot play it (codec names) and offers the
 * browser-safe `_h264` rendition; one click on it plays the on-demand transcode.
 * Needs `npm run build:player` first: the gateway serves dist/player.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectPlaying } from '../helpers/browser-play.js';
import { hasChromium, launchChromium, pageLog, pageWaitFor, screenshot } from '../helpers/browser.js';
import { publish, type Publisher } from '../helpers/ffmpeg.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { hasTool } from '../helpers/tools.js';

const enabled = hasChromium() && hasTool('ffmpeg');

describe.skipIf(!enabled)('player: unsupported codec (H.265 + G.711 over RTSP)', () => {
  let gw: TestGateway;
  let browser: Browser;
  let pub: Publisher | undefined;
  let page: Page | undefined;

  beforeAll(async () => {
    gw = await startGateway();
    browser = await launchChromium();
    pub = publish(`${gw.rtsp}/live/hevc`, { format: 'rtsp', video: 'h265', audio: 'pcma', size: '320x240', fps: 25, duration: 120 });
    await waitFor('live/hevc to be published', async () => {
      const res = await fetch(`${gw.http}/api/v1/streams/live/hevc`);
      if (res.status !== 200) return false;
      const s = (await res.json()) as { ready: boolean; publisher: unknown; video: { codec: string } | null };
      return s.ready && s.publisher !== null && s.video?.codec === 'H265';
    }, 20_000);
  }, 40_000);

  afterAll(async () => {
    await page?.close().catch(() => undefined);
    await pub?.stop();
    await browser?.close();
    await gw?.stop();
  });

  test('shows the unsupported state naming the codecs; one click plays the _h264 rendition', async () => {
    const api = (await (await fetch(`${gw.http}/api/v1/streams/live/hevc`)).json()) as { browserUrl?: string; audio: { codec: string } };
    expect(api.browserUrl).toBe('/live/hevc_h264.flv');
    expect(api.audio.codec).toBe('PCMA');

    page = await browser.newPage({ viewport: { width: 640, height: 360 } });
    const log = pageLog(page);
    const state = `document.getElementById('player').dataset.sgState`;
    try {
      await page.goto(`${gw.http}/player/?stream=live/hevc`);
      await pageWaitFor(page, 'state unsupported', `${state} === 'unsupported'`, 10_000);

      // The state explains why, by codec name, and offers the rendition.
      expect(await page.textContent('.sgp-status-title')).toBe('Unsupported codec');
      const detail = (await page.textContent('.sgp-status-detail')) ?? '';
      expect(detail).toMatch(/H\.265/);
      expect(detail).toMatch(/G\.711/);
      const link = page.locator('.sgp-status a.sgp-rendition');
      await expect.poll(() => link.isVisible()).toBe(true);
      expect(await link.textContent()).toContain('live/hevc_h264');
      expect(await link.getAttribute('href')).toContain('stream=live/hevc_h264');
      // Nothing plays meanwhile.
      expect(await page.evaluate('document.querySelector("video").currentTime')).toBe(0);
      await screenshot(page, 'player-unsupported');

      // One click: the player switches in place (no navigation) to the on-demand rendition.
      await page.evaluate('window.__marker = 1');
      await link.click();
      await pageWaitFor(page, 'state playing', `${state} === 'playing'`, 30_000);
      expect(await page.evaluate('window.__marker'), 'the page was not reloaded').toBe(1);
      expect(await page.evaluate('window.streamgatePlayer.config.stream')).toBe('live/hevc_h264');
      await expectPlaying(page, 'video', 3);
      const stats = (await page.evaluate('window.streamgatePlayer.stats')) as { media: { videoCodec: string; width: number } };
      expect(stats.media.videoCodec).toMatch(/^avc1/);
      expect(stats.media.width).toBe(320);
      expect(await page.isVisible('.sgp-status')).toBe(false);

      // The gateway really transcodes: the rendition is H.264 + AAC with this page reading it.
      const rendition = (await (await fetch(`${gw.http}/api/v1/streams/live/hevc_h264`)).json()) as { video: { codec: string }; audio: { codec: string } | null; readers: { count: number } };
      expect(rendition.video.codec).toBe('H264');
      expect(rendition.audio?.codec).toBe('AAC');
      expect(rendition.readers.count).toBeGreaterThanOrEqual(1);
      await screenshot(page, 'player-unsupported-rendition');
    } catch (error) {
      console.error(log.join('\n'));
      throw error;
    }
  }, 60_000);
});

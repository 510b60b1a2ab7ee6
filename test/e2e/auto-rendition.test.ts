/**
 * Every camera plays without a click: an H.265 + G.711 (PCMA) camera pushed over RTSP, opened in
 * Debian's Chromium (no HEVC in MSE, no G.711 in FLV), plays the on-demand `_h264` rendition by
 * itself in the player page and in a 4-tile wall; an H.264 + G.711 camera switches for its audio
 * only (video copied); H.264 + AAC plays the source. `&variant=source` keeps the old behaviour:
 * the unsupported state with a link, one click plays the rendition.
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
const STATE = `document.getElementById('player').dataset.sgState`;
/** Records page load -> first frame before the page script creates its player. */
const FIRST_FRAME_PROBE = `(() => {
  let player;
  Object.defineProperty(window, 'streamgatePlayer', {
    configurable: true,
    get: () => player,
    set: (p) => { player = p; p.on('firstframe', () => { window.__firstFrameAt ??= performance.now(); }); },
  });
})()`;

interface Stats {
  media: { videoCodec?: string; audioCodec?: string; width?: number };
  variant?: { kind: string; path: string; reason: string };
  firstFrameMs?: number;
}

describe.skipIf(!enabled)('player: automatic browser-safe renditions', () => {
  let gw: TestGateway;
  let browser: Browser;
  const pubs: Publisher[] = [];

  async function live(path: string, video: string, audio: string): Promise<void> {
    await waitFor(`${path} to be published`, async () => {
      const res = await fetch(`${gw.http}/api/v1/streams/${path}`);
      if (res.status !== 200) return false;
      const s = (await res.json()) as { ready: boolean; publisher: unknown; video: { codec: string } | null; audio: { codec: string } | null };
      return s.ready && s.publisher !== null && s.video?.codec === video && s.audio?.codec === audio;
    }, 20_000);
  }

  beforeAll(async () => {
    gw = await startGateway();
    browser = await launchChromium();
    const clip = { size: '320x240', fps: 25, gop: 25, duration: 180 } as const;
    pubs.push(publish(`${gw.rtsp}/live/hevc`, { format: 'rtsp', video: 'h265', audio: 'pcma', ...clip }));
    pubs.push(publish(`${gw.rtsp}/live/hevc2`, { format: 'rtsp', video: 'h265', audio: 'pcma', ...clip }));
    pubs.push(publish(`${gw.rtsp}/live/avcg711`, { format: 'rtsp', video: 'h264', audio: 'pcma', ...clip }));
    pubs.push(publish(`${gw.rtmp}/live/avc`, { format: 'flv', video: 'h264', audio: 'aac', ...clip }));
    await Promise.all([live('live/hevc', 'H265', 'PCMA'), live('live/hevc2', 'H265', 'PCMA'), live('live/avcg711', 'H264', 'PCMA'), live('live/avc', 'H264', 'AAC')]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(pubs.map((p) => p.stop()));
    await browser?.close();
    await gw?.stop();
  });

  async function withPage(fn: (page: Page) => Promise<void>, viewport = { width: 640, height: 360 }): Promise<void> {
    const page = await browser.newPage({ viewport });
    const log = pageLog(page);
    try {
      await fn(page);
    } catch (error) {
      console.error(log.join('\n'));
      throw error;
    } finally {
      await page.close();
    }
  }

  test('an H.265 + G.711 camera plays the H.264 + AAC rendition in the player without a click, and says so', async () => {
    await withPage(async (page) => {
      await page.addInitScript(FIRST_FRAME_PROBE);
      await page.goto(`${gw.http}/player/?stream=live/hevc`);
      await pageWaitFor(page, 'state playing', `${STATE} === 'playing'`, 30_000);
      const firstFrameMs = Math.round((await page.evaluate('window.__firstFrameAt')) as number);
      await expectPlaying(page, 'video', 3);
      const stats = (await page.evaluate('window.streamgatePlayer.stats')) as Stats;
      // The user's stream stays the camera; the rendition is what is opened.
      expect(await page.evaluate('window.streamgatePlayer.config.stream')).toBe('live/hevc');
      expect(stats.variant).toMatchObject({ kind: 'rendition', path: 'live/hevc_h264' });
      expect(stats.media.videoCodec).toMatch(/^avc1/);
      expect(stats.media.audioCodec, 'an audio track is played').toMatch(/^mp4a/);
      expect(await page.evaluate('document.querySelector("video").webkitAudioDecodedByteCount'), 'audio is decoded').toBeGreaterThan(0);
      // The overlay says which variant plays and why.
      expect(await page.textContent('.sgp-variant')).toBe('H.265 + G.711 A-law camera, playing the H.264 + AAC rendition live/hevc_h264');
      expect(await page.isVisible('.sgp-status')).toBe(false);
      await screenshot(page, 'player-auto-rendition');
      console.log(`auto rendition, cold (ffmpeg job starting): page load -> first frame ${firstFrameMs} ms`);

      const rendition = (await (await fetch(`${gw.http}/api/v1/streams/live/hevc_h264`)).json()) as { video: { codec: string }; audio: { codec: string } | null; readers: { count: number } };
      expect(rendition.video.codec).toBe('H264');
      expect(rendition.audio?.codec).toBe('AAC');
      expect(rendition.readers.count).toBeGreaterThanOrEqual(1);

      // A later viewer joins the running rendition from its GOP cache.
      await withPage(async (second) => {
        await second.addInitScript(FIRST_FRAME_PROBE);
        await second.goto(`${gw.http}/player/?stream=live/hevc`);
        await pageWaitFor(second, 'second viewer playing', `${STATE} === 'playing'`, 15_000);
        const warmMs = Math.round((await second.evaluate('window.__firstFrameAt')) as number);
        console.log(`auto rendition, warm (job running): page load -> first frame ${warmMs} ms`);
        expect(((await second.evaluate('window.streamgatePlayer.stats')) as Stats).variant?.path).toBe('live/hevc_h264');
      });
    });
  }, 90_000);

  test('a 4-tile wall plays H.265 + G.711, H.264 + G.711 and H.264 + AAC cameras, each in the variant it needs', async () => {
    const paths = ['live/hevc', 'live/hevc2', 'live/avcg711', 'live/avc'];
    await withPage(async (page) => {
      await page.goto(`${gw.http}/player/wall.html?streams=${paths.join(',')}`);
      await pageWaitFor(page, 'all 4 tiles playing', `[...document.querySelectorAll('.tile')].every((t) => t.dataset.state === 'playing')`, 45_000);
      // 4 s: with two H.265 transcodes and four decoders on 2 cores a tile may hold a frame for a moment.
      for (const path of paths) await expectPlaying(page, `.tile[data-path="${path}"] video`, 4);
      const tiles = (await page.evaluate(`[...window.streamgateWall.tiles.values()].map((t) => ({ path: t.path, stats: t.player.stats, audio: t.root.querySelector('video').webkitAudioDecodedByteCount }))`)) as { path: string; stats: Stats; audio: number }[];
      const byPath = new Map(tiles.map((t) => [t.path, t]));
      // 4 tiles are not small: the full-size rendition (shared with other viewers of it).
      expect(byPath.get('live/hevc')!.stats.variant).toMatchObject({ kind: 'rendition', path: 'live/hevc_h264' });
      expect(byPath.get('live/hevc2')!.stats.variant).toMatchObject({ kind: 'rendition', path: 'live/hevc2_h264' });
      // H.264 + G.711: only the audio needs the rendition.
      expect(byPath.get('live/avcg711')!.stats.variant).toMatchObject({ kind: 'rendition', path: 'live/avcg711_h264', reason: 'G.711 A-law camera, playing the AAC rendition live/avcg711_h264' });
      expect(byPath.get('live/avc')!.stats.variant).toMatchObject({ kind: 'source', path: 'live/avc' });
      for (const t of tiles) {
        expect(t.stats.media.audioCodec, `${t.path} has an audio track`).toMatch(/^mp4a/);
        expect(t.audio, `${t.path} decodes audio`).toBeGreaterThan(0);
      }
      // The tile badge names the rendition (its title says why).
      expect(await page.textContent('.tile[data-path="live/hevc"] .tile-variant')).toBe('⇄ h264');
      expect(await page.textContent('.tile[data-path="live/avc"] .tile-variant')).toBe('');
      await screenshot(page, 'wall-auto-rendition');
    }, { width: 1280, height: 720 });
    // The H.264 + G.711 rendition copies the video: its job only encodes audio.
    const jobs = (await (await fetch(`${gw.http}/api/v1/renditions`)).json()) as { jobs: { path: string; args: string[] }[] };
    const args = jobs.jobs.find((j) => j.path === 'live/avcg711_h264')?.args.join(' ');
    expect(args, JSON.stringify(jobs)).toContain('-c:v copy');
    expect(args).toContain('-c:a aac');
  }, 120_000);

  test('variant=source keeps the original: unsupported state naming the codecs; one click plays the rendition', async () => {
    await withPage(async (page) => {
      await page.goto(`${gw.http}/player/?stream=live/hevc&variant=source`);
      await pageWaitFor(page, 'state unsupported', `${STATE} === 'unsupported'`, 10_000);
      expect(await page.textContent('.sgp-status-title')).toBe('Unsupported codec');
      const detail = (await page.textContent('.sgp-status-detail')) ?? '';
      expect(detail).toMatch(/H\.265/);
      expect(detail).toMatch(/G\.711/);
      const link = page.locator('.sgp-status a.sgp-rendition');
      await expect.poll(() => link.isVisible()).toBe(true);
      expect(await link.textContent()).toContain('live/hevc_h264');
      expect(await page.evaluate('document.querySelector("video").currentTime')).toBe(0);
      await page.evaluate('window.__marker = 1');
      await link.click();
      await pageWaitFor(page, 'state playing', `${STATE} === 'playing'`, 30_000);
      expect(await page.evaluate('window.__marker'), 'the page was not reloaded').toBe(1);
      expect(await page.evaluate('window.streamgatePlayer.config.stream')).toBe('live/hevc_h264');
      await expectPlaying(page, 'video', 2);
    });
  }, 60_000);
});

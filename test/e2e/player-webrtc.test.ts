/**
 * The bundled player's WebRTC transport (WHEP) and the publish page (WHIP) in Debian's Chromium,
 * against a real gateway and ffmpeg RTMP publishers. Needs `npm run build:player` first (npm
 * test builds): the gateway serves dist/player.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { publish, type Publisher, type PublishOptions } from '../helpers/ffmpeg.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import {
  clockBarcodeFilter,
  FAKE_MEDIA_ARGS,
  hasChromium,
  installBarcodeProbe,
  launchChromium,
  median,
  pageWaitFor,
  readProbe,
  screenshot,
  withPage,
} from '../helpers/browser.js';
import { expectPlaying } from '../helpers/browser-play.js';
import { hasTool } from '../helpers/tools.js';

const enabled = hasChromium() && hasTool('ffmpeg');

interface Stats {
  engine: string;
  latencyMs: number | undefined;
  latencyMeasured: boolean;
  bufferMs: number;
  bitrateKbps: number | undefined;
  media: { videoCodec: string; audioCodec: string; width: number; height: number; fps: number };
  transport?: { rttMs: number | undefined; packetsLost: number; jitterBufferMs: number | undefined };
  fallback?: string;
}

describe.skipIf(!enabled)('player over WebRTC, publish page over WHIP (Chromium)', () => {
  let gw: TestGateway;
  let browser: Browser;
  const publishers: Publisher[] = [];
  const playing = `document.getElementById('player').dataset.sgState === 'playing'`;

  async function startPublisher(path: string, options: PublishOptions): Promise<Publisher> {
    const p = publish(`${options.format === 'rtsp' ? gw.rtsp : gw.rtmp}/${path}`, { size: '320x240', fps: 25, duration: 120, ...options });
    publishers.push(p);
    await waitFor(`${path} to be published`, async () => {
      const res = await fetch(`${gw.http}/api/v1/streams/${path}`);
      return res.ok && ((await res.json()) as { ready: boolean }).ready;
    }, 15_000);
    return p;
  }

  function stats(page: Page): Promise<Stats> {
    return page.evaluate('window.streamgatePlayer.stats') as Promise<Stats>;
  }

  async function sessions(): Promise<{ kind: string; path: string; state: string }[]> {
    return ((await (await fetch(`${gw.http}/api/v1/webrtc/sessions`)).json()) as { sessions: { kind: string; path: string; state: string }[] }).sessions;
  }

  function onPage(url: string, fn: (page: Page) => Promise<void>, probe = false): Promise<void> {
    return withPage(browser, { width: 960, height: 540 }, async (page) => {
      if (probe) await installBarcodeProbe(page);
      await page.goto(url);
      await fn(page);
    });
  }

  beforeAll(async () => {
    // Only the h264 rendition: the AAC cases test a gateway that cannot make Opus (no opus or
    // webrtc profile); integration/webrtc.test.ts covers the opus rendition.
    gw = await startGateway({ transcode: { profiles: { h264: {} } } });
    browser = await launchChromium(FAKE_MEDIA_ARGS);
    await Promise.all([startPublisher('live/pcma', { audio: 'pcma' }), startPublisher('live/aac', { audio: 'aac' })]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(publishers.map((p) => p.stop()));
    await browser?.close();
    await gw?.stop();
  });

  test('transport=webrtc plays an H.264 + PCMA RTMP publish; the overlay and stats say webrtc, with RTT and loss', async () => {
    await onPage(`${gw.http}/player/?stream=live/pcma&transport=webrtc`, async (page) => {
      await pageWaitFor(page, 'state playing', playing);
      await expectPlaying(page, 'video', 4);
      const s = await stats(page);
      expect(s.engine).toBe('webrtc');
      expect(s.fallback).toBeUndefined();
      expect(s.media).toMatchObject({ videoCodec: 'H264', audioCodec: 'PCMA', width: 320, height: 240 });
      expect(s.media.fps).toBeGreaterThan(15);
      expect(s.bitrateKbps).toBeGreaterThan(0);
      expect(s.transport!.rttMs, 'RTT from the candidate pair').toBeGreaterThanOrEqual(0);
      expect(s.transport!.packetsLost).toBe(0);
      expect(s.latencyMs, 'latency estimated from receive/display times and the RTT').toBeGreaterThan(0);
      expect(s.latencyMeasured).toBe(false);
      expect(s.bufferMs, 'the jitter buffer as the buffer').toBeGreaterThan(0);
      const overlay = await page.textContent('.sgp-overlay');
      expect(overlay).toContain('webrtc');
      expect(overlay).toMatch(/≈\d+ ms/);
      expect(overlay).toMatch(/rtt \d+ ms/);
      expect(overlay).toContain('320×240');
      expect(await sessions()).toMatchObject([{ kind: 'whep', path: 'live/pcma', state: 'connected' }]);
      await screenshot(page, 'player-webrtc');
      // stop() DELETEs the WHEP session at once (not after an ICE timeout).
      await page.evaluate('window.streamgatePlayer.stop()');
      await waitFor('the WHEP session to be deleted on stop()', async () => (await sessions()).length === 0, 2000);
      await page.evaluate('window.streamgatePlayer.start()');
      await pageWaitFor(page, 'playing again after start()', playing);
      expect(await sessions()).toHaveLength(1);
      // Leaving the page DELETEs it too (fetch keepalive on pagehide).
      await page.goto('about:blank');
      await waitFor('the WHEP session to be deleted on page unload', async () => (await sessions()).length === 0, 2000);
    });
  });

  test('a WHEP session the gateway ends is retried by the player, which plays again on a new session', async () => {
    await onPage(`${gw.http}/player/?stream=live/pcma&transport=webrtc`, async (page) => {
      await pageWaitFor(page, 'state playing', playing);
      const [first] = (await sessions()) as { id?: string }[];
      expect(first?.id).toBeTruthy();
      // What an operator's kick or a gateway-side failure looks like to the browser.
      expect((await fetch(`${gw.http}/live/pcma/whep/${first!.id}`, { method: 'DELETE' })).status).toBe(200);
      const next = await waitFor('a new WHEP session', async () => ((await sessions()) as { id?: string; state: string }[]).find((x) => x.id !== first!.id && x.state === 'connected'), 20_000);
      expect(next.id).not.toBe(first!.id);
      await pageWaitFor(page, 'playing again', playing);
      await expectPlaying(page, 'video', 2);
      expect((await stats(page)).engine).toBe('webrtc');
      await page.goto('about:blank');
      await waitFor('no session left', async () => (await sessions()).length === 0, 3000);
    });
  });

  test('transport=auto picks WebRTC for H.264 + PCMA', async () => {
    await onPage(`${gw.http}/player/?stream=live/pcma&transport=auto`, async (page) => {
      await pageWaitFor(page, 'state playing', playing);
      const s = await stats(page);
      expect(s.engine).toBe('webrtc');
      expect(s.fallback).toBeUndefined();
    });
  });

  test('transport=auto picks WebRTC for an H.265 camera too: the gateway sends its H.264 rendition', async () => {
    // H.265 comes from cameras over RTSP (FLV without Enhanced RTMP has no HEVC).
    await startPublisher('live/hevc', { video: 'h265', audio: 'pcma', format: 'rtsp' });
    await onPage(`${gw.http}/player/?stream=live/hevc&transport=auto`, async (page) => {
      await pageWaitFor(page, 'state playing', playing, 30_000);
      await expectPlaying(page, 'video', 3);
      const s = (await page.evaluate('window.streamgatePlayer.stats')) as Stats & { variant: { kind: string; reason: string } };
      expect(s.engine, s.fallback).toBe('webrtc');
      expect(s.media.videoCodec).toBe('H264');
      expect(s.variant.reason).toMatch(/^H\.265 video as the gateway's H\.264 rendition/);
      expect(await sessions()).toMatchObject([{ kind: 'whep', path: 'live/hevc_h264' }]);
      await page.goto('about:blank'); // pagehide: the session is DELETEd
    });
  }, 90_000);

  test('transport=auto keeps HTTP-FLV for H.264 + AAC without an Opus rendition, and says why', async () => {
    await onPage(`${gw.http}/player/?stream=live/aac&transport=auto`, async (page) => {
      await pageWaitFor(page, 'state playing', playing);
      await expectPlaying(page, 'video', 2);
      const s = await stats(page);
      expect(s.engine).toBe('http-flv');
      expect(s.fallback).toMatch(/AAC audio and no Opus rendition.*playing HTTP-FLV/);
      expect(await page.textContent('.sgp-variant')).toContain('no Opus rendition');
      expect((await sessions()).filter((x) => x.path === 'live/aac'), 'no WHEP session for it').toHaveLength(0);
    });
  });

  test('transport=webrtc on H.264 + AAC without an Opus rendition plays the video (audio declined in the answer)', async () => {
    await onPage(`${gw.http}/player/?stream=live/aac&transport=webrtc`, async (page) => {
      await pageWaitFor(page, 'state playing', playing);
      await expectPlaying(page, 'video', 2);
      const s = (await page.evaluate('window.streamgatePlayer.stats')) as Stats & { variant: { reason: string } };
      expect(s.engine, s.fallback).toBe('webrtc');
      expect(s.media.audioCodec).toBeUndefined();
      expect(s.variant.reason).toMatch(/AAC audio and no Opus rendition for WebRTC: WebRTC plays what it can carry/);
    });
  });

  test('a refused WHEP POST falls back to HTTP-FLV at once, and the overlay says why', async () => {
    await withPage(browser, { width: 960, height: 540 }, async (page) => {
      // The gateway's answer at its session limit (503 SG_ERR_WEBRTC_LIMIT), for this page only.
      let posts = 0;
      await page.route(/\/live\/pcma\/whep(\?.*)?$/, (route) => {
        posts++;
        return route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: { code: 'SG_ERR_WEBRTC_LIMIT', message: 'all 500 WebRTC sessions are in use' } }) });
      });
      await page.goto(`${gw.http}/player/?stream=live/pcma&transport=webrtc`);
      await pageWaitFor(page, 'state playing', playing);
      await expectPlaying(page, 'video', 2);
      const s = await stats(page);
      expect(s.engine).toBe('http-flv');
      expect(s.fallback).toBe('WHEP refused (503 SG_ERR_WEBRTC_LIMIT): all 500 WebRTC sessions are in use; playing HTTP-FLV');
      expect(await page.textContent('.sgp-variant')).toContain('WHEP refused (503');
      expect(posts, 'WebRTC is not retried for this stream').toBe(1);
    });
  });

  test('without RTCPeerConnection, transport=webrtc plays HTTP-FLV and says why', async () => {
    await withPage(browser, { width: 960, height: 540 }, async (page) => {
      await page.addInitScript('delete window.RTCPeerConnection;');
      await page.goto(`${gw.http}/player/?stream=live/pcma&transport=webrtc`);
      await pageWaitFor(page, 'state playing', playing);
      const s = await stats(page);
      expect(s.engine).toBe('http-flv');
      expect(s.fallback).toBe('this browser has no RTCPeerConnection; playing HTTP-FLV');
    });
  });

  test('WebRTC: the bar-code probe decodes the frames and the overlay latency estimate stays under the glass-to-glass value', async () => {
    await startPublisher('live/rtcclock', { size: '640x360', audio: 'pcma', vf: clockBarcodeFilter() });
    await onPage(`${gw.http}/player/?stream=live/rtcclock&transport=webrtc`, async (page) => {
      await pageWaitFor(page, 'playing', playing);
      await page.waitForTimeout(2500);
      const before = (await readProbe(page)).samples.length;
      await page.waitForTimeout(4000);
      const probe = await readProbe(page);
      const window = probe.samples.slice(before).filter((s) => s.overlay !== null);
      expect(window.length, `decoded frames with an overlay value (decode errors: ${probe.decodeErrors})`).toBeGreaterThan(50);
      const barcode = median(window.map((s) => s.g2g));
      const overlay = median(window.map((s) => s.overlay!));
      console.log(`WebRTC latency: bar code median ${barcode} ms, overlay median ${overlay} ms, ${window.length} frames`);
      expect(barcode).toBeGreaterThan(0);
      expect(barcode, 'WebRTC glass-to-glass p50 at most 400 ms').toBeLessThanOrEqual(400);
      // The overlay's estimate sees gateway -> screen, not ffmpeg's capture, encode and RTMP push
      // before it (neither do FLV's ingest stamps): it may read lower than the bar code, not higher.
      expect(overlay).toBeGreaterThan(0);
      expect(overlay, 'the overlay does not overstate the latency').toBeLessThanOrEqual(barcode + 30);
      expect(barcode - overlay, 'what the overlay cannot see (publisher to gateway)').toBeLessThan(150);
      await screenshot(page, 'player-webrtc-latency');
    }, true);
  });

  test('publish.html publishes the fake camera over WHIP: the stream appears as whip/H264 and the page shows a non-zero bitrate', async () => {
    await onPage(`${gw.http}/player/publish.html?stream=live/laptop`, async (page) => {
      await pageWaitFor(page, 'the camera picker to fill', `document.querySelectorAll('#camera option').length > 0 && document.querySelectorAll('#microphone option').length > 0`);
      await pageWaitFor(page, 'the preview', `document.getElementById('preview').videoWidth > 0`);
      await page.click('#start');
      await pageWaitFor(page, 'connected', `document.getElementById('conn-state').dataset.state === 'connected'`);
      const entry = await waitFor('the WHIP stream in the API', async () => {
        const res = await fetch(`${gw.http}/api/v1/streams/live/laptop`);
        if (!res.ok) return undefined;
        const e = (await res.json()) as { publisher: { protocol: string } | null; video: { codec: string } | null; audio: { codec: string } | null };
        return e.video?.codec ? e : undefined;
      }, 15_000);
      expect(entry.publisher?.protocol).toBe('whip');
      expect(entry.video?.codec).toBe('H264');
      expect(entry.audio?.codec).toBe('OPUS');
      await pageWaitFor(page, 'a non-zero outgoing bitrate', `Number(document.getElementById('bitrate').dataset.kbps) > 0`);
      expect(await page.textContent('#bitrate')).toMatch(/^\d+ kb\/s$/);
      expect(await page.textContent('#picture')).toMatch(/^\d+×\d+ @ \d+ fps$/);
      await screenshot(page, 'publish-page');
      await page.click('#stop');
      await waitFor('the WHIP publisher to leave', async () => {
        const res = await fetch(`${gw.http}/api/v1/streams/live/laptop`);
        return !res.ok || ((await res.json()) as { publisher: unknown }).publisher === null;
      }, 5000);
      expect(await page.textContent('#conn-state')).toBe('not publishing');
    });
  });

  test('publish.html shows the error message of a refused POST', async () => {
    await onPage(`${gw.http}/player/publish.html?stream=live/pcma`, async (page) => {
      await pageWaitFor(page, 'the preview', `document.getElementById('preview').videoWidth > 0`);
      await page.click('#start');
      await pageWaitFor(page, 'the error line', `!document.getElementById('publish-error').hidden`);
      const text = await page.textContent('#publish-error');
      expect(text).toMatch(/the gateway refused the publish \(\d{3} SG_ERR_[A-Z_]+\): \S/);
      expect(await page.isDisabled('#start')).toBe(false);
    });
  });
});

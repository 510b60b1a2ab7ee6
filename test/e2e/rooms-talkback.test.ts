/**
 * Talkback between two Chromium pages of one room (rooms.publish: granted): the host gives alice
 * the floor from the participant list; alice goes live with her (fake) camera and microphone
 * over WHIP; the host's room view plays her over WHEP, hears her (audio energy measured in the
 * page's WebAudio graph) and sees her (changing, non-uniform pixels); the host takes the floor
 * back and alice's publish is cut. Needs `npm run build:player` first (npm test builds).
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { FAKE_MEDIA_ARGS, hasChromium, launchChromium, pageLog, pageWaitFor, snapshotVideo } from '../helpers/browser.js';

const enabled = hasChromium();
const ROOM = 'room/77';
const TILE_VIDEO = `#wall .tile[data-path="${ROOM}/alice"] video`;

/** Largest RMS (0..1) of `selector`'s audio over `ms`, read through an AnalyserNode. */
function audioEnergy(page: Page, selector: string, ms: number): Promise<number> {
  return page.evaluate(
    async ({ selector, ms }) => {
      const v = document.querySelector(selector) as HTMLVideoElement | null;
      if (!v) return -1;
      const ctx = new AudioContext();
      await ctx.resume();
      const source = v.srcObject instanceof MediaStream ? ctx.createMediaStreamSource(v.srcObject) : ctx.createMediaElementSource(v);
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 2048;
      source.connect(analyser);
      const buf = new Float32Array(analyser.fftSize);
      let max = 0;
      const end = performance.now() + ms;
      while (performance.now() < end) {
        analyser.getFloatTimeDomainData(buf);
        let sum = 0;
        for (const x of buf) sum += x * x;
        max = Math.max(max, Math.sqrt(sum / buf.length));
        await new Promise((r) => setTimeout(r, 50));
      }
      await ctx.close();
      return max;
    },
    { selector, ms },
  );
}

describe.skipIf(!enabled)('room talkback in Chromium (give the floor, hear and see, take it back)', () => {
  let gw: TestGateway;
  let browser: Browser;
  let host: Page;
  let alice: Page;
  const logs: string[][] = [];

  beforeAll(async () => {
    gw = await startGateway({ rooms: { hostNames: ['ops'], publish: 'granted' } });
    browser = await launchChromium(FAKE_MEDIA_ARGS);
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
  });

  test('the host grants alice the floor, hears and sees her over WHEP, and cutting her off ends her publish', async () => {
    try {
      host = await browser.newPage({ viewport: { width: 1100, height: 600 } });
      alice = await browser.newPage({ viewport: { width: 1100, height: 600 } });
      logs.push(pageLog(host), pageLog(alice));
      await host.goto(`${gw.http}/player/room.html?room=${ROOM}&name=ops&transport=webrtc`);
      await alice.goto(`${gw.http}/player/room.html?room=${ROOM}&name=alice&transport=webrtc`);
      await pageWaitFor(alice, 'alice joined', `document.querySelector('.sgc')?.dataset.state === 'joined'`);
      // No floor yet: the button is there but disabled, and says why.
      await pageWaitFor(alice, 'the Go live button', `!document.getElementById('go-live').hidden`);
      expect(await alice.locator('#go-live').isDisabled()).toBe(true);
      expect(await alice.locator('#live-state').textContent()).toContain('ask a host');

      await host.locator('.sgc-people li', { hasText: 'alice' }).locator('.sgc-act-floor').click();
      await pageWaitFor(alice, 'the floor', `!document.getElementById('go-live').disabled`);
      await alice.locator('#go-live').click();
      await pageWaitFor(alice, 'alice live', `document.getElementById('live-state').textContent === 'live'`, 20_000);
      await waitFor('alice published', () => gw.gw.registry.get(`${ROOM}/alice`)?.ready, 15_000);
      // Presence: the host's list marks her live.
      await pageWaitFor(host, 'live badge', `[...document.querySelectorAll('.sgc-people li')].some((li) => li.textContent.includes('alice') && li.querySelector('.sgc-live'))`);

      // The host's room view plays her tile (WHEP: H.264 + Opus as she sent them).
      await pageWaitFor(host, 'her tile playing', `(() => { const v = document.querySelector(${JSON.stringify(TILE_VIDEO)}); return v && v.videoWidth > 0 && v.currentTime > 0.5; })()`, 25_000);
      const a = await snapshotVideo(host, TILE_VIDEO);
      await host.waitForTimeout(1000);
      const b = await snapshotVideo(host, TILE_VIDEO);
      expect(b.currentTime).toBeGreaterThan(a.currentTime);
      expect(b.lumaStdDev).toBeGreaterThan(5);
      expect(b.fingerprint).not.toBe(a.fingerprint);
      // Chromium's fake microphone beeps: energy in the host page's WebAudio graph (silence is ~0).
      const energy = await audioEnergy(host, TILE_VIDEO, 3000);
      console.log(`talkback: audio RMS heard by the host ${energy.toFixed(3)}, picture luma std-dev ${b.lumaStdDev.toFixed(1)}`);
      expect(energy, 'audio RMS heard by the host').toBeGreaterThan(0.01);

      await host.locator('.sgc-people li', { hasText: 'alice' }).locator('.sgc-act-floor').click();
      await pageWaitFor(alice, 'floor taken back', `document.getElementById('live-state').textContent.includes('took the floor back')`, 10_000);
      expect(await alice.locator('#go-live').isDisabled()).toBe(true);
      await waitFor('her stream cut', () => !gw.gw.registry.get(`${ROOM}/alice`)?.publisher, 10_000);
    } catch (error) {
      for (const l of logs) if (l.length) console.error(l.join('\n'));
      throw error;
    }
  }, 90_000);
});

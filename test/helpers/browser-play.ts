/**
 * "It plays" checks shared by the e2e files: currentTime advances, the picture is neither
 * uniform nor frozen. Built on snapshotVideo() from browser.ts.
 */
import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { pageWaitFor, snapshotVideo, type VideoSnapshot } from './browser.js';

/**
 * A snapshot showing a picture: polls because right after a seek (latency controller, hls.js
 * live-edge jump) the element may briefly have no decoded frame to draw.
 */
export async function picture(page: Page, selector = 'video', timeoutMs = 5000): Promise<VideoSnapshot> {
  let last: VideoSnapshot | undefined;
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    last = await snapshotVideo(page, selector);
    if (last && last.readyState >= 2 && last.lumaStdDev > 10) return last;
    await page.waitForTimeout(100);
  }
  throw new Error(`the video shows a uniform picture (luma std dev ${last?.lumaStdDev}, readyState ${last?.readyState})`);
}

/** currentTime advances every second for `seconds` and the picture is real and changing. */
export async function expectPlaying(page: Page, selector = 'video', seconds = 4, startTimeoutMs = 15_000): Promise<VideoSnapshot> {
  await pageWaitFor(page, 'the video to advance', `(() => { const v = document.querySelector(${JSON.stringify(selector)}); return v && v.currentTime > 0.2 && v.videoWidth > 0; })()`, startTimeoutMs);
  const first = await picture(page, selector);
  const times = [first.currentTime];
  for (let i = 0; i < seconds; i++) {
    await page.waitForTimeout(1000);
    times.push((await snapshotVideo(page, selector)).currentTime);
  }
  for (let i = 1; i < times.length; i++) expect(times[i], `currentTime advances (second ${i}: ${times.join(', ')})`).toBeGreaterThan(times[i - 1]!);
  expect(times[seconds]! - times[0]!).toBeGreaterThan(seconds * 0.6);
  const last = await picture(page, selector);
  expect(last.paused).toBe(false);
  expect(last.fingerprint, `picture changes over ${seconds} s`).not.toBe(first.fingerprint);
  return last;
}

/** A blank page on the gateway's origin (so segment requests are same-origin) with a <video id="v">. */
export async function blankVideoPage(page: Page, origin: string, name: string, width = 640, height = 360): Promise<void> {
  const url = `${origin}/e2e-blank/${name}.html`;
  await page.route(url, (route) =>
    route.fulfill({ contentType: 'text/html', body: `<!doctype html><html><body style="margin:0;background:#000"><video id="v" muted autoplay playsinline style="width:${width}px;height:${height}px"></video></body></html>` }),
  );
  await page.goto(url);
}

/**
 * Loads stock hls.js (node_modules/hls.js/dist/hls.min.js, the same package the player bundles as
 * its lazy HLS chunk) into the page and plays `url` in <video id="v"> with `config` merged over
 * hls.js's defaults. Fatal errors are collected in window.hlsErrors; the instance is window.hls.
 */
export async function playWithHlsJs(page: Page, url: string, config: Record<string, unknown> = {}): Promise<void> {
  const { readFileSync } = await import('node:fs');
  const { resolve } = await import('node:path');
  await page.addScriptTag({ content: readFileSync(resolve(process.cwd(), 'node_modules/hls.js/dist/hls.min.js'), 'utf8') });
  await page.evaluate(`(() => {
    if (!Hls.isSupported()) throw new Error('hls.js: MSE is not supported here');
    const hls = new Hls(${JSON.stringify(config)});
    window.hls = hls;
    window.hlsErrors = [];
    hls.on(Hls.Events.ERROR, (_e, d) => { if (d.fatal) window.hlsErrors.push(d.type + ' ' + d.details); });
    hls.loadSource(${JSON.stringify(url)});
    hls.attachMedia(document.getElementById('v'));
    hls.on(Hls.Events.MANIFEST_PARSED, () => document.getElementById('v').play().catch(() => {}));
  })()`);
}

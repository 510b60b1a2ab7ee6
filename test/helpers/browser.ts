/**
 * Browser-side test helpers: Debian's Chromium through playwright-core, the wall-clock bar code
 * (ffmpeg draws the capture time into the picture, the page decodes it from a canvas), and
 * pixel checks on <video> elements.
 *
 * Code that runs in the page is kept as plain JavaScript strings: functions passed to
 * page.evaluate would be serialized after the test transform, which may inject helpers that do
 * not exist in the page.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let warned = false;
/** True when Chromium is installed; says so loudly (once) when it is not. */
export function hasChromium(): boolean {
  const ok = existsSync(CHROMIUM_PATH);
  if (!ok && !warned) {
    warned = true;
    process.stderr.write(
      `\n*** SKIPPING the browser (e2e) tests: ${CHROMIUM_PATH} is missing. Install it with 'apt-get install -y chromium' (.ci/run does). ***\n\n`,
    );
  }
  return ok;
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

/** Chromium's fake camera (a moving pattern with a frame counter) and microphone (a beep), granted without a prompt. */
export const FAKE_MEDIA_ARGS = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];

export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, ...extraArgs], headless: true, timeout: 30_000 });
}

/** Saves a screenshot under test/e2e/screenshots/ (git-ignored) for a person to look at. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const dir = resolve(process.cwd(), 'test', 'e2e', 'screenshots');
  mkdirSync(dir, { recursive: true });
  const path = resolve(dir, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** Collects the page's console errors and uncaught exceptions (printed when a test fails). */
export function pageLog(page: Page): string[] {
  const lines: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') lines.push(`[${m.type()}] ${m.text()}`);
  });
  page.on('pageerror', (e) => lines.push(`[pageerror] ${e.message}`));
  return lines;
}

/**
 * Opens a page, runs `fn` on it and closes it. When `fn` throws, the page's console errors are
 * printed first: the part of a failed browser test that the assertion does not say.
 */
export async function withPage<T>(
  browser: Browser,
  viewport: { width: number; height: number },
  fn: (page: Page, log: string[]) => Promise<T>,
): Promise<T> {
  const page = await browser.newPage({ viewport });
  const log = pageLog(page);
  try {
    return await fn(page, log);
  } catch (error) {
    console.error(log.join('\n'));
    throw error;
  } finally {
    await page.close();
  }
}

/* ------------------------------------------------------------------------------------------ */
/* The wall-clock bar code                                                                     */
/* ------------------------------------------------------------------------------------------ */

/**
 * Layout of the bar code: BITS cells of CELL px in a row from (X0, Y0), bit i = 1 when cell i of
 * the first row is white; the second row holds the inverted bits, so a frame decodes only when
 * every pair disagrees (a damaged or half-updated picture is rejected, not misread).
 * The value is the capture time in Unix ms modulo 2^BITS (about 4.6 hours of range).
 */
export const BARCODE = { bits: 24, cell: 20, x0: 8, y0: 8 } as const;

/**
 * An ffmpeg -vf chain that burns the wall clock into each frame: the frame's timestamp is set to
 * the real-time clock (setpts RTCTIME, in AV_TIME_BASE microseconds: the same gettimeofday clock
 * as the browser's Date.now()), one drawbox per cell is enabled by the bit of floor(t * 1000),
 * and the timestamps are rebased to 0 again for the encoder.
 */
export function clockBarcodeFilter(): string {
  const { bits, cell, x0, y0 } = BARCODE;
  const parts = ['settb=AVTB', 'setpts=RTCTIME', `drawbox=x=${x0 - 4}:y=${y0 - 4}:w=${bits * cell + 8}:h=${2 * cell + 8}:color=black:t=fill`];
  for (let i = 0; i < bits; i++) {
    const bit = `bitand(floor(t*1000)\\,${2 ** i})`;
    parts.push(`drawbox=x=${x0 + i * cell}:y=${y0}:w=${cell}:h=${cell}:color=white:t=fill:enable='gt(${bit}\\,0)'`);
    parts.push(`drawbox=x=${x0 + i * cell}:y=${y0 + cell}:w=${cell}:h=${cell}:color=white:t=fill:enable='eq(${bit}\\,0)'`);
  }
  parts.push('setpts=PTS-STARTPTS');
  return parts.join(',');
}

export interface ProbeSample {
  /** Date.now() when the frame was handed to the compositor. */
  at: number;
  /** Glass-to-glass latency from the bar code: now - capture time. */
  g2g: number;
  /** Same, taken at the frame's expected display time instead of the callback time. */
  g2gDisplay: number;
  /** The player's overlay value at that moment (data-latency-ms), if any. */
  overlay: number | null;
}

export interface ProbeState {
  samples: ProbeSample[];
  decodeErrors: number;
  frames: number;
  /** performance.now() (ms since navigation start) of the first frame's expected display time. */
  firstFrameAt: number | null;
}

/**
 * Installs (before any page script runs) a requestVideoFrameCallback loop on the first <video>
 * that decodes the bar code of every presented frame into window.__sgProbe.
 */
export async function installBarcodeProbe(page: Page): Promise<void> {
  const { bits, cell, x0, y0 } = BARCODE;
  await page.addInitScript(`(() => {
    const BITS = ${bits}, CELL = ${cell}, X0 = ${x0}, Y0 = ${y0}, MOD = 2 ** BITS;
    const probe = { samples: [], decodeErrors: 0, frames: 0, firstFrameAt: null };
    window.__sgProbe = probe;
    let canvas, ctx;
    function attach(video) {
      canvas = document.createElement('canvas');
      canvas.width = X0 + BITS * CELL;
      canvas.height = Y0 + 2 * CELL;
      ctx = canvas.getContext('2d', { willReadFrequently: true });
      const onFrame = (now, meta) => {
        const nowMs = Date.now();
        probe.frames++;
        if (probe.firstFrameAt === null) probe.firstFrameAt = meta.expectedDisplayTime;
        ctx.drawImage(video, 0, 0, canvas.width, canvas.height, 0, 0, canvas.width, canvas.height);
        const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        let code = 0, ok = true;
        for (let i = 0; i < BITS && ok; i++) {
          const x = X0 + i * CELL + CELL / 2;
          const a = px[((Y0 + CELL / 2) * canvas.width + x) * 4 + 1];
          const b = px[((Y0 + CELL + CELL / 2) * canvas.width + x) * 4 + 1];
          if ((a > 128) === (b > 128)) ok = false;
          else if (a > 128) code += 2 ** i;
        }
        if (ok) {
          const display = performance.timeOrigin + meta.expectedDisplayTime;
          const ov = document.querySelector('.sgp-overlay');
          const o = ov && ov.dataset.latencyMs !== undefined ? Number(ov.dataset.latencyMs) : null;
          probe.samples.push({
            at: nowMs,
            g2g: (((nowMs % MOD) - code) % MOD + MOD) % MOD,
            g2gDisplay: (((Math.round(display) % MOD) - code) % MOD + MOD) % MOD,
            overlay: o,
          });
        } else {
          probe.decodeErrors++;
        }
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    }
    const find = () => {
      if (probe.attached) return true;
      const v = document.querySelector('video');
      if (v) { probe.attached = true; attach(v); return true; }
      return false;
    };
    if (!find()) {
      const mo = new MutationObserver(() => { if (find()) mo.disconnect(); });
      document.addEventListener('DOMContentLoaded', () => { if (find()) mo.disconnect(); });
      mo.observe(document, { childList: true, subtree: true });
    }
  })();`);
}

export function readProbe(page: Page): Promise<ProbeState> {
  return page.evaluate('window.__sgProbe') as Promise<ProbeState>;
}

export { median, percentile } from './stats.js';

/* ------------------------------------------------------------------------------------------ */
/* Video checks                                                                                */
/* ------------------------------------------------------------------------------------------ */

export interface VideoSnapshot {
  currentTime: number;
  readyState: number;
  paused: boolean;
  width: number;
  height: number;
  /** Standard deviation of the luma of a 64x36 downscale: ~0 for a uniform (black) picture. */
  lumaStdDev: number;
  /**
   * A hash of the whole 64x36 downscale (luma at 6 bits): a frozen picture keeps it, any change
   * of the picture (a moving clock, a frame counter) changes it.
   */
  fingerprint: string;
}

/** currentTime and picture statistics of the `index`-th <video> matching `selector`. */
export function snapshotVideo(page: Page, selector = 'video', index = 0): Promise<VideoSnapshot> {
  return page.evaluate(`(() => {
    const v = document.querySelectorAll(${JSON.stringify(selector)})[${index}];
    if (!v) return null;
    const c = document.createElement('canvas');
    c.width = 64; c.height = 36;
    const ctx = c.getContext('2d', { willReadFrequently: true });
    let std = 0, fp = '', h = 0x811c9dc5;
    if (v.videoWidth > 0) {
      ctx.drawImage(v, 0, 0, 64, 36);
      const d = ctx.getImageData(0, 0, 64, 36).data;
      let sum = 0, sum2 = 0, n = 0;
      for (let i = 0; i < d.length; i += 4) {
        const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
        sum += y; sum2 += y * y; n++;
        h = Math.imul(h ^ (y >> 2), 16777619) >>> 0;
      }
      fp = h.toString(16);
      std = Math.sqrt(Math.max(0, sum2 / n - (sum / n) ** 2));
    }
    return { currentTime: v.currentTime, readyState: v.readyState, paused: v.paused, width: v.videoWidth, height: v.videoHeight, lumaStdDev: std, fingerprint: fp };
  })()`) as Promise<VideoSnapshot>;
}

/** Waits until `fn` (evaluated in the page) is truthy; returns its value. */
export async function pageWaitFor<T>(page: Page, what: string, expression: string, timeoutMs = 15_000): Promise<T> {
  try {
    const handle = await page.waitForFunction(expression, undefined, { timeout: timeoutMs, polling: 100 });
    return (await handle.jsonValue()) as T;
  } catch (error) {
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${expression}): ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
  }
}

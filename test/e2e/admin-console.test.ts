/**
 * The admin console's sources, recordings and transcode sections in Debian's Chromium, against a
 * real gateway (recordings in a temp dataDir) with one ffmpeg RTMP publisher. Needs
 * `npm run build:player` first (npm test builds).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { publish, type Publisher } from '../helpers/ffmpeg.js';
import { readFlv } from '../helpers/flv-client.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { hasChromium, launchChromium, pageLog, pageWaitFor, screenshot } from '../helpers/browser.js';
import { hasTool } from '../helpers/tools.js';

const enabled = hasChromium() && hasTool('ffmpeg');
const PATH = 'rec/cam1';

describe.skipIf(!enabled)('admin console: sources, recordings, transcode jobs', () => {
  let gw: TestGateway;
  let browser: Browser;
  let page: Page;
  let log: string[];
  let publisher: Publisher;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'streamgate-admin-'));
    gw = await startGateway({ dataDir, record: { segment: '10s' }, transcode: { idleCloseMs: 1000 } });
    publisher = publish(`${gw.rtmp}/${PATH}`, { size: '320x240', fps: 25, audio: 'aac', duration: 90 });
    browser = await launchChromium();
    await waitFor('the stream published', async () => (await fetch(`${gw.http}/api/v1/streams/${PATH}`)).ok, 15_000);
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    log = pageLog(page);
    await page.goto(`${gw.http}/player/admin.html?refresh=500`);
    await pageWaitFor(page, 'the stream row', `document.querySelector('#streams tr[data-path="${PATH}"]') !== null`);
  });

  afterAll(async () => {
    await publisher?.stop();
    await browser?.close();
    await gw?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const withLog = async (fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (error) {
      console.error(log.join('\n'));
      throw error;
    }
  };

  test('the RTMP and RTSP play URLs carry the ports from /api/v1/server', () =>
    withLog(async () => {
      await page.locator(`#streams tr[data-path="${PATH}"] button.urls-toggle`).click();
      const input = (kind: string) => page.locator(`#streams tr[data-path="${PATH}"] + tr.urls input[data-kind="${kind}"]`);
      expect(await input('rtmp').inputValue()).toBe(`${gw.rtmp}/${PATH}`);
      expect(await input('rtsp').inputValue()).toBe(`${gw.rtsp}/${PATH}`);
      await page.locator(`#streams tr[data-path="${PATH}"] button.urls-toggle`).click();
    }));

  test('a recording started and stopped with the buttons is listed and plays inline', () =>
    withLog(async () => {
      const record = page.locator(`#streams tr[data-path="${PATH}"] button.record`);
      expect(await record.textContent()).toBe('Record');
      await record.click();
      await pageWaitFor(page, 'recording', `document.querySelector('#streams tr[data-path="${PATH}"] button.record').dataset.recording === 'recording'`, 10_000);
      expect(await record.textContent()).toBe('Stop recording');
      await pageWaitFor(page, 'the file listed while it is written', `document.querySelector('#recordings tr[data-path="${PATH}"][data-recording="true"]') !== null`, 10_000);
      await page.waitForTimeout(3000);
      await record.click();
      await pageWaitFor(page, 'the button back to Record', `document.querySelector('#streams tr[data-path="${PATH}"] button.record').dataset.recording === 'idle'`, 10_000);
      const row = page.locator(`#recordings tr[data-path="${PATH}"][data-recording="false"]`);
      await pageWaitFor(page, 'the finished file listed', `document.querySelector('#recordings tr[data-path="${PATH}"][data-recording="false"]') !== null`, 10_000);
      expect(await row.count()).toBe(1);
      expect(await row.locator('td.codecs').textContent()).toMatch(/^avc1\.\w+, mp4a\.40\.2$/);
      expect(await row.locator('td.status').textContent()).toBe('complete');

      const href = await row.locator('a.download').getAttribute('href');
      expect(href).toMatch(new RegExp(`^${gw.http}/api/v1/recordings/rec/cam1/.+\\.mp4$`));
      const file = await fetch(href!);
      expect(file.headers.get('content-type')).toBe('video/mp4');
      expect((await file.arrayBuffer()).byteLength).toBeGreaterThan(10_000);

      await row.locator('button.play').click();
      expect(await page.locator('#recordings-section .viewer').isVisible()).toBe(true);
      await pageWaitFor(page, 'the recording to play', `(() => { const v = document.querySelector('#recordings-section video'); return v.readyState >= 2 && v.currentTime > 0.5; })()`, 10_000);
      const t0 = (await page.evaluate(`document.querySelector('#recordings-section video').currentTime`)) as number;
      await page.waitForTimeout(1000);
      const t1 = (await page.evaluate(`document.querySelector('#recordings-section video').currentTime`)) as number;
      expect(t1, 'the inline video advances').toBeGreaterThan(t0 + 0.3);
      expect(await page.evaluate(`document.querySelector('#recordings-section video').videoWidth`)).toBe(320);
      await page.locator('#recordings-section .viewer').scrollIntoViewIfNeeded();
      await screenshot(page, 'admin-recording');
      await page.locator('#recordings-section .viewer button.close').click();
      expect(await page.locator('#recordings-section .viewer').isHidden()).toBe(true);

      // The path filter: another path lists nothing.
      await page.locator('#recordings-section form.filter input[name=path]').fill('rec/none');
      await page.locator('#recordings-section form.filter button[type=submit]').click();
      await pageWaitFor(page, 'an empty filtered list', `document.querySelectorAll('#recordings tr').length === 0 && document.getElementById('recordings-section').classList.contains('is-empty')`);
      await page.locator('#recordings-section form.filter input[name=path]').fill('');
      await page.locator('#recordings-section form.filter button[type=submit]').click();
      await pageWaitFor(page, 'the file back', `document.querySelectorAll('#recordings tr[data-path="${PATH}"]').length === 1`);
    }));

  test('a source added with the form shows its state and error, and can be removed', () =>
    withLog(async () => {
      const section = page.locator('#sources-section');
      expect(await section.isVisible()).toBe(true);
      const form = section.locator('form');
      const fill = async (path: string, url: string) => {
        await form.locator('input[name=path]').fill(path);
        await form.locator('input[name=url]').fill(url);
        await form.locator('input[name=onDemand]').setChecked(false);
        await form.locator('button[type=submit]').click();
      };
      await fill('cams/gone', 'rtsp://admin:secret@127.0.0.1:9/none');
      const row = section.locator('tr[data-path="cams/gone"]');
      await pageWaitFor(page, 'the source retrying with an error', `(() => { const r = document.querySelector('#sources tr[data-path="cams/gone"]'); return r && r.dataset.state === 'retrying' && r.querySelector('td.last-error').textContent !== ''; })()`, 15_000);
      expect(await row.locator('td.url').textContent()).not.toContain('secret');
      expect(await row.locator('td.on-demand').textContent()).toBe('always');
      await screenshot(page, 'admin-sources');

      // The API's errors are shown: the same path again, then a path the gateway refuses.
      await fill('cams/gone', 'rtsp://127.0.0.1:9/other');
      await pageWaitFor(page, 'the busy error', `/SG_ERR_PATH_BUSY/.test(document.querySelector('#sources-section .error').textContent)`);
      await fill('bad path', 'rtsp://127.0.0.1:9/none');
      await pageWaitFor(page, 'the path error', `/\\(SG_ERR_INVALID_PATH\\)$/.test(document.querySelector('#sources-section .error').textContent)`);
      expect(await section.locator('.error').isVisible()).toBe(true);

      const remove = row.locator('button.remove');
      await remove.click();
      expect(await remove.textContent()).toBe('Confirm remove');
      await remove.click();
      await pageWaitFor(page, 'the row to go', `document.querySelector('#sources tr[data-path="cams/gone"]') === null`);
      expect((await fetch(`${gw.http}/api/v1/sources/cams/gone`)).status).toBe(404);
    }));

  test('transcode jobs are listed with their state and stderr, and the section hides on 404', () =>
    withLog(async () => {
      const section = page.locator('#renditions-section');
      expect(await section.isVisible()).toBe(true);
      const reader = readFlv(`${gw.http}/${PATH}_360p.flv`);
      try {
        await pageWaitFor(page, 'a running job', `document.querySelector('#renditions tr.job[data-path="${PATH}_360p"]')?.dataset.state === 'running'`, 20_000);
        const job = section.locator(`tr.job[data-path="${PATH}_360p"]`);
        expect(await job.locator('td.profile').textContent()).toBe('360p');
        expect(await job.locator('td.source').textContent()).toBe(PATH);
        expect(await job.locator('td.restarts').textContent()).toBe('0');
        await pageWaitFor(page, 'ffmpeg stderr lines', `/libx264/.test(document.querySelector('#renditions tr.job-log[data-for="${PATH}_360p"] pre').textContent)`);
      } finally {
        reader.close();
      }
      await pageWaitFor(page, 'the idle job to go', `document.querySelector('#renditions tr.job') === null`, 15_000);

      // A gateway without the route: the section hides itself.
      const old = await browser.newPage();
      await old.route('**/api/v1/renditions', (route) => route.fulfill({ status: 404, contentType: 'application/json', body: '{"error":{"code":"SG_ERR_NOT_FOUND","message":"no route"}}' }));
      await old.goto(`${gw.http}/player/admin.html?refresh=500`);
      await pageWaitFor(old, 'the stream row', `document.querySelector('#streams tr[data-path="${PATH}"]') !== null`);
      await old.waitForTimeout(600);
      expect(await old.locator('#renditions-section').isHidden()).toBe(true);
      expect(await old.locator('#recordings-section').isVisible()).toBe(true);
      await old.close();
    }));
});

/**
 * The API and the admin console answer for the whole box with cluster.workers: 2: the built
 * gateway as a child process, one ffmpeg publisher, HTTP-FLV readers spread over both workers.
 * Every request goes on a connection of its own, so node:cluster's round-robin hands them to
 * alternating workers (`x-streamgate-worker` says which one answered).
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium, pageLog, pageWaitFor } from '../helpers/browser.js';
import { publish, type Publisher } from '../helpers/ffmpeg.js';
import { isKeyframeTag, readFlv, videoTags, type FlvCapture } from '../helpers/flv-client.js';
import { collectJsonLines, waitFor } from '../helpers/gateway.js';
import { hasTool } from '../helpers/tools.js';

interface Answer {
  status: number;
  worker: string;
  body: any;
}

/** One request on a fresh connection (no keep-alive: the next one may reach the other worker). */
function call(method: string, url: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, worker: String(res.headers['x-streamgate-worker']), body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Asks until both workers answered (at most `tries` times); every answer is returned. */
async function fromBothWorkers(method: string, url: string, tries = 8): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (let i = 0; i < tries && new Set(answers.map((a) => a.worker)).size < 2; i++) answers.push(await call(method, url));
  expect(new Set(answers.map((a) => a.worker))).toEqual(new Set(['0', '1']));
  return answers;
}

describe.skipIf(!hasTool('ffmpeg'))('whole-node API with cluster.workers: 2', () => {
  let child: ChildProcessByStdio<null, Readable, Readable>;
  const lines: Record<string, any>[] = [];
  const pubs: Publisher[] = [];
  const readers: FlvCapture[] = [];
  let http = '';
  let rtmp = '';

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-whole-node-'));
    const file = join(dir, 'workers.yaml');
    writeFileSync(file, `bind: 127.0.0.1\ndataDir: ${dir}\nlog:\n  level: info\n  format: json\nhttp:\n  port: 0\nrtmp:\n  port: 0\nrtsp:\n  enabled: false\nsrt:\n  enabled: false\nwebrtc:\n  udpPort: 0\ncluster:\n  workers: 2\n`);
    child = spawn(process.execPath, ['dist/gateway/main.js', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    collectJsonLines(child.stdout, lines);
    await waitFor('two workers listening', () => ['http', 'http-private', 'rtmp'].every((name) => lines.filter((l) => l.listener === name).length === 2), 20_000);
    http = `http://127.0.0.1:${lines.find((l) => l.listener === 'http')!.port}`;
    rtmp = `rtmp://127.0.0.1:${lines.find((l) => l.listener === 'rtmp')!.port}`;
    pubs.push(publish(`${rtmp}/live/cam1`, { size: '160x120', fps: 25, audio: 'none' }));
    await waitFor('live/cam1 ready', async () => (await call('GET', `${http}/api/v1/streams/live/cam1`)).body?.ready, 15_000);
    for (let i = 0; i < 4; i++) readers.push(readFlv(`${http}/live/cam1.flv`));
    await waitFor('keyframes on every reader', () => readers.every((r) => videoTags(r.tags).some(isKeyframeTag)), 15_000);
  }, 40_000);

  afterAll(async () => {
    for (const r of readers) r.close();
    for (const p of pubs) await p.stop();
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('GET /api/v1/streams/{path} shows the publisher and the readers of both workers, whichever worker answers', async () => {
    for (const answer of await fromBothWorkers('GET', `${http}/api/v1/streams/live/cam1`)) {
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ path: 'live/cam1', publisher: { protocol: 'rtmp' }, readers: { count: 4, flv: 4 } });
      expect(answer.body.workers).toHaveLength(2);
      // Each worker's own readers; the loopback relay pull is not a reader of the box.
      const workers = new Set((answer.body.readerList as { worker: number }[]).map((r) => r.worker));
      expect(workers).toEqual(new Set([0, 1]));
      expect(answer.body.readerList).toHaveLength(4);
      expect(answer.body.readerList.some((r: { relay?: boolean }) => r.relay)).toBe(false);
    }
  });

  it('lists (WebRTC sessions, renditions, sources, recordings) are the same whichever worker answers', async () => {
    for (const url of ['/api/v1/webrtc/sessions', '/api/v1/renditions', '/api/v1/sources', '/api/v1/recordings']) {
      const answers = await fromBothWorkers('GET', `${http}${url}`);
      for (const a of answers) expect(a.status, url).toBe(200);
      expect(new Set(answers.map((a) => JSON.stringify(a.body))).size, url).toBe(1);
    }
    expect((await call('GET', `${http}/api/v1/webrtc/sessions`)).body).toMatchObject({ enabled: true, sessions: [] });
  });

  it('recording control of a path is answered by the worker that publishes it', async () => {
    const answers = await fromBothWorkers('GET', `${http}/api/v1/streams/live/cam1/record`);
    for (const a of answers) expect(a.status).toBe(200);
    expect(new Set(answers.map((a) => JSON.stringify(a.body))).size).toBe(1);
  });

  it('DELETE /api/v1/streams/{path} kicks the publisher whichever worker got the request', async () => {
    const kickedBy = new Set<string>();
    for (let i = 0; i < 6 && kickedBy.size < 2; i++) {
      const path = `live/kick${i}`;
      const pub = publish(`${rtmp}/${path}`, { size: '160x120', fps: 25, audio: 'none' });
      pubs.push(pub);
      await waitFor(`${path} ready`, async () => (await call('GET', `${http}/api/v1/streams/${path}`)).body?.ready, 15_000);
      // Round-robin alternates: once the other worker answered, the next connection reaches the one not tried yet.
      const wanted = kickedBy.has('0') ? '1' : '0';
      for (let j = 0; j < 4 && (await call('GET', `${http}/healthz`)).worker === wanted; j++);
      const answer = await call('DELETE', `${http}/api/v1/streams/${path}`);
      expect(answer.status).toBe(204);
      kickedBy.add(answer.worker);
      expect(await pub.exited).not.toBe(0);
      expect((await call('GET', `${http}/api/v1/streams/${path}`)).status).toBe(404);
    }
    expect(kickedBy).toEqual(new Set(['0', '1']));
  }, 60_000);

  it.skipIf(!hasChromium())('the admin console lists the stream with the readers of both workers and kicks it (Chromium)', async () => {
    let browser: Browser | undefined;
    try {
      browser = await launchChromium();
      const page = await browser.newPage();
      const log = pageLog(page);
      await page.goto(`${http}/player/admin.html?refresh=500`);
      try {
        await pageWaitFor(page, 'the live/cam1 row', `document.querySelector('#streams tr[data-path="live/cam1"]') !== null`);
        const readersCell = page.locator('#streams tr[data-path="live/cam1"] td.readers');
        await pageWaitFor(page, 'four readers', `document.querySelector('#streams tr[data-path="live/cam1"] td.readers')?.textContent?.startsWith('4')`);
        expect(await readersCell.textContent()).toBe('4 (flv 4)');
        // Kick from the console: the publisher is ended on its worker, whichever worker the page talks to.
        const kick = page.locator('#streams tr[data-path="live/cam1"] button.kick');
        await kick.click();
        await kick.click();
        await pageWaitFor(page, 'the row gone', `document.querySelector('#streams tr[data-path="live/cam1"]') === null`);
        expect(await pubs[0]!.exited).not.toBe(0);
      } catch (error) {
        console.error(log.join('\n'));
        throw error;
      }
    } finally {
      await browser?.close();
    }
  }, 30_000);
});

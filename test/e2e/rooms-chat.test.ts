/**
 * Rooms in the player: the chat panel beside the player, the wall and the room view, driven in
 * Debian's Chromium against a real gateway (two small ffmpeg publishers under room/42 for the
 * room view's grid). Needs `npm run build:player` first (npm test builds).
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { publish, type Publisher } from '../helpers/ffmpeg.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { hasChromium, launchChromium, pageLog, pageWaitFor, screenshot } from '../helpers/browser.js';
import { hasTool } from '../helpers/tools.js';

const enabled = hasChromium() && hasTool('ffmpeg');
const ROOM = 'room/42';
const HTML_MESSAGE = '<img src=x onerror="window.__xss=1"><b>bold</b> & <script>window.__xss=2</script>';

describe.skipIf(!enabled)('rooms in the player (Chromium)', () => {
  let gw: TestGateway;
  let browser: Browser;
  const publishers: Publisher[] = [];
  const pages: Page[] = [];
  const logs = new Map<Page, string[]>();
  let host: Page;
  let alice: Page;

  async function open(url: string, width = 1100): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 600 } });
    pages.push(page);
    logs.set(page, pageLog(page));
    await page.goto(url);
    return page;
  }

  /** Texts of the chat log, in the order shown. */
  const chatTexts = (page: Page): Promise<string[]> => page.locator('.sgc-log .sgc-msg .sgc-text').allTextContents();
  const joined = (page: Page, who: string): Promise<unknown> => pageWaitFor(page, `${who} joined`, `document.querySelector('.sgc')?.dataset.state === 'joined'`);
  const countIs = (page: Page, n: number, who: string): Promise<unknown> =>
    pageWaitFor(page, `${who} to see ${n} participants`, `document.querySelector('.sgc-count')?.dataset.count === '${n}' && document.querySelectorAll('.sgc-people li').length === ${n}`);

  async function send(page: Page, text: string): Promise<void> {
    await page.fill('.sgc-input', text);
    await page.press('.sgc-input', 'Enter');
  }

  function dumpLogs(): void {
    for (const [page, lines] of logs) if (lines.length) console.error(`${page.url()}\n${lines.join('\n')}`);
  }

  beforeAll(async () => {
    gw = await startGateway({
      rooms: { hostNames: ['ops'] },
      auth: { rules: [{ paths: 'secure/**', mode: 'keys', playKey: 'letmein', publishKey: 'hostkey' }] },
    });
    browser = await launchChromium();
    // Two cheap publishers (no audio, 10 fps) under the many-to-many room, for the room view's grid.
    for (const name of ['alice', 'bob']) {
      publishers.push(publish(`${gw.rtmp}/${ROOM}/${name}`, { size: '320x240', fps: 10, audio: 'none', duration: 120 }));
    }
    await waitFor('both room streams published', async () => {
      const res = (await (await fetch(`${gw.http}/api/v1/streams`)).json()) as { streams: { path: string; ready: boolean }[] };
      return res.streams.filter((s) => s.path.startsWith(`${ROOM}/`) && s.ready).length === 2;
    }, 20_000);
  });

  afterAll(async () => {
    await Promise.all(publishers.map((p) => p.stop()));
    await browser?.close();
    await gw?.stop();
  });

  test('two pages chat through the panel: each sees every message once, in order, with sender and server time; presence count 2', async () => {
    try {
      // The host view of the room (ops is a host by rooms.hostNames) and a viewer's player page.
      host = await open(`${gw.http}/player/room.html?room=${ROOM}&name=ops`);
      alice = await open(`${gw.http}/player/?stream=${ROOM}/alice&room=${ROOM}&name=alice`);
      await joined(host, 'ops');
      await joined(alice, 'alice');
      await countIs(host, 2, 'ops');
      await countIs(alice, 2, 'alice');
      expect(await host.locator('.sgc').getAttribute('data-role')).toBe('host');
      expect(await alice.locator('.sgc').getAttribute('data-role')).toBe('viewer');
      expect(await host.locator('.sgc-people li[data-role=host] .sgc-name').textContent()).toBe('ops');

      const before = Date.now();
      await send(alice, 'one');
      await send(alice, 'two');
      await pageWaitFor(host, 'ops to see two', `[...document.querySelectorAll('.sgc-msg .sgc-text')].some((e) => e.textContent === 'two')`);
      await send(host, 'three');
      await pageWaitFor(alice, 'alice to see three', `[...document.querySelectorAll('.sgc-msg .sgc-text')].some((e) => e.textContent === 'three')`);
      await send(alice, HTML_MESSAGE);
      const expected = ['one', 'two', 'three', HTML_MESSAGE];
      for (const [page, who] of [[host, 'ops'], [alice, 'alice']] as const) {
        await pageWaitFor(page, `${who} to see 4 messages`, `document.querySelectorAll('.sgc-log .sgc-msg').length >= 4`);
        await page.waitForTimeout(300); // a duplicate would arrive right behind
        expect(await chatTexts(page), `${who}'s chat log`).toEqual(expected);
        expect(await page.locator('.sgc-log .sgc-msg .sgc-from').allTextContents()).toEqual(['alice', 'alice', 'ops', 'alice']);
        // Server ids increase; server timestamps are now-ish and shown as a clock.
        const ids = (await page.locator('.sgc-log .sgc-msg').evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.id)))) as number[];
        expect([...ids].sort((a, b) => a - b)).toEqual(ids);
        expect(new Set(ids).size).toBe(4);
        const ts = (await page.locator('.sgc-log .sgc-msg time').evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.ts)))) as number[];
        for (const t of ts) expect(t).toBeGreaterThanOrEqual(before - 1000);
        expect(await page.locator('.sgc-log .sgc-msg time').first().textContent()).toMatch(/^\d\d:\d\d:\d\d$/);
        // HTML in a message is shown as text: no element was created from it, no script ran.
        expect(await page.locator('.sgc-log img, .sgc-log b, .sgc-log script').count()).toBe(0);
        expect(await page.evaluate('window.__xss')).toBeUndefined();
      }
      await screenshot(host, 'room-host');
      await screenshot(alice, 'player-chat');
    } catch (error) {
      dumpLogs();
      throw error;
    }
  });

  test('the room view shows every stream published under the room in a grid', async () => {
    try {
      await pageWaitFor(host, 'two tiles playing', `(() => { const t = [...document.querySelectorAll('.tile')]; return t.length === 2 && t.every((x) => x.dataset.state === 'playing'); })()`, 20_000);
      expect(await host.locator('.tile-name').allTextContents()).toEqual(['alice', 'bob']);
      expect(await host.locator('.tile').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.path))).toEqual([`${ROOM}/alice`, `${ROOM}/bob`]);
    } catch (error) {
      dumpLogs();
      throw error;
    }
  });

  test('raise hand from a viewer reaches the host page only', async () => {
    let bob: Page | undefined;
    try {
      // A third participant on the wall page (a viewer too): it must not see alice's hand.
      bob = await open(`${gw.http}/player/wall.html?streams=${ROOM}/bob&room=${ROOM}&name=bob`);
      await joined(bob, 'bob');
      for (const [page, who] of [[host, 'ops'], [alice, 'alice'], [bob, 'bob']] as const) await countIs(page, 3, who);
      expect(await host.locator('.sgc-raise-hand').isVisible(), 'hosts have no raise-hand button').toBe(false);
      await alice.click('.sgc-raise-hand');
      await pageWaitFor(host, 'the raised hand at the host', `document.querySelectorAll('.sgc-hand-event').length === 1`);
      expect(await host.locator('.sgc-hand-event .sgc-from').textContent()).toBe('alice');
      const aliceId = await alice.evaluate('window.streamgateChat.room.self.id');
      expect(await host.locator(`.sgc-people li[data-id="${aliceId}"] .sgc-hand`).isVisible()).toBe(true);
      // A chat message sent after the hand arrives everywhere: by then the hand would have too.
      await send(bob, 'after the hand');
      for (const page of [alice, bob, host]) {
        await pageWaitFor(page, 'the message after the hand', `[...document.querySelectorAll('.sgc-msg .sgc-text')].some((e) => e.textContent === 'after the hand')`);
      }
      expect(await alice.locator('.sgc-hand-event').count()).toBe(0);
      expect(await bob.locator('.sgc-hand-event').count()).toBe(0);
      expect(await bob.locator('.sgc-people .sgc-hand:visible').count()).toBe(0);
      // bob joined late: the history gave him the earlier chat, once each.
      expect(await chatTexts(bob)).toEqual(['one', 'two', 'three', HTML_MESSAGE, 'after the hand']);
      await screenshot(host, 'room-host-hand');
      await screenshot(bob, 'wall-chat');
      // The panel collapses and expands.
      await bob.click('.sgc-toggle');
      expect(await bob.locator('.sgc').getAttribute('data-collapsed')).toBe('true');
      expect(await bob.locator('.sgc-log').isVisible()).toBe(false);
      await bob.click('.sgc-toggle');
      expect(await bob.locator('.sgc-log').isVisible()).toBe(true);
    } catch (error) {
      dumpLogs();
      throw error;
    }
  });

  test('a refused join shows "unauthorized"; the token from the page URL reaches the room', async () => {
    try {
      for (const [query, code] of [['', '4401: no key'], ['&token=wrong', '4403: wrong key']] as const) {
        const page = await open(`${gw.http}/player/?stream=secure/cam&chat=1&name=eve${query}`);
        await pageWaitFor(page, `unauthorized (${code})`, `document.querySelector('.sgc')?.dataset.state === 'unauthorized'`);
        expect(await page.locator('.sgc-status').textContent()).toMatch(/^unauthorized/);
        expect(await page.locator('.sgc-input').isDisabled()).toBe(true);
        if (!query) await screenshot(page, 'chat-unauthorized');
        await page.close();
      }
      const ok = await open(`${gw.http}/player/?stream=secure/cam&chat=1&name=eve&token=letmein`);
      await joined(ok, 'eve with the play key');
      expect(await ok.locator('.sgc').getAttribute('data-role')).toBe('viewer');
      const boss = await open(`${gw.http}/player/?stream=secure/cam&chat=1&name=boss&token=hostkey`);
      await joined(boss, 'boss with the publish key');
      expect(await boss.locator('.sgc').getAttribute('data-role'), 'the publish key makes a host').toBe('host');
      await countIs(ok, 2, 'eve');
    } catch (error) {
      dumpLogs();
      throw error;
    }
  });
});

/**
 * WebRTC in Debian's Chromium: WHEP play of an RTMP publish (H.264 passed through, G.711 as
 * PCMA), WHIP publish of the fake camera and microphone read back over RTMP and HLS by ffprobe,
 * the session API, DELETE, and the single ICE UDP mux port shared by sessions.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { probe, publish, type Publisher } from '../helpers/ffmpeg.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { FAKE_MEDIA_ARGS, hasChromium, launchChromium, screenshot, withPage } from '../helpers/browser.js';
import { blankVideoPage, expectPlaying } from '../helpers/browser-play.js';
import { hasTool } from '../helpers/tools.js';
import { inboundStats, waitConnected, whepPlay, whipPublish } from '../helpers/webrtc.js';
import { freeUdpPort } from '../helpers/webrtc-client.js';

const enabled = hasChromium() && hasTool('ffmpeg');


describe.skipIf(!enabled)('WebRTC in Chromium', () => {
  let gw: TestGateway;
  let browser: Browser;
  let pub: Publisher;
  let muxPort: number;

  async function onPage(name: string, fn: (page: Page) => Promise<void>): Promise<void> {
    await withPage(browser, { width: 800, height: 480 }, async (page) => {
      await blankVideoPage(page, gw.http, name);
      await fn(page);
      await screenshot(page, name);
    });
  }

  async function sessions(): Promise<any[]> {
    return ((await (await fetch(`${gw.http}/api/v1/webrtc/sessions`)).json()) as { sessions: any[] }).sessions;
  }

  beforeAll(async () => {
    muxPort = await freeUdpPort();
    gw = await startGateway({ webrtc: { udpPort: muxPort } });
    browser = await launchChromium(FAKE_MEDIA_ARGS);
    pub = publish(`${gw.rtmp}/live/rtc`, { size: '640x360', audio: 'pcma', gop: 25, duration: 120 });
    await waitFor('the RTMP publish', async () => (await fetch(`${gw.http}/api/v1/streams/live/rtc`)).ok, 15_000);
  }, 60_000);

  afterAll(async () => {
    await pub?.stop();
    await browser?.close();
    await gw?.stop();
  });

  test('WHEP plays an RTMP publish: H.264 and PCMA passed through, real pixels, time advances', async () => {
    await onPage('webrtc-whep', async (page) => {
      const r = await whepPlay(page, `${gw.http}/live/rtc/whep`);
      expect(r.status, r.body).toBe(201);
      expect(r.location).toMatch(/^\/live\/rtc\/whep\/[A-Za-z0-9_-]+$/);
      expect(r.body).toMatch(/a=rtpmap:\d+ H264\/90000/);
      expect(r.body).toMatch(/a=rtpmap:8 PCMA\/8000/);
      await waitConnected(page, 'whep');
      await expectPlaying(page, '#v', 4);
      const stats = await inboundStats(page);
      expect(stats.video!.framesDecoded).toBeGreaterThan(50);
      expect(stats.audio!.packetsReceived).toBeGreaterThan(100);
      const list = await sessions();
      expect(list).toHaveLength(1);
      expect(list[0]).toMatchObject({ kind: 'whep', path: 'live/rtc', state: 'connected', video: 'H264', audio: 'PCMA' });
      expect(list[0].packetsSent).toBeGreaterThan(100);
      // The browser sends receiver reports every second or so: the round trip is known by now.
      const withRtt = await waitFor('an RTT from receiver reports', async () => (await sessions()).find((s) => s.rttMs !== null), 8000);
      expect(withRtt.rttMs).toBeLessThan(100);
      const stream = (await (await fetch(`${gw.http}/api/v1/streams/live/rtc`)).json()) as any;
      expect(stream.readers.webrtc).toBe(1);
      // DELETE on the Location ends the session and the reader.
      const del = await fetch(`${gw.http}${r.location}`, { method: 'DELETE' });
      expect(del.status).toBe(200);
      expect(await sessions()).toHaveLength(0);
      const after = (await (await fetch(`${gw.http}/api/v1/streams/live/rtc`)).json()) as any;
      expect(after.readers.webrtc ?? 0).toBe(0);
    });
  }, 60_000);

  test('the ICE candidates are the one mux port for every session', async () => {
    await onPage('webrtc-mux', async (page) => {
      const a = await whepPlay(page, `${gw.http}/live/rtc/whep`);
      expect(a.status).toBe(201);
      const ports = [...a.body.matchAll(/a=candidate:\S+ 1 UDP \d+ \S+ (\d+) typ host/gi)].map((m) => Number(m[1]));
      expect(ports.length).toBeGreaterThan(0);
      expect(new Set(ports)).toEqual(new Set([muxPort]));
      await waitConnected(page, 'whep');
      await fetch(`${gw.http}${a.location}`, { method: 'DELETE' });
    });
  }, 30_000);

  test('WHIP: Chromium publishes camera and microphone; ffprobe reads it back over RTMP and HLS, and a WHEP viewer plays it', async () => {
    await withPage(browser, { width: 800, height: 480 }, async (page) => {
      await blankVideoPage(page, gw.http, 'webrtc-whip');
      const r = await whipPublish(page, `${gw.http}/live/whip1/whip`);
      expect(r.status, r.body).toBe(201);
      expect(r.body).toMatch(/a=recvonly/);
      await waitConnected(page, 'whip');
      await waitFor('the WHIP stream to be ready', async () => {
        const res = await fetch(`${gw.http}/api/v1/streams/live/whip1`);
        return res.ok && ((await res.json()) as any).video?.codec === 'H264';
      }, 15_000);
      const info = (await (await fetch(`${gw.http}/api/v1/streams/live/whip1`)).json()) as any;
      expect(info.publisher.protocol).toBe('whip');
      expect(info.video).toMatchObject({ codec: 'H264', width: 640, height: 360 });
      expect(info.audio).toMatchObject({ codec: 'OPUS', sampleRate: 48000 });
      const rtmp = await probe(`${gw.rtmp}/live/whip1`, 3);
      const v = rtmp.streams.find((s) => s.codec_type === 'video');
      expect(v).toMatchObject({ codec_name: 'h264', width: 640, height: 360 });
      expect(rtmp.packets.filter((p) => p.codec_type === 'video').length).toBeGreaterThan(20);
      // HLS (fMP4 carries Opus as it is: ISO/IEC 23003-5).
      const hls = await probe(`${gw.http}/live/whip1/index.m3u8`, 4);
      expect(hls.streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 640, height: 360 });
      expect(hls.streams.find((s) => s.codec_type === 'audio')).toMatchObject({ codec_name: 'opus' });
      // A second page watches the WHIP stream over WHEP: browser to browser through the gateway.
      await withPage(browser, { width: 800, height: 480 }, async (viewer) => {
        await blankVideoPage(viewer, gw.http, 'webrtc-whip-whep');
        const w = await whepPlay(viewer, `${gw.http}/live/whip1/whep`);
        expect(w.status, w.body).toBe(201);
        expect(w.body).toMatch(/a=rtpmap:\d+ opus\/48000/i);
        await expectPlaying(viewer, '#v', 3);
        await screenshot(viewer, 'webrtc-whip-whep');
      });
      const whip = (await sessions()).find((s) => s.kind === 'whip');
      expect(whip).toMatchObject({ path: 'live/whip1', state: 'connected', video: 'H264', audio: 'OPUS' });
      expect(whip.packetsReceived).toBeGreaterThan(100);
      await page.evaluate(`fetch(window.whip.location, { method: 'DELETE' })`);
      await waitFor('the WHIP publisher to leave', async () => !((await fetch(`${gw.http}/api/v1/streams/live/whip1`)).ok && ((await (await fetch(`${gw.http}/api/v1/streams/live/whip1`)).json()) as any).publisher), 8000);
    });
  }, 90_000);

  test('WHIP: transport-wide congestion feedback lets the browser\'s rate control measure the path (no 300 kbps creep)', async () => {
    await withPage(browser, { width: 800, height: 480 }, async (page) => {
      await blankVideoPage(page, gw.http, 'webrtc-whip-twcc');
      // The browser's bandwidth estimate once it has probed: 1-3.3 Mbps within half a second here.
      // On loss feedback alone (webrtc.whipTransportCc: false) Chromium starts at 300 kbps and adds
      // about 8 % a second: 523 kbps after 8 s, 612 kbps after 10 s. The arrival times in our feedback
      // are taken on the gateway's event loop: when the 2 cores are shared with other suites, a stall
      // during the ~20 ms of Chromium's first probe spoils that probe (2 runs in 22 beside the core
      // suites: the estimate then stays at 300-360 kbps, Chromium does not probe again). A spoilt
      // probe gets a fresh publish, three at most; broken feedback fails all three.
      const estimate = async () => page.evaluate(`(async () => { let bps = 0; (await window.whip.pc.getStats()).forEach((s) => { if (s.type === 'candidate-pair' && s.nominated && s.availableOutgoingBitrate) bps = s.availableOutgoingBitrate; }); return bps; })()`) as Promise<number>;
      const estimates: number[] = [];
      for (let attempt = 1; attempt <= 3; attempt++) {
        const r = await whipPublish(page, `${gw.http}/live/twcc${attempt}/whip`);
        expect(r.status, r.body).toBe(201);
        // Negotiated: the header extension with the offer's id, and the feedback type on the video.
        const id = /a=extmap:(\d+) http:\/\/www\.ietf\.org\/id\/draft-holmer-rmcat-transport-wide-cc-extensions-01/.exec(r.body)?.[1];
        expect(id, r.body).toBeDefined();
        expect(r.body).toMatch(/a=rtcp-fb:\d+ transport-cc/);
        await waitConnected(page, 'whip');
        const bps = await waitFor('an estimate above 800 kbps', async () => {
          const b = await estimate();
          return b > 800_000 ? b : undefined;
        }, 4000, 250).catch(async () => estimate());
        estimates.push(Math.round(bps / 1000));
        await page.evaluate(`(async () => { await fetch(window.whip.location, { method: 'DELETE' }); window.whip.pc.close(); window.whip.stream.getTracks().forEach((t) => t.stop()); })()`);
        if (bps > 800_000) break;
        console.warn(`*** TWCC attempt ${attempt}: the browser's estimate is ${Math.round(bps / 1000)} kbps after 4 s (a spoilt first probe?): publishing again ***`);
      }
      expect(estimates.at(-1), `estimates (kbps) per attempt: ${estimates.join(', ')}`).toBeGreaterThan(800);
    });
  }, 60_000);
});

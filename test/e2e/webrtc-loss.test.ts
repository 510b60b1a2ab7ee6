/**
 * WebRTC over a lossy link, in Debian's Chromium: a UDP relay between the page and the gateway's
 * ICE mux port drops RTP media (never STUN, DTLS or RTCP) in one direction.
 *
 * - WHEP: the browser NACKs what the relay dropped, the gateway resends it from the reader's send
 *   history, and the picture goes on without freezes or keyframe requests.
 * - WHIP: the gateway NACKs the browser's missing video packets as the gap shows, the browser
 *   resends them, the gateway's reorderer fills the gap in time, and no keyframe storm follows
 *   (a PLI per lost packet is what the gateway did before).
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { publish, type Publisher } from '../helpers/ffmpeg.js';
import { sleep, startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { FAKE_MEDIA_ARGS, hasChromium, launchChromium, withPage } from '../helpers/browser.js';
import { blankVideoPage, expectPlaying } from '../helpers/browser-play.js';
import { hasTool } from '../helpers/tools.js';
import { isRtpMedia, lossyRelay } from '../helpers/udp-relay.js';
import { inboundStats, waitConnected, whepPlay, whipPublish } from '../helpers/webrtc.js';
import { freeUdpPort } from '../helpers/webrtc-client.js';

const enabled = hasChromium() && hasTool('ffmpeg');
const WINDOW_MS = 10_000;

/** The payload type the answer gave a codec, e.g. H264 → 108. */
function answeredPayloadType(answer: string, codec: string): number {
  const m = new RegExp(`a=rtpmap:(\\d+) ${codec}/`, 'i').exec(answer);
  if (!m) throw new Error(`no ${codec} in the answer:\n${answer}`);
  return Number(m[1]);
}

async function outboundVideo(page: Page): Promise<{ nackCount: number; retransmittedPacketsSent: number; keyFramesEncoded: number; packetsSent: number }> {
  return page.evaluate(`(async () => {
    let out = null;
    (await window.whip.pc.getStats()).forEach((s) => { if (s.type === 'outbound-rtp' && s.kind === 'video') out = { nackCount: s.nackCount, retransmittedPacketsSent: s.retransmittedPacketsSent, keyFramesEncoded: s.keyFramesEncoded, packetsSent: s.packetsSent }; });
    return out;
  })()`);
}

describe.skipIf(!enabled)('WebRTC over a lossy link (Chromium)', () => {
  let gw: TestGateway;
  let browser: Browser;
  let pub: Publisher;
  let muxPort: number;

  async function session(kind: string, path: string): Promise<any> {
    const { sessions } = (await (await fetch(`${gw.http}/api/v1/webrtc/sessions`)).json()) as { sessions: any[] };
    return sessions.find((s) => s.kind === kind && s.path === path);
  }

  beforeAll(async () => {
    muxPort = await freeUdpPort();
    gw = await startGateway({ webrtc: { udpPort: muxPort } });
    browser = await launchChromium(FAKE_MEDIA_ARGS);
    pub = publish(`${gw.rtmp}/live/lossy`, { size: '640x360', audio: 'pcma', gop: 50, duration: 90 });
    await waitFor('the RTMP publish', async () => (await fetch(`${gw.http}/api/v1/streams/live/lossy`)).ok, 15_000);
  }, 60_000);

  afterAll(async () => {
    await pub?.stop();
    await browser?.close();
    await gw?.stop();
  });

  test('WHEP with 5 % of the media dropped on the way to the browser: NACKs are answered and the picture does not freeze', async () => {
    const relay = await lossyRelay(muxPort, 0.05, 11, { only: isRtpMedia(), direction: 'down' });
    try {
      await withPage(browser, { width: 800, height: 480 }, async (page) => {
        await blankVideoPage(page, gw.http, 'webrtc-loss-whep');
        const r = await whepPlay(page, `${gw.http}/live/lossy/whep`, { via: relay.port });
        expect(r.status, r.body).toBe(201);
        await waitConnected(page, 'whep');
        await expectPlaying(page, '#v', 2);
        const before = (await inboundStats(page)).video!;
        await sleep(WINDOW_MS);
        const video = await page.evaluate(`(async () => {
          let out = null;
          (await window.whep.pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') out = { nackCount: s.nackCount, pliCount: s.pliCount, packetsLost: s.packetsLost, framesDecoded: s.framesDecoded }; });
          return out;
        })()`) as { nackCount: number; pliCount: number; packetsLost: number; framesDecoded: number };
        const s = await session('whep', 'live/lossy');
        const detail = JSON.stringify({ video, relay: relay.stats, session: s });
        console.log(`WHEP over 5 % loss: ${detail}`);
        expect(relay.stats.dropped, detail).toBeGreaterThan(50);
        // The browser asked, the gateway resent from its history, and the browser got them:
        // what stays lost is what the relay dropped twice.
        expect(video.nackCount, detail).toBeGreaterThan(20);
        expect(s.nacks, detail).toBeGreaterThan(20);
        expect(s.retransmitted, detail).toBeGreaterThan(20);
        expect(video.packetsLost, detail).toBeLessThan(s.retransmitted / 4);
        // 25 fps for the whole window, and no keyframe needed.
        expect(video.framesDecoded - before.framesDecoded, detail).toBeGreaterThan((WINDOW_MS / 1000) * 25 * 0.85);
        expect(video.pliCount, detail).toBeLessThanOrEqual(1);
        await fetch(`${gw.http}${r.location}`, { method: 'DELETE' });
      });
    } finally {
      await relay.close();
    }
  }, 60_000);

  test('WHIP with 20 % of the video dropped on the way to the gateway: the gateway NACKs, the browser resends, no keyframe storm', async () => {
    let videoPt = -1;
    const relay = await lossyRelay(muxPort, 0.2, 12, { only: (msg) => videoPt >= 0 && isRtpMedia([videoPt])(msg), direction: 'up' });
    try {
      await withPage(browser, { width: 800, height: 480 }, async (page) => {
        await blankVideoPage(page, gw.http, 'webrtc-loss-whip');
        const r = await whipPublish(page, `${gw.http}/live/lossy-up/whip`, { via: relay.port });
        expect(r.status, r.body).toBe(201);
        videoPt = answeredPayloadType(r.body, 'H264');
        // The answer offers the publisher what it needs to resend: NACK feedback on the video.
        expect(r.body).toContain(`a=rtcp-fb:${videoPt} nack`);
        await waitConnected(page, 'whip');
        await waitFor('the WHIP stream to be ready', async () => (await (await fetch(`${gw.http}/api/v1/streams/live/lossy-up`)).json() as any).video?.codec === 'H264', 15_000);
        const start = await session('whip', 'live/lossy-up');
        const started = Date.now();
        await sleep(WINDOW_MS);
        const s = await session('whip', 'live/lossy-up');
        const out = await outboundVideo(page);
        const elapsed = Date.now() - started;
        const detail = JSON.stringify({ out, relay: relay.stats, session: s });
        console.log(`WHIP over 20 % video loss: ${detail}`);
        expect(relay.stats.dropped, detail).toBeGreaterThan(10);
        // Gaps were asked for, the browser resent, and most came back before the gap was given up.
        // Not every dropped packet leaves a gap the gateway sees: the fake camera sends about one
        // packet per frame, and Chromium resends about as many packets as the relay dropped while
        // the gateway asks for a third to a half of them (at 10 % loss: 9-16 asked for of 30 dropped
        // here, 5 or fewer once on CI). So the loss is 20 % and the floor is low; without NACKs it is 0.
        expect(s.nackedPackets, detail).toBeGreaterThanOrEqual(3);
        expect(out.nackCount, detail).toBeGreaterThan(0);
        expect(out.retransmittedPacketsSent, detail).toBeGreaterThan(0);
        expect(s.retransmitted, detail).toBeGreaterThanOrEqual(s.nackedPackets * 0.6);
        // RTX is negotiated: resent packets and the rate control's padding come on their own SSRC,
        // so the media stream ends up whole (padding lost on the way is no gap in the video).
        expect(r.body).toMatch(new RegExp(`a=fmtp:\\d+ apt=${videoPt}`));
        expect(s.packetsLost, detail).toBeLessThanOrEqual(3);
        // Keyframes: the periodic request (webrtc.whipKeyframeIntervalMs, 2 s) and at most a few
        // for retransmissions the relay dropped too; a PLI per lost packet would be ~20 more.
        expect(s.plis - start.plis, detail).toBeLessThanOrEqual(Math.ceil(elapsed / 2000) + 3);
        // Receiver reports reach the browser: it knows the round trip to us.
        const rtt = await page.evaluate(`(async () => { let rtt = null; (await window.whip.pc.getStats()).forEach((s) => { if (s.type === 'remote-inbound-rtp' && s.kind === 'video') rtt = s.roundTripTime ?? null; }); return rtt; })()`);
        expect(rtt, detail).not.toBeNull();
        // And the gateway knows it too: Chromium answers our reference time (XR RRTR) with a DLRR.
        expect(s.rttMs, detail).toBeTypeOf('number');
        expect(s.rttMs, detail).toBeLessThan(200);
        await fetch(`${gw.http}${r.location}`, { method: 'DELETE' });
      });
    } finally {
      await relay.close();
    }
  }, 60_000);
});

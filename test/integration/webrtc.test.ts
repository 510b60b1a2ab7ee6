/**
 * WHEP/WHIP over real sockets with a real WebRTC peer (libdatachannel as the client): bad offers
 * and refusals answer 4xx/5xx with their codes and leave the gateway serving; tokens work on the
 * URL and as a Bearer header; 50 WHEP readers of one stream all keep the source's frame rate;
 * a new reader's first frame is a keyframe; RTCP feedback shows in the session API.
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { publish, type Publisher } from '../helpers/ffmpeg.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { hasTool } from '../helpers/tools.js';
import { freeUdpPort, whepClient, type WhepClient } from '../helpers/webrtc-client.js';

const enabled = hasTool('ffmpeg');


async function post(url: string, body: string, type = 'application/sdp', headers: Record<string, string> = {}): Promise<{ status: number; code?: string; message?: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': type, ...headers }, body });
  const text = await res.text();
  try {
    const json = JSON.parse(text) as { error?: { code: string; message: string } };
    return { status: res.status, code: json.error?.code, message: json.error?.message };
  } catch {
    return { status: res.status };
  }
}

describe.skipIf(!enabled)('WebRTC (WHEP/WHIP) with a libdatachannel client', () => {
  let gw: TestGateway;
  let pub: Publisher;
  let aac: Publisher;
  const clients: WhepClient[] = [];

  beforeAll(async () => {
    const muxPort = await freeUdpPort();
    gw = await startGateway({
      hub: { readyTimeoutMs: 1000 },
      auth: { rules: [{ paths: 'secure/*', mode: 'keys', publishKey: 'pub-key', playKey: 'play-key' }] },
      webrtc: { maxSessions: 60, peerTimeoutMs: 3000, udpPort: muxPort },
      // No opus rendition here: an AAC stream cannot be played over WebRTC with audio.
      transcode: { enabled: false },
    });
    pub = publish(`${gw.rtmp}/live/rtc`, { size: '320x240', fps: 25, gop: 25, audio: 'pcmu', duration: 120 });
    aac = publish(`${gw.rtmp}/secure/aac?token=pub-key`, { size: '320x240', fps: 25, gop: 25, audio: 'aac', duration: 120 });
    await waitFor('both publishes', async () => (await fetch(`${gw.http}/api/v1/streams/live/rtc`)).ok && (await fetch(`${gw.http}/api/v1/streams/secure/aac`)).ok, 15_000);
  }, 30_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await pub?.stop();
    await aac?.stop();
    await gw?.stop();
  });

  test('a body that is not application/sdp answers 415', async () => {
    const r = await post(`${gw.http}/live/rtc/whep`, 'v=0', 'text/plain');
    expect(r.status).toBe(415);
    expect(r.code).toBe('SG_ERR_INVALID_REQUEST');
  });

  test.each([
    ['garbage', 'hello'],
    ['no media', 'v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n'],
    ['no ICE credentials', 'v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=rtpmap:96 H264/90000\r\n'],
  ])('a malformed offer (%s) answers 400 SG_ERR_SDP_INVALID', async (_name, body) => {
    const r = await post(`${gw.http}/live/rtc/whep`, body);
    expect(r.status).toBe(400);
    expect(r.code).toBe('SG_ERR_SDP_INVALID');
    expect(r.message).toMatch(/^bad SDP offer: /);
  });

  test('an offer without a=mid answers 400 naming the section', async () => {
    const c = await whepClient(`${gw.http}/live/rtc/whep`, { mangle: (sdp) => sdp.replace(/a=mid:\S+\r\n/g, '') });
    c.close();
    expect(c.status).toBe(400);
    expect(JSON.parse(c.answer).error.message).toMatch(/has no a=mid/);
  });

  test('an offer of VP8 only answers 415 SG_ERR_UNSUPPORTED_CODEC with what was offered and what is supported', async () => {
    const c = await whepClient(`${gw.http}/live/rtc/whep`, { videoCodec: 'VP8', audio: false });
    c.close();
    expect(c.status).toBe(415);
    const error = JSON.parse(c.answer).error;
    expect(error.code).toBe('SG_ERR_UNSUPPORTED_CODEC');
    expect(error.message).toContain('offered: VP8');
    expect(error.message).toContain('supported: H264');
  });

  test('a stream nobody publishes answers 404 after the ready wait', async () => {
    const c = await whepClient(`${gw.http}/live/nobody/whep`);
    c.close();
    expect(c.status).toBe(404);
    expect(JSON.parse(c.answer).error.code).toBe('SG_ERR_STREAM_NOT_FOUND');
  });

  test('tokens: none is 401, a wrong one 403, the play key works on the URL and as a Bearer header', async () => {
    const none = await whepClient(`${gw.http}/secure/aac/whep`);
    none.close();
    expect(none.status).toBe(401);
    const wrong = await whepClient(`${gw.http}/secure/aac/whep?token=nope`);
    wrong.close();
    expect(wrong.status).toBe(403);
    for (const c of [await whepClient(`${gw.http}/secure/aac/whep?token=play-key`), await whepClient(`${gw.http}/secure/aac/whep`, { headers: { Authorization: 'Bearer play-key' } })]) {
      clients.push(c);
      expect(c.status, c.answer).toBe(201);
      // AAC cannot go over WebRTC and no opus rendition is configured: video only, audio declined.
      expect(c.answer).toMatch(/m=audio 0 |a=inactive/);
      await c.connected;
      await waitFor('video packets', () => c.video.packets > 10, 5000);
      expect(c.audio.packets).toBe(0);
      await fetch(`${gw.http}${c.location}`, { method: 'DELETE' });
    }
  }, 30_000);

  test('a WHIP publish on a path that has a publisher answers 409 SG_ERR_PATH_BUSY', async () => {
    // The offer's direction does not matter for the busy check: admission refuses first.
    const c = await whepClient(`${gw.http}/live/rtc/whip`, { mangle: (sdp) => sdp.replace(/a=recvonly/g, 'a=sendonly') });
    c.close();
    expect(c.status).toBe(409);
    expect(JSON.parse(c.answer).error.code).toBe('SG_ERR_PATH_BUSY');
  });

  test('DELETE and PATCH of an unknown session answer 404', async () => {
    expect((await fetch(`${gw.http}/live/rtc/whep/abcdefghijkl`, { method: 'DELETE' })).status).toBe(404);
    const patch = await fetch(`${gw.http}/live/rtc/whep/abcdefghijkl`, { method: 'PATCH', headers: { 'Content-Type': 'application/trickle-ice-sdpfrag' }, body: 'a=mid:0\r\n' });
    expect(patch.status).toBe(404);
  });

  test('50 WHEP readers of one stream all keep the full frame rate, start at a keyframe, lose nothing; the 61st session is refused', async () => {
    // The readers run in 5 processes of 10: node-datachannel hands every received packet to JS
    // through a thread-safe call, about 1,200 packets/s per process, so one process cannot be 50
    // viewers of a 25 fps stream; real viewers are separate machines anyway.
    const run = (n: number) =>
      new Promise<string>((resolve, reject) =>
        execFile(process.execPath, ['test/helpers/whep-readers.mjs', `${gw.http}/live/rtc/whep`, String(n), '5000', '1500'], { timeout: 40_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout))),
      );
    const watch = waitFor('50 connected WHEP sessions', async () => {
      const sessions = ((await (await fetch(`${gw.http}/api/v1/webrtc/sessions`)).json()) as { sessions: any[] }).sessions;
      const n = sessions.filter((s) => s.kind === 'whep' && s.state === 'connected').length;
      return n === 50;
    }, 30_000);
    const results = Promise.all([run(10), run(10), run(10), run(10), run(10)]);
    await Promise.race([watch, results]);
    await watch;
    const stream = (await (await fetch(`${gw.http}/api/v1/streams/live/rtc`)).json()) as any;
    expect(stream.readers.webrtc).toBe(50);
    // maxSessions is 60: 10 more fit, the 61st is refused with 503.
    const extra = await Promise.all(Array.from({ length: 10 }, () => whepClient(`${gw.http}/live/rtc/whep`, { audio: false })));
    clients.push(...extra);
    for (const c of extra) expect(c.status).toBe(201);
    const over = await whepClient(`${gw.http}/live/rtc/whep`);
    over.close();
    expect(over.status).toBe(503);
    expect(JSON.parse(over.answer).error.code).toBe('SG_ERR_WEBRTC_LIMIT');
    for (const c of extra) {
      c.close();
      await fetch(`${gw.http}${c.location}`, { method: 'DELETE' });
    }
    const readers = (await results).flatMap((out) => (JSON.parse(out) as { readers: { status: number; connected: boolean; fps: number; audioPps: number; keyframes: number; gaps: number }[] }).readers);
    expect(readers).toHaveLength(50);
    const fps = readers.map((r) => r.fps);
    // 25 fps source; PCMU in 20 ms packets is 50 packets/s.
    expect(Math.min(...fps), `frame rates: ${fps.map((f) => f.toFixed(1)).join(' ')}`).toBeGreaterThan(23);
    for (const r of readers) {
      expect(r.status).toBe(201);
      expect(r.connected).toBe(true);
      expect(r.audioPps).toBeGreaterThan(45);
      expect(r.keyframes).toBeGreaterThan(0);
      expect(r.gaps).toBe(0);
    }
    await waitFor('every session gone', async () => ((await (await fetch(`${gw.http}/api/v1/webrtc/sessions`)).json()) as { sessions: any[] }).sessions.length === 0, 5000);
  }, 90_000);

  test('a client that vanishes without DELETE is closed and its reader slot freed', async () => {
    const c = await whepClient(`${gw.http}/live/rtc/whep`);
    expect(c.status).toBe(201);
    await c.connected;
    c.close();
    await waitFor('the session to end', async () => ((await (await fetch(`${gw.http}/api/v1/webrtc/sessions`)).json()) as { sessions: any[] }).sessions.length === 0, 10_000);
    const stream = (await (await fetch(`${gw.http}/api/v1/streams/live/rtc`)).json()) as any;
    expect(stream.readers.webrtc ?? 0).toBe(0);
  }, 20_000);
});

describe.skipIf(!enabled)('WebRTC readers of codecs WebRTC cannot carry', () => {
  let gw: TestGateway;
  let pub: Publisher;

  beforeAll(async () => {
    gw = await startGateway({});
    pub = publish(`${gw.rtmp}/live/aaccam`, { size: '320x240', fps: 25, gop: 25, audio: 'aac', duration: 120 });
    await waitFor('the AAC publish', async () => {
      const res = await fetch(`${gw.http}/api/v1/streams/live/aaccam`);
      return res.ok && ((await res.json()) as any).audio?.codec === 'AAC';
    }, 15_000);
  }, 30_000);

  afterAll(async () => {
    await pub?.stop();
    await gw?.stop();
  });

  test('an H.264 + AAC camera plays over WHEP through the on-demand opus rendition (video copied, AAC -> Opus)', async () => {
    const c = await whepClient(`${gw.http}/live/aaccam/whep`);
    try {
      expect(c.status, c.answer).toBe(201);
      expect(c.answer).toMatch(/a=rtpmap:111 opus\/48000\/2/);
      await c.connected;
      await waitFor('Opus packets', () => c.audio.packets > 50, 15_000);
      expect(c.audio.payloadType).toBe(111);
      expect(c.video.frames).toBeGreaterThan(10);
      const sessions = ((await (await fetch(`${gw.http}/api/v1/webrtc/sessions`)).json()) as { sessions: any[] }).sessions;
      expect(sessions[0]).toMatchObject({ path: 'live/aaccam_opus', video: 'H264', audio: 'OPUS' });
      const rendition = (await (await fetch(`${gw.http}/api/v1/streams/live/aaccam_opus`)).json()) as any;
      expect(rendition.video.codec).toBe('H264');
      expect(rendition.audio.codec).toBe('OPUS');
    } finally {
      c.close();
      if (c.location) await fetch(`${gw.http}${c.location}`, { method: 'DELETE' });
    }
  }, 40_000);
});

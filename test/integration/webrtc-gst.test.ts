/**
 * WHIP and WHEP with GStreamer's webrtcbin (1.22: libnice ICE, its own DTLS-SRTP and RTP stack),
 * the stand-in for hardware encoders and OBS: neither a browser nor libdatachannel, so our
 * answers are checked against a third WebRTC implementation. The HTTP side is our script
 * (test/helpers/gst-webrtc.py): Debian 12 packages no whipsink/whipclientsink.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { probe, publish, type Publisher } from '../helpers/ffmpeg.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { type GstWebrtc, gstWebrtc, hasGstWebrtc } from '../helpers/gst-webrtc.js';
import { hasTool } from '../helpers/tools.js';
import { freeUdpPort } from '../helpers/webrtc-client.js';

const enabled = hasTool('ffmpeg') && hasGstWebrtc();

describe.skipIf(!enabled)('WebRTC with GStreamer webrtcbin (WHIP publish, WHEP play)', () => {
  let gw: TestGateway;
  let muxPort: number;
  const clients: GstWebrtc[] = [];
  const publishers: Publisher[] = [];

  const json = async (path: string) => (await (await fetch(`${gw.http}${path}`)).json()) as any;
  const sessions = async () => (await json('/api/v1/webrtc/sessions')).sessions as any[];
  const client = (...args: Parameters<typeof gstWebrtc>) => {
    const c = gstWebrtc(...args);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    muxPort = await freeUdpPort();
    gw = await startGateway({
      auth: { rules: [{ paths: 'secure/*', mode: 'keys', publishKey: 'pub-key', playKey: 'play-key' }] },
      webrtc: { udpPort: muxPort },
    });
  }, 20_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.kill()));
    await Promise.all(publishers.map((p) => p.stop()));
    await gw?.stop();
  });

  test('GStreamer publishes H.264 + Opus over WHIP; ffprobe reads it back over RTMP and fMP4 HLS; DELETE ends it', async () => {
    const whip = client('whip', `${gw.http}/live/gst/whip`, { size: '640x360', seconds: 60 });
    const answer = await whip.waitEvent('answer');
    expect(answer.status).toBe(201);
    expect(answer.location).toMatch(/^\/live\/gst\/whip\/[A-Za-z0-9_-]+$/);
    // One payload type per section; candidates are the one ICE UDP mux port.
    expect(answer.codecs).toEqual(['video 96 H264/90000', 'audio 111 opus/48000/2']);
    expect(answer.candidates.length).toBeGreaterThan(0);
    for (const c of answer.candidates as string[]) expect(c).toMatch(new RegExp(` UDP \\d+ 127\\.0\\.0\\.1 ${muxPort} typ host`));
    await whip.waitEvent('connected', 10_000);
    const info = await waitFor('the WHIP stream with both tracks', async () => {
      const res = await fetch(`${gw.http}/api/v1/streams/live/gst`);
      const s = res.ok ? ((await res.json()) as any) : undefined;
      return s?.video?.width && s?.audio?.codec ? s : undefined;
    }, 10_000);
    expect(info.publisher.protocol).toBe('whip');
    expect(info.video).toMatchObject({ codec: 'H264', width: 640, height: 360 });
    expect(info.audio).toMatchObject({ codec: 'OPUS', sampleRate: 48000 });

    const [rtmp, hls] = await Promise.all([probe(`${gw.rtmp}/live/gst`, 3), probe(`${gw.http}/live/gst/index.m3u8`, 4)]);
    expect(rtmp.streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 640, height: 360 });
    expect(rtmp.packets.filter((p) => p.codec_type === 'video').length).toBeGreaterThan(20);
    // fMP4 HLS carries Opus as it is (ISO/IEC 23003-5).
    expect(hls.streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 640, height: 360 });
    expect(hls.streams.find((s) => s.codec_type === 'audio')).toMatchObject({ codec_name: 'opus' });

    const [session] = await sessions();
    expect(session).toMatchObject({ kind: 'whip', path: 'live/gst', state: 'connected', video: 'H264', audio: 'OPUS' });
    expect(session.packetsReceived).toBeGreaterThan(0);
    expect(session.peer).toMatch(/^127\.0\.0\.1:\d+$/);

    // The script's own end: DELETE on the Location, then the pipeline stops.
    expect(await whip.finish()).toBe(0);
    expect(whip.event('deleted')?.status).toBe(200);
    expect(whip.event('error')).toBeUndefined();
    expect(await sessions()).toHaveLength(0);
    await waitFor('the stream to end', async () => (await fetch(`${gw.http}/api/v1/streams/live/gst`)).status === 404, 8000);
  }, 30_000);

  test('a token-protected path: no token is 401, the publish key as a Bearer header publishes', async () => {
    const none = client('whip', `${gw.http}/secure/gst/whip`);
    expect(await none.exited).toBe(2);
    expect(none.event('answer')?.status).toBe(401);
    expect(none.event('error')?.message).toMatch(/answered 401/);

    const keyed = client('whip', `${gw.http}/secure/gst/whip`, { token: 'pub-key', size: '320x240', seconds: 60 });
    expect((await keyed.waitEvent('answer')).status).toBe(201);
    await keyed.waitEvent('connected', 10_000);
    const info = await waitFor('the keyed WHIP stream', async () => {
      const res = await fetch(`${gw.http}/api/v1/streams/secure/gst`);
      const s = res.ok ? ((await res.json()) as any) : undefined;
      return s?.video?.width ? s : undefined;
    }, 10_000);
    expect(info.publisher.protocol).toBe('whip');
    expect(info.video).toMatchObject({ codec: 'H264', width: 320, height: 240 });
    expect(await keyed.finish()).toBe(0);
    expect(keyed.event('deleted')?.status).toBe(200);
  }, 30_000);

  test('GStreamer plays over WHEP: an RTMP publish of H.264 + PCMA and an RTSP one of H.264 + Opus, decoded to real frames', async () => {
    publishers.push(publish(`${gw.rtmp}/live/cam-pcma`, { size: '640x360', fps: 25, gop: 25, audio: 'pcma', duration: 60 }));
    // ffmpeg 5.1's FLV muxer has no Opus: the Opus camera pushes RTSP.
    publishers.push(publish(`${gw.rtsp}/live/cam-opus`, { size: '320x240', fps: 25, gop: 25, audio: 'opus', format: 'rtsp', duration: 60 }));
    await waitFor('both publishes', async () => {
      const [a, b] = await Promise.all(['live/cam-pcma', 'live/cam-opus'].map((p) => fetch(`${gw.http}/api/v1/streams/${p}`)));
      return a!.ok && b!.ok && (await a!.json()).audio?.codec && (await b!.json()).audio?.codec;
    }, 15_000);
    const pcma = client('whep', `${gw.http}/live/cam-pcma/whep`, { seconds: 4 });
    const opus = client('whep', `${gw.http}/live/cam-opus/whep`, { seconds: 4 });
    expect(await pcma.exited, pcma.stderr()).toBe(0);
    expect(await opus.exited, opus.stderr()).toBe(0);
    for (const [c, codec, width, height] of [[pcma, /^audio 8 PCMA\/8000/, 640, 360], [opus, /^audio 111 opus\/48000\/2$/, 320, 240]] as const) {
      expect(c.event('answer')!.codecs).toEqual(['video 102 H264/90000', expect.stringMatching(codec)]);
      const result = c.event('result')!;
      // 4 s at 25 fps from the GOP cache's keyframe on: about 100 frames decoded.
      expect(result.frames).toBeGreaterThan(60);
      expect(result).toMatchObject({ width, height });
      // 20 ms audio packets (G.711 re-packetized, Opus as sent): about 200.
      expect(result.audioBuffers).toBeGreaterThan(100);
      expect(c.event('deleted')?.status).toBe(200);
    }
    expect(await sessions()).toHaveLength(0);
  }, 30_000);

  // webrtcbin's max-bundle offer gives every section after the first port 0 and a=bundle-only
  // (JSEP, RFC 8829 §5.2.1; RFC 8843 §7.3.3): a section on the first one's transport, which a
  // BUNDLE answerer must accept. Chromium's balanced policy gives every section a port, so
  // only a client like this one shows whether we do.
  test('a max-bundle offer (audio bundle-only, port 0) gets its audio section answered', async () => {
    const whip = client('whip', `${gw.http}/live/bundle/whip`, { size: '320x240', seconds: 60 });
    try {
      const offer = await whip.waitEvent('offer');
      expect(offer.sections.map((s: any) => s.port)).toEqual([9, 0]);
      const answer = await whip.waitEvent('answer');
      expect(answer.status).toBe(201);
      expect(answer.sections[1]).toMatchObject({ kind: 'audio', direction: 'recvonly' });
    } finally {
      await whip.finish();
    }
  }, 20_000);
});

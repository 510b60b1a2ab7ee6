/**
 * The one admission path, seen from outside: every protocol fires the stop hooks when its
 * session ends (on_unpublish for publishers, on_stop for readers) and counts against one reader
 * limit per path. Before admission.ts, RTSP and HLS never fired the hooks and HLS ignored
 * auth.limits.maxReadersPerPath.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probe, publish, type Publisher } from '../helpers/ffmpeg.js';
import { readFlv } from '../helpers/flv-client.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { hasTool } from '../helpers/tools.js';

interface HookCall {
  event: string;
  stream: string;
  protocol: string;
}

describe.skipIf(!hasTool('ffmpeg'))('admission: stop hooks and one reader limit for every protocol', () => {
  let g: TestGateway;
  let hook: Server;
  const calls: HookCall[] = [];
  const pubs: Publisher[] = [];

  const called = (event: string, stream: string, protocol: string) => calls.some((c) => c.event === event && c.stream === stream && c.protocol === protocol);

  beforeAll(async () => {
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const b = JSON.parse(body) as { action: string; stream: string; protocol: string };
        calls.push({ event: b.action, stream: b.stream, protocol: b.protocol });
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"code":0}');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
    const base = `http://127.0.0.1:${(hook.address() as { port: number }).port}`;
    g = await startGateway({
      auth: { hooks: { onUnpublish: `${base}/on_unpublish`, onStop: `${base}/on_stop`, timeoutMs: 1000 }, limits: { maxReadersPerPath: 2 } },
      hls: { sessionTimeoutMs: 1000, segmentMs: 500, partMs: 100 },
    });
    pubs.push(publish(`${g.rtmp}/live/cam`, { size: '320x240', fps: 25, gop: 12, duration: 120 }));
    await waitFor('live/cam ready', () => g.gw.registry.get('live/cam')?.ready, 20_000);
  }, 40_000);

  afterAll(async () => {
    await Promise.all(pubs.map((p) => p.stop()));
    await g?.stop();
    hook?.close();
  });

  it('RTMP publish: on_unpublish when the publisher leaves', async () => {
    const pub = publish(`${g.rtmp}/live/rtmppub`, { size: '160x120', duration: 30 });
    await waitFor('published', () => g.gw.registry.get('live/rtmppub')?.ready, 20_000);
    await pub.stop();
    await waitFor('on_unpublish for RTMP', () => called('on_unpublish', 'rtmppub', 'rtmp'));
  });

  it('RTSP record (ANNOUNCE/RECORD push): on_unpublish when the pusher leaves', async () => {
    const pub = publish(`${g.rtsp}/live/rtsppub`, { format: 'rtsp', size: '160x120', duration: 30 });
    await waitFor('published', () => g.gw.registry.get('live/rtsppub')?.ready, 20_000);
    expect(g.gw.registry.get('live/rtsppub')?.publisher?.protocol).toBe('rtsp');
    await pub.stop();
    await waitFor('on_unpublish for RTSP', () => called('on_unpublish', 'rtsppub', 'rtsp'));
  });

  it('RTSP play (DESCRIBE/SETUP/PLAY): on_stop when the player leaves', async () => {
    const result = await probe(`${g.rtsp}/live/cam`, 1, ['-rtsp_transport', 'tcp']);
    expect(result.streams.some((s) => s.codec_type === 'video')).toBe(true);
    await waitFor('on_stop for RTSP', () => called('on_stop', 'cam', 'rtsp'));
    await waitFor('slot freed', () => g.gw.admission.readersOf('live/cam') === 0);
  });

  it('HTTP-FLV and WS-FLV: on_stop when the reader leaves', async () => {
    for (const [url, protocol, status] of [[`${g.http}/live/cam.flv`, 'flv', 200], [`${g.ws}/live/cam.flv`, 'ws-flv', 101]] as const) {
      const r = readFlv(url);
      expect(await r.status).toBe(status);
      await waitFor('frames', () => r.tags.length > 3);
      r.close();
      await waitFor(`on_stop for ${protocol}`, () => called('on_stop', 'cam', protocol));
    }
  });

  it('HLS: a viewer is a session (sg_sid on every URI) that fires on_stop when it stops asking', async () => {
    const index = await fetch(`${g.http}/live/cam/index.m3u8`);
    expect(index.status).toBe(200);
    const sid = /stream\.m3u8\?sg_sid=([\w-]+)/.exec(await index.text())?.[1];
    expect(sid, 'the multivariant playlist names the session').toBeDefined();
    // The session's later requests are the same viewer (the media playlist keeps the id on its URIs).
    const media = await (await fetch(`${g.http}/live/cam/stream.m3u8?sg_sid=${sid}`)).text();
    expect(media).toContain(`sg_sid=${sid}`);
    expect(g.gw.hls.sessions.count('live/cam')).toBe(1);
    expect(g.gw.admission.readersOf('live/cam')).toBe(1);
    // It stops asking: after hls.sessionTimeoutMs the slot is free and on_stop fired.
    await waitFor('HLS session over', () => g.gw.hls.sessions.count('live/cam') === 0, 5000);
    await waitFor('on_stop for HLS', () => called('on_stop', 'cam', 'hls'));
    expect(g.gw.admission.readersOf('live/cam')).toBe(0);
  });

  it('HLS counts against the reader limit, with FLV readers, in both directions', async () => {
    const first = await fetch(`${g.http}/live/cam/index.m3u8`);
    const second = await fetch(`${g.http}/live/cam/index.m3u8`);
    expect([first.status, second.status]).toEqual([200, 200]);
    await first.text();
    await second.text();
    // Two HLS viewers: a third viewer is refused, on HLS and on HTTP-FLV alike.
    const third = await fetch(`${g.http}/live/cam/index.m3u8`);
    expect(third.status).toBe(403);
    expect(((await third.json()) as { error: { message: string } }).error.message).toMatch(/already has 2 readers/);
    const flv = await fetch(`${g.http}/live/cam.flv`);
    expect(flv.status).toBe(403);
    expect(((await flv.json()) as { error: { code: string } }).error.code).toBe('SG_ERR_FORBIDDEN');
    // The viewers leave: the path admits readers again.
    await waitFor('sessions over', () => g.gw.admission.readersOf('live/cam') === 0, 5000);
    const again = readFlv(`${g.http}/live/cam.flv`);
    expect(await again.status).toBe(200);
    // With one FLV reader and one HLS viewer the path is full for HLS too.
    expect((await fetch(`${g.http}/live/cam/index.m3u8`)).status).toBe(200);
    expect((await fetch(`${g.http}/live/cam/index.m3u8`)).status).toBe(403);
    again.close();
  });
});

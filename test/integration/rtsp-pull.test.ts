/**
 * Camera pulls against GStreamer's RTSP server (test/helpers/rtsp-camera.py) as the camera:
 * configured and API sources, TCP and UDP, H.264 and H.265+PCMA, Basic and Digest auth,
 * reconnect while readers stay, on-demand start and idle close.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probe } from '../helpers/ffmpeg.js';
import { isSequenceHeaderTag, readFlv } from '../helpers/flv-client.js';
import { sleep, startGateway, type TestGateway, waitFor } from '../helpers/gateway.js';
import { hasRtspCamera, type RtspCamera, startRtspCamera } from '../helpers/rtsp-camera.js';
import { hasTool } from '../helpers/tools.js';

/**
 * A TCP relay in front of the camera that counts connections: proof of when the gateway connects.
 * The first `refuseFirst` connections are closed at once, as by a camera still booting.
 */
async function countingProxy(
  targetPort: () => number,
  refuseFirst = 0,
): Promise<{ port: number; accepted: () => number; open: () => number; close: () => Promise<void> }> {
  let accepted = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (accepted++ < refuseFirst) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort() });
    sockets.add(client);
    sockets.add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    accepted: () => accepted,
    open: () => [...sockets].filter((s) => !s.destroyed).length / 2,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** An HTTP-FLV reader that counts bytes on one connection. */
function flvReader(url: string): { bytes: () => number; closed: () => boolean; stop: () => void } {
  const controller = new AbortController();
  let bytes = 0;
  let closed = false;
  void (async () => {
    try {
      const res = await fetch(url, { signal: controller.signal });
      const reader = res.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        bytes += value.length;
      }
    } catch {
      /* aborted */
    }
    closed = true;
  })();
  return { bytes: () => bytes, closed: () => closed, stop: () => controller.abort() };
}

async function sourceInfo(gw: TestGateway, path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${gw.http}/api/v1/sources/${path}`);
  return (await res.json()) as Record<string, unknown>;
}

describe.skipIf(!hasTool('ffprobe') || !hasRtspCamera())('RTSP camera pull', () => {
  let camera: RtspCamera;
  let gw: TestGateway;
  let proxy: Awaited<ReturnType<typeof countingProxy>>;
  let booting: Awaited<ReturnType<typeof countingProxy>>;

  beforeAll(async () => {
    camera = await startRtspCamera();
    proxy = await countingProxy(() => camera.port);
    booting = await countingProxy(() => camera.port, 2);
    gw = await startGateway({
      rtsp: { pull: { retryInitialMs: 200, retryMaxMs: 1000, idleCloseMs: 1500, readTimeoutMs: 3000, keepaliveMs: 1000 } },
      hub: { readyTimeoutMs: 15000 },
      sources: {
        'cams/h264': { url: camera.url('/h264'), onDemand: false },
        'cams/h265': { url: camera.url('/h265pcma'), transport: 'udp' },
        'cams/demand': { url: `rtsp://127.0.0.1:${proxy.port}/h264` },
        'cams/booting': { url: `rtsp://127.0.0.1:${booting.port}/h264` },
        'cams/basic': { url: `rtsp://user:secret@127.0.0.1:${camera.basic}/h264` },
        'cams/digest': { url: `rtsp://user:secret@127.0.0.1:${camera.digest}/h264` },
        'cams/badpass': { url: `rtsp://user:wrong@127.0.0.1:${camera.digest}/h264` },
        'cams/badpassalways': { url: `rtsp://user:wrong@127.0.0.1:${camera.digest}/h264`, onDemand: false },
        'cams/av': { url: camera.url('/h264pcma'), onDemand: false },
        'cams/avudp': { url: camera.url('/h264pcma'), onDemand: false, transport: 'udp' },
      },
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await proxy?.close();
    await booting?.close();
    await camera?.stop();
  });

  it('an always-on source pulls H.264 over TCP and plays over HTTP-FLV', async () => {
    await waitFor('cams/h264 ready', () => gw.gw.registry.get('cams/h264')?.ready, 20_000);
    const result = await probe(`${gw.http}/cams/h264.flv`, 2);
    expect(result.streams.map((s) => s.codec_name)).toEqual(['h264']);
    expect(result.streams[0]!.width).toBe(320);
    expect(result.packets.filter((p) => p.codec_type === 'video').length).toBeGreaterThan(10);
    const info = await sourceInfo(gw, 'cams/h264');
    expect(info).toMatchObject({ state: 'running', onDemand: false, transport: 'tcp' });
  });

  it.each(['av', 'avudp'])('cams/%s: lines audio up with video by the camera\'s RTCP sender reports (TCP and UDP)', async (name) => {
    // GStreamer sends audio and video as it captures them, so the reports confirm the arrival
    // order here (a skewed sender is in rtsp-timing.test.ts); what this pins is reading real
    // RTCP over interleaved TCP and over UDP, and that lining up never moves time back.
    // Runs before the camera restart below: under CI load a restarted camera's encoder can start
    // seconds after its audio, past the shift a sender report may make (a wrong clock otherwise).
    const synced = async () => (await sourceInfo(gw, `cams/${name}`)).avSync === 'sender-reports';
    try {
      await waitFor(`cams/${name} synced by sender reports`, synced, 20_000);
    } catch {
      // Seen only under full CI load: the camera's reports placed a track more than 5 s from its
      // arrival, which the gateway takes as a wrong clock for that session and keeps arrival
      // order (by design). Say so, then give one new session a second chance.
      const info = await sourceInfo(gw, `cams/${name}`);
      console.warn(`cams/${name} not synced after 20 s, trying a new session: ${JSON.stringify(info)}`);
      console.warn(gw.logs.filter((l) => l.source === `cams/${name}`).map((l) => `${l.time} ${l.msg}`).join('\n'));
      expect((await fetch(`${gw.http}/api/v1/sources/cams/${name}`, { method: 'DELETE' })).status).toBe(204);
      const again = await fetch(`${gw.http}/api/v1/sources`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ path: `cams/${name}`, url: info.url, onDemand: false, transport: info.transport }) });
      expect(again.status).toBe(201);
      await waitFor(`cams/${name} synced by sender reports (second session)`, synced, 20_000);
    }
    expect(typeof (await sourceInfo(gw, `cams/${name}`)).reorderedPackets).toBe('number');
    const cap = readFlv(`${gw.http}/cams/${name}.flv`);
    await sleep(2000);
    cap.close();
    const live = cap.tags.filter((t) => (t.type === 8 || t.type === 9) && !isSequenceHeaderTag(t));
    const newest = (type: number) => Math.max(...live.filter((t) => t.type === type).map((t) => t.timestamp));
    expect(Math.abs(newest(9) - newest(8))).toBeLessThan(150);
    for (const type of [8, 9]) {
      const ts = live.filter((t) => t.type === type).map((t) => t.timestamp);
      expect(ts.length).toBeGreaterThan(10);
      expect([...ts].sort((a, b) => a - b)).toEqual(ts);
    }
  });

  it('an H.265+PCMA camera pulled over UDP plays over RTSP with both tracks', async () => {
    const result = await probe(`${gw.rtsp}/cams/h265`, 2, ['-rtsp_transport', 'tcp']);
    expect(result.streams.map((s) => s.codec_name).sort()).toEqual(['hevc', 'pcm_alaw']);
    expect(result.packets.filter((p) => p.codec_type === 'video').length).toBeGreaterThan(5);
    expect(gw.gw.registry.get('cams/h265')?.publisher?.protocol).toBe('rtsp-pull');
    // Keepalives went out every second meanwhile; the camera accepted them (no reconnect).
    expect(await sourceInfo(gw, 'cams/h265')).toMatchObject({ state: 'running', transport: 'udp', reconnects: 0 });
  });

  it.each(['basic', 'digest'])('pulls a %s-auth protected camera with the URL credentials', async (kind) => {
    const result = await probe(`${gw.http}/cams/${kind}.flv`, 1);
    expect(result.streams.map((s) => s.codec_name)).toEqual(['h264']);
  });

  it('a wrong password is refused at once (502, not after the 15 s wait) and shown as the source error', async () => {
    const started = Date.now();
    const res = await fetch(`${gw.http}/cams/badpass.flv`);
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(Date.now() - started).toBeLessThan(5000);
    expect(body.error.code).toBe('SG_ERR_SOURCE_UNAVAILABLE');
    expect(body.error.message).toMatch(/credentials/);
    const info = await sourceInfo(gw, 'cams/badpass');
    expect(String(info.lastError)).toMatch(/401|credentials/);
    // An always-on source between attempts after the same refusal answers at once too.
    await waitFor('the always-on source refused', async () => /credentials/.test(String((await sourceInfo(gw, 'cams/badpassalways')).lastError)), 10_000);
    const again = Date.now();
    const always = await fetch(`${gw.http}/cams/badpassalways.flv`);
    expect(always.status).toBe(502);
    await always.body?.cancel();
    expect(Date.now() - again).toBeLessThan(3000);
  });

  it('on-demand: the first reader waits while the camera refuses its first connections, then plays', async () => {
    const reader = flvReader(`${gw.http}/cams/booting.flv`);
    try {
      await waitFor('frames after the camera came up', () => reader.bytes() > 20_000, 20_000);
      expect(reader.closed()).toBe(false);
      expect(booting.accepted()).toBe(3);
      expect(await sourceInfo(gw, 'cams/booting')).toMatchObject({ state: 'running', reconnects: 2 });
    } finally {
      reader.stop();
    }
  });

  it('on-demand: no camera connection until a reader comes, closed after the idle time', async () => {
    expect(proxy.accepted()).toBe(0);
    expect((await sourceInfo(gw, 'cams/demand')).state).toBe('idle');
    const reader = flvReader(`${gw.http}/cams/demand.flv`);
    await waitFor('frames on the on-demand reader', () => reader.bytes() > 20_000, 20_000);
    expect(proxy.accepted()).toBe(1);
    expect((await sourceInfo(gw, 'cams/demand')).state).toBe('running');
    reader.stop();
    await waitFor('the on-demand pull to close', async () => (await sourceInfo(gw, 'cams/demand')).state === 'idle', 15_000);
    await waitFor('the camera connection to close', () => proxy.open() === 0, 5_000);
    expect(gw.gw.registry.get('cams/demand')).toBeUndefined();
  });

  it('the camera dies and comes back: the reader keeps its connection and gets frames again', async () => {
    await waitFor('cams/h264 ready', () => gw.gw.registry.get('cams/h264')?.ready, 20_000);
    const reader = flvReader(`${gw.http}/cams/h264.flv`);
    try {
      await waitFor('first frames', () => reader.bytes() > 10_000, 10_000);
      const before = (await sourceInfo(gw, 'cams/h264')).reconnects as number;
      await camera.kill();
      await waitFor('the source to notice', async () => (await sourceInfo(gw, 'cams/h264')).state === 'retrying', 10_000);
      const during = reader.bytes();
      await camera.restart();
      await waitFor('the source to run again', async () => (await sourceInfo(gw, 'cams/h264')).state === 'running', 20_000);
      await waitFor('new frames on the same reader', () => reader.bytes() > during + 20_000, 15_000);
      expect(reader.closed()).toBe(false);
      const info = await sourceInfo(gw, 'cams/h264');
      expect(info.reconnects as number).toBeGreaterThan(before);
      expect(String(info.lastError)).not.toBe('null');
    } finally {
      reader.stop();
    }
  });

  it('sources can be added, listed and removed through the API', async () => {
    const add = await fetch(`${gw.http}/api/v1/sources`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ path: 'cams/added', url: camera.url('/h264'), transport: 'udp' }),
    });
    expect(add.status).toBe(201);
    expect(await add.json()).toMatchObject({ path: 'cams/added', state: 'idle', onDemand: true, transport: 'udp' });
    const dup = await fetch(`${gw.http}/api/v1/sources`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ path: 'cams/added', url: camera.url('/h264') }),
    });
    expect(dup.status).toBe(409);
    const bad = await fetch(`${gw.http}/api/v1/sources`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ path: 'cams/x', url: 'http://nope' }),
    });
    expect(bad.status).toBe(400);
    // A first reader starts the on-demand pull; a refusal names its code and the source's log
    // (ffprobe alone would only say "5XX").
    let control = new AbortController();
    let first = await fetch(`${gw.http}/cams/added.flv`, { signal: control.signal });
    // After the kill and restart above, GStreamer's server once died by itself as this pull began
    // (the gateway saw ECONNREFUSED and answered 502, as it should). This test is about the API:
    // the stand-in starts again by itself (saying why on stderr), and the reader tries once more.
    if (first.status !== 200 && (await camera.ensureRunning()) !== undefined) {
      await first.body?.cancel();
      control = new AbortController();
      first = await fetch(`${gw.http}/cams/added.flv`, { signal: control.signal });
    }
    if (first.status !== 200) {
      const log = gw.logs.filter((l) => l.source === 'cams/added').map((l) => l.msg);
      throw new Error(`cams/added.flv answered ${first.status}: ${await first.text()}\nsource log:\n${log.join('\n')}`);
    }
    const result = await probe(`${gw.http}/cams/added.flv`, 1).finally(() => control.abort());
    expect(result.streams.map((s) => s.codec_name)).toEqual(['h264']);
    const list = (await (await fetch(`${gw.http}/api/v1/sources`)).json()) as { sources: { path: string; url: string }[] };
    expect(list.sources.map((s) => s.path)).toContain('cams/added');
    expect(list.sources.find((s) => s.path === 'cams/badpass')!.url).not.toContain('wrong');
    expect((await fetch(`${gw.http}/api/v1/sources/cams/added`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${gw.http}/api/v1/sources/cams/added`)).status).toBe(404);
  });
});

/**
 * A scripted camera that answers OPTIONS, DESCRIBE (one H.264 track), SETUP and PLAY, then hangs
 * up before sending any media: a camera that falls over as it starts streaming.
 */
async function dropsAfterPlay(): Promise<{ server: Server; port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    let buffered = '';
    socket.on('error', () => {});
    socket.on('data', (d) => {
      buffered += d.toString('latin1');
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        const method = head.split(' ')[0];
        const cseq = /CSeq:\s*(\d+)/i.exec(head)?.[1] ?? '0';
        const reply = (headers: string[], body = '') =>
          socket.write([`RTSP/1.0 200 OK`, `CSeq: ${cseq}`, ...headers, ...(body ? [`Content-Length: ${Buffer.byteLength(body)}`] : []), '', body].join('\r\n'));
        if (method === 'OPTIONS') reply(['Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN']);
        else if (method === 'DESCRIBE') {
          const sdp = ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=cam', 't=0 0', 'm=video 0 RTP/AVP 96', 'a=rtpmap:96 H264/90000', 'a=control:track0', ''].join('\r\n');
          reply(['Content-Type: application/sdp'], sdp);
        } else if (method === 'SETUP') reply(['Transport: RTP/AVP/TCP;unicast;interleaved=0-1', 'Session: 12345678']);
        else if (method === 'PLAY') {
          reply(['Session: 12345678']);
          setTimeout(() => socket.destroy(), 50);
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as { port: number }).port, connections: () => connections };
}

describe.skipIf(!hasTool('ffprobe') || !hasRtspCamera())('camera pulls without the RTSP server', () => {
  it('rtsp.enabled: false keeps camera pulls (gateway/sources) and their API', async () => {
    const camera = await startRtspCamera();
    const gw = await startGateway({
      rtsp: { enabled: false, pull: { idleCloseMs: 500 } },
      sources: { 'cams/norstsp': { url: camera.url('/h264') } },
    });
    try {
      expect(gw.gw.rtsp, 'no RTSP listener').toBeUndefined();
      const reader = readFlv(`${gw.http}/cams/norstsp.flv`);
      expect(await reader.status).toBe(200);
      await waitFor('video frames from the pull', () => reader.tags.filter((t) => t.type === 9 && !isSequenceHeaderTag(t)).length > 10, 20_000);
      expect(await sourceInfo(gw, 'cams/norstsp')).toMatchObject({ state: 'running', onDemand: true });
      // The pull published through the admission path: the hub knows it as an rtsp-pull publisher.
      expect(gw.gw.registry.get('cams/norstsp')?.publisher?.protocol).toBe('rtsp-pull');
      reader.close();
      await waitFor('idle close', async () => (await sourceInfo(gw, 'cams/norstsp')).state === 'idle', 10_000);
    } finally {
      await gw.stop();
      await camera.stop();
    }
  });
});

describe('RTSP camera pull, camera down', () => {
  let gw: TestGateway;
  let dead: Server;
  let connections = 0;
  let flaky: Awaited<ReturnType<typeof dropsAfterPlay>>;

  beforeAll(async () => {
    // Accepts and hangs up at once: a camera whose RTSP service is down.
    dead = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
    const port = (dead.address() as { port: number }).port;
    flaky = await dropsAfterPlay();
    gw = await startGateway({
      rtsp: { pull: { retryInitialMs: 100, retryMaxMs: 200 } },
      hub: { readyTimeoutMs: 1500 },
      sources: {
        'cams/dead': { url: `rtsp://127.0.0.1:${port}/stream` },
        'cams/dropsafterplay': { url: `rtsp://127.0.0.1:${flaky.port}/stream` },
      },
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await new Promise((r) => dead?.close(r));
    await new Promise((r) => flaky?.server.close(r));
  });

  it('a camera that hangs up after PLAY, before any keyframe, keeps being retried while the reader waits', async () => {
    const res = await fetch(`${gw.http}/cams/dropsafterplay.flv`);
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('SG_ERR_SOURCE_UNAVAILABLE');
    expect(body.error.message).toMatch(/no picture within 1500 ms \(last error: .*closed the connection/);
    expect(flaky.connections(), 'retried after PLAY succeeded').toBeGreaterThan(2);
  });

  it('the reader waits hub.readyTimeoutMs while the gateway retries, then gets 502 with the last error; the source goes idle', async () => {
    const started = Date.now();
    const res = await fetch(`${gw.http}/cams/dead.flv`);
    const waited = Date.now() - started;
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('SG_ERR_SOURCE_UNAVAILABLE');
    expect(body.error.message).toMatch(/no picture within 1500 ms \(last error: .*closed the connection/);
    expect(waited).toBeGreaterThanOrEqual(1400);
    expect(connections, 'retried while the reader waited').toBeGreaterThan(3);
    // Nobody waits or reads any more: the on-demand source stops instead of retrying forever.
    await waitFor('the source to go idle', async () => (await sourceInfo(gw, 'cams/dead')).state === 'idle', 3000, 50);
    const after = connections;
    await sleep(1000);
    expect(connections).toBe(after);
  });

  it('HLS answers the same 502 for the dead camera', async () => {
    const res = await fetch(`${gw.http}/cams/dead/index.m3u8`);
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('SG_ERR_SOURCE_UNAVAILABLE');
  });
});

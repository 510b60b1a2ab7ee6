import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { hashPassword } from '../../gateway/auth/passwords.js';
import { createToken } from '../../gateway/auth/tokens.js';
import { encodeAmf0 } from '../../gateway/formats/amf0.js';
import { publish, probe, type Publisher } from '../helpers/ffmpeg.js';
import { readFlv } from '../helpers/flv-client.js';
import { sleep, startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { rawRtmp, type RawRtmp } from '../helpers/rtmp-client.js';
import { rawRtsp } from '../helpers/rtsp-client.js';
import { hasTool } from '../helpers/tools.js';

const SECRET = 'test-secret-0123456789';
const keys = { k1: SECRET };
const ADMIN = 'admin-bearer-token';
const READER = 'read-bearer-token';

/** RTMP publish or play with a raw client; resolves to the onStatus code the gateway answered. */
async function rtmpAttempt(port: number, action: 'publish' | 'play', app: string, streamName: string): Promise<string> {
  const c: RawRtmp = await rawRtmp(port);
  try {
    c.command('connect', 1, { app, tcUrl: `rtmp://127.0.0.1:${port}/${app}` });
    c.command('createStream', 2, null);
    c.message(8, 20, 1, 0, encodeAmf0(action, 3, null, streamName, ...(action === 'publish' ? ['live'] : [])));
    const deadline = Date.now() + 5000;
    for (;;) {
      const text = c.received().toString('latin1');
      const m = /NetStream\.(Publish|Play)\.(Start|BadName|StreamNotFound|Failed)/.exec(text);
      if (m) return m[0];
      if (Date.now() > deadline) return 'timeout';
      await sleep(20);
    }
  } finally {
    c.close();
  }
}

/** WS-FLV or rooms: 'open' when data or a welcome arrives, else the close code. */
function wsAttempt(url: string): Promise<string | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    const t = setTimeout(() => {
      ws.terminate();
      resolve('timeout');
    }, 5000);
    ws.on('message', (d: Buffer, binary) => {
      if (binary || String(d).includes('"welcome"')) {
        clearTimeout(t);
        ws.terminate();
        resolve('open');
      }
    });
    ws.on('close', (code) => {
      clearTimeout(t);
      resolve(code);
    });
    ws.on('unexpected-response', (_req, res) => {
      clearTimeout(t);
      resolve(res.statusCode ?? 0);
    });
    ws.on('error', () => {});
  });
}

describe.skipIf(!hasTool('ffmpeg'))('access control on every protocol', () => {
  let g: TestGateway;
  let hook: Server;
  let hookPort: number;
  const hookCalls: { url: string; body: any }[] = [];
  const pubs: Publisher[] = [];
  let rtmpPort: number;

  const tok = (action: 'publish' | 'play' | 'room' | 'admin', path: string, ttl = 600) => createToken(keys, 'k1', action, path, ttl);
  const expired = (action: 'publish' | 'play' | 'room', path: string) => createToken(keys, 'k1', action, path, 1, Date.now() - 60_000);

  beforeAll(async () => {
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const parsed = JSON.parse(body);
        hookCalls.push({ url: req.url!, body: parsed });
        if (parsed.stream.startsWith('slow')) return; // never answers: the gateway must time out
        if (parsed.stream.startsWith('deny')) {
          res.writeHead(403).end('no');
          return;
        }
        if (parsed.stream.startsWith('srsdeny')) {
          res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"code":1}');
          return;
        }
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"code":0}');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
    hookPort = (hook.address() as { port: number }).port;
    g = await startGateway({
      auth: {
        rules: [
          { paths: 'live/*', mode: 'token' },
          { paths: 'keys/*', mode: 'keys', publishKey: 'pub-key', playKey: 'play-key' },
          { paths: 'hook/*', mode: 'hook' },
          { paths: 'gone/*', mode: 'hook' },
        ],
        keys,
        hooks: {
          onPublish: `http://127.0.0.1:${hookPort}/on_publish`,
          onPlay: `http://127.0.0.1:${hookPort}/on_play`,
          onUnpublish: `http://127.0.0.1:${hookPort}/on_unpublish`,
          onRoomJoin: `http://127.0.0.1:${hookPort}/on_room_join`,
          timeoutMs: 500,
        },
        admin: { tokens: [{ token: ADMIN, role: 'admin' }, { token: READER, role: 'read' }], publicReads: false },
      },
      rooms: { hostRule: 'names' },
    });
    rtmpPort = Number(new URL(g.rtmp).port);
    // a live stream to play, published with a valid token
    pubs.push(publish(`${g.rtmp}/live/cam1?token=${tok('publish', 'live/cam1')}`, {}));
    pubs.push(publish(`${g.rtmp}/keys/cam1?token=pub-key`, {}));
    await waitFor('streams ready', () => g.gw.registry.get('live/cam1')?.ready && g.gw.registry.get('keys/cam1')?.ready, 20_000);
  });

  afterAll(async () => {
    await Promise.all(pubs.map((p) => p.stop()));
    await g?.stop();
    hook?.close();
  });

  describe('signed tokens (live/*)', () => {
    const cases: [string, () => string | undefined, string][] = [
      ['no credential', () => undefined, 'refused'],
      ['wrong credential', () => 'v1.k1.publish.bGl2ZS9jYW0y.9999999999.AAAA', 'refused'],
      ['expired token', () => expired('publish', 'live/cam2'), 'refused'],
      ['token for another path', () => tok('publish', 'live/other'), 'refused'],
      ['token for play used to publish', () => tok('play', 'live/cam2'), 'refused'],
      ['valid token', () => tok('publish', 'live/cam2'), 'ok'],
    ];
    for (const [name, credential, expected] of cases) {
      it(`RTMP publish: ${name} → ${expected}`, async () => {
        const t = credential();
        const code = await rtmpAttempt(rtmpPort, 'publish', 'live', t ? `cam2?token=${t}` : 'cam2');
        expect(code).toBe(expected === 'ok' ? 'NetStream.Publish.Start' : 'NetStream.Publish.BadName');
      });
    }

    const playCases: [string, () => string | undefined, 'ok' | 401 | 403][] = [
      ['no credential', () => undefined, 401],
      ['wrong credential', () => 'garbage', 403],
      ['expired token', () => expired('play', 'live/cam1'), 403],
      ['token for another path', () => tok('play', 'live/cam9'), 403],
      ['valid token', () => tok('play', 'live/cam1'), 'ok'],
    ];
    for (const [name, credential, expected] of playCases) {
      it(`HTTP-FLV, WS-FLV, RTMP play and rooms: ${name} → ${expected}`, async () => {
        const t = credential();
        const q = t ? `?token=${encodeURIComponent(t)}` : '';
        const res = await fetch(`${g.http}/live/cam1.flv${q}`);
        expect(res.status).toBe(expected === 'ok' ? 200 : expected);
        await res.body?.cancel();
        expect(await wsAttempt(`${g.ws}/live/cam1.flv${q}`)).toBe(expected === 'ok' ? 'open' : expected === 401 ? 4401 : 4403);
        expect(await rtmpAttempt(rtmpPort, 'play', 'live', `cam1${q}`)).toBe(expected === 'ok' ? 'NetStream.Play.Start' : 'NetStream.Play.Failed');
        const rq = t ? `&token=${encodeURIComponent(t)}` : '';
        expect(await wsAttempt(`${g.ws}/api/v1/rooms/live/cam1/ws?name=alice${rq}`)).toBe(expected === 'ok' ? 'open' : expected === 401 ? 4401 : 4403);
      });
    }

    it('RTSP play: no credential 401, wrong 403, ?token= and Basic user:token@ both work', async () => {
      const rtsp = new URL(g.rtsp);
      await expect(probe(`${g.rtsp}/live/cam1`, 1)).rejects.toThrow(/401/);
      await expect(probe(`${g.rtsp}/live/cam1?token=${tok('play', 'live/other')}`, 1)).rejects.toThrow(/403/);
      const viaQuery = await probe(`${g.rtsp}/live/cam1?token=${tok('play', 'live/cam1')}`, 1);
      expect(viaQuery.streams.length).toBeGreaterThan(0);
      const viaBasic = await probe(`rtsp://viewer:${tok('play', 'live/cam1')}@${rtsp.host}/live/cam1`, 1);
      expect(viaBasic.streams.length).toBeGreaterThan(0);
    });

    it('RTSP SETUP without DESCRIBE is checked like DESCRIBE (no way around the credential)', async () => {
      const c = await rawRtsp(Number(new URL(g.rtsp).port));
      const answer = await c.request('SETUP', `${g.rtsp}/live/cam1/trackID=0`, ['Transport: RTP/AVP/TCP;unicast;interleaved=0-1']);
      expect(answer.status).toBe(401);
      c.close();
    });

    it('RTSP publish: refused without a token, accepted with one', async () => {
      const bad = publish(`${g.rtsp}/live/rtsp1`, { format: 'rtsp', duration: 5 });
      pubs.push(bad);
      expect(await bad.exited).not.toBe(0);
      const good = publish(`${g.rtsp}/live/rtsp1?token=${tok('publish', 'live/rtsp1')}`, { format: 'rtsp' });
      pubs.push(good);
      await waitFor('RTSP publish with token', () => g.gw.registry.get('live/rtsp1')?.ready, 20_000);
    });

    it('HLS: playlist refused without a token; with one, segment URLs carry it', async () => {
      expect((await fetch(`${g.http}/live/cam1/index.m3u8`)).status).toBe(401);
      const t = tok('play', 'live/cam1');
      const res = await fetch(`${g.http}/live/cam1/index.m3u8?token=${encodeURIComponent(t)}`);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain(`token=${encodeURIComponent(t)}`);
    }, 30_000);

    it('logs refusals with client address, path and reason', () => {
      const line = g.logs.find((l) => String(l.msg).includes('refused play of live/cam1') && String(l.msg).includes('token expired'));
      expect(line).toBeDefined();
      expect(String(line!.conn)).toMatch(/^127\.0\.0\.1:\d+$/);
    });
  });

  describe('static keys (keys/*)', () => {
    it('RTSP play takes the play key through Digest auth (and Basic), refuses a wrong one', async () => {
      const host = new URL(g.rtsp).host;
      await expect(probe(`rtsp://viewer:wrong@${host}/keys/cam1`, 1)).rejects.toThrow(/40[13]/);
      // ffmpeg answers a Digest challenge with Digest when the server offers it first
      const ok = await probe(`rtsp://viewer:play-key@${host}/keys/cam1`, 1);
      expect(ok.streams.length).toBeGreaterThan(0);
    });

    it('publish needs the publish key; play the play key (or the publish key)', async () => {
      expect(await rtmpAttempt(rtmpPort, 'publish', 'keys', 'cam2')).toBe('NetStream.Publish.BadName');
      expect(await rtmpAttempt(rtmpPort, 'publish', 'keys', 'cam2?token=play-key')).toBe('NetStream.Publish.BadName');
      expect(await rtmpAttempt(rtmpPort, 'publish', 'keys', 'cam2?token=pub-key')).toBe('NetStream.Publish.Start');
      expect((await fetch(`${g.http}/keys/cam1.flv`)).status).toBe(401);
      expect((await fetch(`${g.http}/keys/cam1.flv?token=nope`)).status).toBe(403);
      const ok = await fetch(`${g.http}/keys/cam1.flv?token=play-key`);
      expect(ok.status).toBe(200);
      await ok.body?.cancel();
    });
  });

  describe('HTTP hooks (hook/*)', () => {
    it('allows on 2xx and sends an SRS-shaped body', async () => {
      expect(await rtmpAttempt(rtmpPort, 'publish', 'hook', 'allow1?token=abc')).toBe('NetStream.Publish.Start');
      const call = hookCalls.find((c) => c.body.stream === 'allow1')!;
      expect(call.url).toBe('/on_publish');
      expect(call.body).toMatchObject({ action: 'on_publish', app: 'hook', stream: 'allow1', param: '?token=abc', vhost: '__defaultVhost__', ip: '127.0.0.1', protocol: 'rtmp', token: 'abc' });
      await waitFor('on_unpublish notification', () => hookCalls.some((c) => c.url === '/on_unpublish' && c.body.stream === 'allow1'));
    });

    it('refuses on a non-2xx answer, on an SRS {"code":1}, on a timeout and when unreachable', async () => {
      expect(await rtmpAttempt(rtmpPort, 'publish', 'hook', 'deny1')).toBe('NetStream.Publish.BadName');
      expect(await rtmpAttempt(rtmpPort, 'publish', 'hook', 'srsdeny1')).toBe('NetStream.Publish.BadName');
      const t0 = Date.now();
      expect(await rtmpAttempt(rtmpPort, 'publish', 'hook', 'slow1')).toBe('NetStream.Publish.BadName');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
      expect(g.logs.some((l) => String(l.msg).includes('on_publish hook timed out after 500 ms'))).toBe(true);
      hook.close();
      hook.closeAllConnections();
      await sleep(50);
      expect(await rtmpAttempt(rtmpPort, 'publish', 'gone', 'x')).toBe('NetStream.Publish.BadName');
      expect(g.logs.some((l) => String(l.msg).includes('on_publish hook unreachable'))).toBe(true);
    });
  });

  describe('admin API', () => {
    it('refuses without a credential (401) and a read-only or play credential for changes (403)', async () => {
      expect((await fetch(`${g.http}/api/v1/streams`)).status).toBe(401);
      expect((await fetch(`${g.http}/api/v1/streams`, { headers: { Authorization: `Bearer ${READER}` } })).status).toBe(200);
      expect((await fetch(`${g.http}/api/v1/streams/live/none`, { method: 'DELETE', headers: { Authorization: `Bearer ${READER}` } })).status).toBe(403);
      expect((await fetch(`${g.http}/api/v1/streams/live/none`, { method: 'DELETE', headers: { Authorization: `Bearer ${tok('play', 'live/cam1')}` } })).status).toBe(403);
      expect((await fetch(`${g.http}/api/v1/streams/live/none`, { method: 'DELETE', headers: { Authorization: `Bearer ${ADMIN}` } })).status).toBe(404);
      expect((await fetch(`${g.http}/api/v1/streams?token=${encodeURIComponent(tok('admin', '**'))}`)).status).toBe(200);
    });

    it('puts /metrics behind the same read credential (publicReads: false)', async () => {
      expect((await fetch(`${g.http}/metrics`)).status).toBe(401);
      expect((await fetch(`${g.http}/metrics`, { headers: { Authorization: `Bearer ${tok('play', 'live/cam1')}` } })).status).toBe(403);
      const res = await fetch(`${g.http}/metrics`, { headers: { Authorization: `Bearer ${READER}` } });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('streamgate_streams');
    });

    it('mints tokens for admins', async () => {
      const res = await fetch(`${g.http}/api/v1/tokens`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ action: 'play', path: 'live/cam1', ttl: '10m' }),
      });
      expect(res.status).toBe(201);
      const body = await res.json();
      expect(body.urls.flv).toContain('/live/cam1.flv?token=');
      const play = await fetch(body.urls.flv.replace(/^http:\/\/[^/]+/, g.http));
      expect(play.status).toBe(200);
      await play.body?.cancel();
    });
  });
});

describe.skipIf(!hasTool('ffmpeg'))('media behind the API follows the play rules, with publicReads on', () => {
  let g: TestGateway;
  let dir: string;
  let pub: Publisher;
  const status = async (path: string, init?: RequestInit) => {
    const res = await fetch(`${g.http}/api/v1/${path}`, init);
    await res.body?.cancel();
    return res.status;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sg-content-'));
    g = await startGateway({
      dataDir: dir,
      auth: {
        rules: [{ paths: 'keys/*', mode: 'keys', publishKey: 'pub-key', playKey: 'play-key' }],
        admin: {
          tokens: [{ token: ADMIN, role: 'admin' }, { token: READER, role: 'read' }],
          users: [{ name: 'ops', scrypt: hashPassword('ops-pass'), role: 'read' }],
          publicReads: true,
        },
      },
      record: { rules: { 'keys/*': { segment: '2s' } } },
    });
    pub = publish(`${g.rtmp}/keys/cam1?token=pub-key`, { fps: 25, gop: 25, duration: 30 });
    await waitFor('a closed recording of keys/cam1', async () => {
      const res = (await (await fetch(`${g.http}/api/v1/recordings?path=keys/cam1`)).json()) as { recordings: { recording: boolean }[] };
      return res.recordings.some((r) => !r.recording);
    }, 20_000);
    const res = await fetch(`${g.http}/api/v1/rooms/keys/cam1/messages`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'gate 3 is open' }),
    });
    expect(res.status).toBe(201);
  });

  afterAll(async () => {
    await pub?.stop();
    await g?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('metadata stays public: stream, recording and room lists answer without a credential', async () => {
    expect(await status('streams')).toBe(200);
    expect(await status('streams/keys/cam1')).toBe(200);
    expect(await status('recordings?path=keys/cam1')).toBe(200);
    expect(await status('rooms')).toBe(200);
  });

  it('a snapshot needs the play key (401 without, 403 wrong) or a read credential', async () => {
    expect(await status('streams/keys/cam1/snapshot.jpg')).toBe(401);
    expect(await status('streams/keys/cam1/snapshot.jpg?token=wrong')).toBe(403);
    const res = await fetch(`${g.http}/api/v1/streams/keys/cam1/snapshot.jpg?token=play-key`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await res.arrayBuffer()).subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect(await status('streams/keys/cam1/snapshot.jpg', { headers: { Authorization: `Bearer ${READER}` } })).toBe(200);
    expect(await status('streams/keys/cam1/snapshot.jpg', { headers: { Authorization: 'Bearer play-key' } })).toBe(200);
    const basic = (user: string, pass: string) => ({ headers: { Authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` } });
    expect(await status('streams/keys/cam1/snapshot.jpg', basic('ops', 'ops-pass'))).toBe(200);
    expect(await status('streams/keys/cam1/snapshot.jpg', basic('ops', 'wrong'))).toBe(401);
  });

  it('a recording download needs the play key or a read credential; the listing does not', async () => {
    const list = (await (await fetch(`${g.http}/api/v1/recordings?path=keys/cam1`)).json()) as { recordings: { url: string; recording: boolean }[] };
    const url = list.recordings.find((r) => !r.recording)!.url.replace('/api/v1/', '');
    expect(await status(url)).toBe(401);
    expect(await status(`${url}?token=wrong`)).toBe(403);
    expect(await status(url, { method: 'HEAD' })).toBe(401);
    const res = await fetch(`${g.http}/api/v1/${url}?token=play-key`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect(await status(url, { headers: { Authorization: `Bearer ${READER}` } })).toBe(200);
  });

  it('room message history needs the room access (the play key here) or a read credential', async () => {
    expect(await status('rooms/keys/cam1/messages')).toBe(401);
    expect(await status('rooms/keys/cam1/messages?token=wrong')).toBe(403);
    const res = await fetch(`${g.http}/api/v1/rooms/keys/cam1/messages?token=play-key`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { messages: { text: string }[] }).messages.map((m) => m.text)).toEqual(['gate 3 is open']);
    expect(await status('rooms/keys/cam1/messages', { headers: { Authorization: `Bearer ${READER}` } })).toBe(200);
  });

  it('spellings the router also accepts (trailing slash, other letter case) are checked the same', async () => {
    const list = (await (await fetch(`${g.http}/api/v1/recordings?path=keys/cam1`)).json()) as { recordings: { url: string; recording: boolean }[] };
    const file = list.recordings.find((r) => !r.recording)!.url.replace('/api/v1/recordings/', '');
    for (const url of [
      'streams/keys/cam1/snapshot.jpg/',
      'Streams/keys/cam1/Snapshot.JPG',
      `recordings/${file}/`,
      `RECORDINGS/${file}`,
      'rooms/keys/cam1/messages/',
      'ROOMS/keys/cam1/messages',
    ]) {
      expect(await status(url), url).toBe(401);
    }
  });

  it('paths without a rule stay open, as before', async () => {
    expect(await status('rooms/open/room/messages')).toBe(404); // reached the handler: no such room
    expect(await status('recordings/open/cam/2000-01-01T00-00-00.000Z.mp4')).toBe(404);
  });
});

describe('admin API without credentials', () => {
  it('allows changes from loopback only, and ignores a player token on reads', async () => {
    const g = await startGateway();
    try {
      expect((await fetch(`${g.http}/api/v1/streams`)).status).toBe(200);
      expect((await fetch(`${g.http}/api/v1/streams?token=some-play-key`)).status).toBe(200);
      expect((await fetch(`${g.http}/api/v1/streams/live/x`, { method: 'DELETE' })).status).toBe(404); // reached the handler
    } finally {
      await g.stop();
    }
  });
});

describe('connection limits and slow clients', () => {
  it('refuses connections past the per-IP cap', async () => {
    const g = await startGateway({ auth: { limits: { maxConnectionsPerIp: 3 } } });
    const port = Number(new URL(g.rtmp).port);
    try {
      const open = await Promise.all([0, 1, 2].map(() => rawRtmp(port)));
      const fourth = connect(port, '127.0.0.1');
      fourth.on('error', () => {});
      const closed = await Promise.race([new Promise((r) => fourth.once('close', () => r('closed'))), sleep(3000).then(() => 'open')]);
      expect(closed).toBe('closed');
      expect(g.logs.some((l) => String(l.msg).includes('more than 3 connections from 127.0.0.1'))).toBe(true);
      for (const c of open) c.close();
      await sleep(100);
      const again = await rawRtmp(port);
      again.close();
    } finally {
      await g.stop();
    }
  });

  it('closes an HTTP client that never finishes its headers (slowloris)', async () => {
    const g = await startGateway({ http: { headersTimeoutMs: 1000 } });
    try {
      const s = connect(Number(new URL(g.http).port), '127.0.0.1');
      s.on('error', () => {});
      await new Promise((r) => s.once('connect', r));
      s.write('GET /live/x.flv HTTP/1.1\r\nHost: x\r\n');
      let answer = '';
      s.on('data', (d) => (answer += String(d)));
      const t0 = Date.now();
      const iv = setInterval(() => s.writable && s.write('X-Slow: 1\r\n'), 200);
      await new Promise((r) => s.once('close', r));
      clearInterval(iv);
      // Node checks the headers timeout on a coarse timer: allow it a few seconds.
      expect(Date.now() - t0).toBeLessThan(8000);
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      await g.stop();
    }
  }, 20_000);
});

describe.skipIf(!hasTool('ffmpeg') || !hasTool('openssl', ['version']))('TLS', () => {
  let g: TestGateway;
  let pub: Publisher;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sg-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    g = await startGateway({ tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), httpsPort: 0, rtmpsPort: 0 } });
  });
  afterAll(async () => {
    await pub?.stop();
    await g?.stop();
  });

  it('takes an RTMPS publish and serves HTTPS-FLV and WSS-FLV', async () => {
    const { https, rtmps } = g.gw.ports;
    pub = publish(`rtmps://127.0.0.1:${rtmps}/live/secure`, {});
    await waitFor('stream ready over RTMPS', () => g.gw.registry.get('live/secure')?.ready, 20_000);
    const result = await probe(`https://127.0.0.1:${https}/live/secure.flv`, 2, ['-tls_verify', '0']);
    expect(result.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    const ws = new WebSocket(`wss://127.0.0.1:${https}/live/secure.flv`, { rejectUnauthorized: false });
    const got = await new Promise<number>((resolve) => {
      let n = 0;
      ws.on('message', () => {
        if (++n >= 20) resolve(n);
      });
      setTimeout(() => resolve(n), 8000);
    });
    ws.terminate();
    expect(got).toBeGreaterThanOrEqual(20);
  });

  it('reloads the certificate without dropping streams', async () => {
    const cap = readFlv(`${g.http}/live/secure.flv`);
    await waitFor('frames', () => cap.tags.length > 5);
    writeFileSync(join(dir, 'cert.pem'), readFileSync(join(dir, 'cert.pem')));
    g.gw.reloadTls();
    const n = cap.tags.length;
    await waitFor('frames after reload', () => cap.tags.length > n + 10);
    expect(g.logs.some((l) => l.msg === 'TLS certificate reloaded')).toBe(true);
    cap.close();
  });
});

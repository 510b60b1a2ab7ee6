/**
 * SRT ingest: real ffmpeg callers publishing MPEG-TS over SRT (libsrt on both sides), read back
 * over HTTP-FLV, RTMP and RTSP with ffprobe; refusals (passphrase, token, hook, codec) answered in
 * the SRT handshake; a lossy UDP relay in between still plays. Port 0 everywhere.
 */
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer, get as httpGet, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlvDemuxer } from '../../gateway/protocols/flv/demux.js';
import { decode, probe, publish, type Publisher, runFfmpeg } from '../helpers/ffmpeg.js';
import { sleep, startGateway, type TestGateway, waitFor } from '../helpers/gateway.js';
import { hasTool } from '../helpers/tools.js';
import { lossyRelay } from '../helpers/udp-relay.js';
import { buildInduction, HS_CONCLUSION, parseHandshake } from '../../gateway/protocols/srt/handshake.js';

function ffmpegHasSrt(): boolean {
  if (!hasTool('ffmpeg') || !hasTool('ffprobe')) return false;
  const protocols = execFileSync('ffmpeg', ['-hide_banner', '-protocols'], { encoding: 'utf8' });
  const ok = /^\s*srt\s*$/m.test(protocols.split(/^Output:/m)[0] ?? '');
  if (!ok) process.stderr.write('\n*** SKIPPING SRT tests: this ffmpeg has no srt protocol (libsrt); Debian\'s ffmpeg has it ***\n\n');
  return ok;
}

const SRT = ffmpegHasSrt();

/** srt:// URL of a caller publishing with `streamId` (and more caller options). */
function srtUrl(base: string, streamId: string, extra: Record<string, string> = {}): string {
  const params = Object.entries({ streamid: streamId, ...extra }).map(([k, v]) => `${k}=${v}`);
  return `${base}?${params.join('&')}`;
}

function srtPublish(url: string, o: Parameters<typeof publish>[1] = {}): Publisher {
  return publish(url, { format: 'mpegts', duration: 30, ...o });
}

describe.skipIf(!SRT)('SRT ingest', () => {
  let g: TestGateway;
  const pubs: Publisher[] = [];

  beforeAll(async () => {
    g = await startGateway({ srt: { latencyMs: 120 } });
  });

  afterAll(async () => {
    await Promise.all(pubs.map((p) => p.stop()));
    await g?.stop();
  });

  it('publishes H.264 + AAC with the access control streamid, read back over HTTP-FLV and RTMP', async () => {
    pubs.push(srtPublish(srtUrl(g.srt, '#!::r=live/cam1,m=publish,t=TOPSECRET')));
    const ready = (path: string) => {
      const s = g.gw.registry.get(path);
      return s?.ready && s.audioTrack ? s : undefined;
    };
    const stream = await waitFor('live/cam1 ready with audio', () => ready('live/cam1'), 20_000);
    expect(stream.videoTrack).toMatchObject({ codec: 'H264', width: 320, height: 240 });
    expect(stream.audioTrack).toMatchObject({ codec: 'AAC', sampleRate: 44100 });
    const flv = await probe(`${g.http}/live/cam1.flv`, 2);
    expect(flv.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    expect(flv.packets.filter((p) => p.codec_type === 'video').length).toBeGreaterThan(20);
    const rtmp = await probe(`${g.rtmp}/live/cam1`, 2);
    expect(rtmp.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    const api = (await (await fetch(`${g.http}/api/v1/streams/live/cam1`)).json()) as { publisher: { protocol: string; remoteAddress: string } };
    expect(api.publisher.protocol).toBe('srt');
    expect(api.publisher.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('publishes H.265 + AAC with the plain streamid form, read back over RTSP', async () => {
    pubs.push(srtPublish(srtUrl(g.srt, 'live/cam265'), { video: 'h265' }));
    const stream = await waitFor('live/cam265 ready with audio', () => {
      const s = g.gw.registry.get('live/cam265');
      return s?.ready && s.audioTrack ? s : undefined;
    }, 20_000);
    expect(stream.videoTrack).toMatchObject({ codec: 'H265', width: 320, height: 240 });
    const rtsp = await probe(`${g.rtsp}/live/cam265`, 2, ['-rtsp_transport', 'tcp']);
    expect(rtsp.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'hevc']);
  });

  it('plays a stream to an SRT caller with m=request (ffprobe as the caller), counted as an srt reader', async () => {
    await waitFor('live/cam1 ready', () => g.gw.registry.get('live/cam1')?.ready, 20_000);
    const played = probe(srtUrl(g.srt, '#!::r=live/cam1,m=request'), 2);
    await waitFor('an srt reader', () => g.gw.registry.get('live/cam1')?.readerStats().some((r) => r.protocol === 'srt'), 10_000);
    const result = await played;
    expect(result.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    expect(result.packets.filter((p) => p.codec_type === 'video').length).toBeGreaterThan(20);
  });

  it('refuses to play a path nobody publishes, in the handshake (1404)', async () => {
    const p = runFfmpeg(['-hide_banner', '-v', 'error', '-i', srtUrl(g.srt, '#!::r=live/nobody,m=request'), '-t', '1', '-f', 'null', '-']);
    pubs.push(p);
    expect(await p.exited).not.toBe(0);
    const line = await waitFor('the refusal', () => g.logs.find((l) => String(l.msg).startsWith('SRT caller refused') && l.code === 'SG_ERR_STREAM_NOT_FOUND'), 10_000);
    expect(line.srtReason).toBe(1404);
  });

  it('refuses a second publisher of a path in the handshake (1409), the first one keeps going', async () => {
    await waitFor('live/cam1 ready', () => g.gw.registry.get('live/cam1')?.ready, 20_000);
    const before = g.gw.registry.get('live/cam1')!.publisher;
    const p = srtPublish(srtUrl(g.srt, 'live/cam1'), { duration: 5 });
    pubs.push(p);
    expect(await p.exited).not.toBe(0);
    const line = await waitFor('the refusal', () => g.logs.find((l) => String(l.msg).startsWith('SRT caller refused') && l.code === 'SG_ERR_PATH_BUSY'), 10_000);
    expect(line.srtReason).toBe(1409);
    expect(g.gw.registry.get('live/cam1')!.publisher).toBe(before);
  });

  it('keeps tokens out of its log lines', () => {
    expect(g.logs.some((l) => JSON.stringify(l).includes('t=TOPSECRET'))).toBe(false);
  });

  it('starts nothing for datagrams that are not an SRT induction, and refuses a version 4 conclusion', async () => {
    const port = Number(new URL(g.srt.replace('srt:', 'http:')).port);
    const sock = createSocket('udp4');
    const answers: Buffer[] = [];
    sock.on('message', (m) => answers.push(m));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    try {
      const before = g.gw.srt!.connectionCount;
      const stray = g.gw.srt!.strayPackets;
      for (const junk of [Buffer.from('hello'), Buffer.alloc(64, 0x80), Buffer.alloc(1500, 0x47)]) sock.send(junk, port, '127.0.0.1');
      await waitFor('the stray datagrams counted', () => g.gw.srt!.strayPackets >= stray + 3, 5000);
      expect(g.gw.srt!.connectionCount).toBe(before);
      sock.send(buildInduction(42), port, '127.0.0.1');
      await waitFor('the induction answer', () => answers.some((a) => parseHandshake(a)?.version === 5), 5000);
      const v4 = buildInduction(42);
      v4.writeUInt32BE(HS_CONCLUSION, 16 + 20);
      sock.send(v4, port, '127.0.0.1');
      const rejection = await waitFor('the rejection', () => answers.map((a) => parseHandshake(a)).find((h) => h && h.type === 1008), 5000);
      expect(rejection.socketId).toBe(0);
    } finally {
      sock.close();
    }
  });

  it('refuses MP2 audio with the unsupported codec error and cuts the caller', async () => {
    const p = srtPublish(srtUrl(g.srt, '#!::r=live/mp2,m=publish'), { audio: 'mp2' });
    pubs.push(p);
    await waitFor('the refusal in the log', () => g.logs.find((l) => String(l.msg).includes('SRT publisher refused: unsupported codec MPEG-1 audio (MP2/MP3)')), 20_000);
    const line = g.logs.find((l) => String(l.msg).includes('SRT publisher refused'))!;
    expect(line.msg).toContain('supported: H264 (stream_type 0x1B), H265 (0x24), AAC ADTS (0x0F)');
    expect(line.code).toBe('SG_ERR_UNSUPPORTED_CODEC');
    await waitFor('the caller to be cut', () => p.proc.exitCode !== null || p.proc.signalCode !== null, 15_000);
    expect(g.gw.registry.get('live/mp2')?.ready ?? false).toBe(false);
  });

  it('refuses a streamid without a valid path in the handshake', async () => {
    const p = srtPublish(srtUrl(g.srt, '#!::r=../etc,m=publish'), { duration: 5 });
    pubs.push(p);
    const code = await p.exited;
    expect(code).not.toBe(0);
    expect(p.stderr()).toMatch(/reject|failed/i);
  });

  it('still plays through a relay dropping 5 % of the packets each way', async () => {
    const relay = await lossyRelay(Number(new URL(g.srt.replace('srt:', 'http:')).port), 0.05, 7);
    try {
      const p = srtPublish(srtUrl(`srt://127.0.0.1:${relay.port}`, '#!::r=live/lossy,m=publish', { latency: '400000' }), { duration: 30 });
      pubs.push(p);
      await waitFor('live/lossy ready', () => g.gw.registry.get('live/lossy')?.ready, 25_000);
      const result = await decode(`${g.http}/live/lossy.flv`, 4);
      expect(result.code).toBe(0);
      // 4 s at 25 fps; ARQ within the 400 ms latency recovers the losses.
      expect(result.frames).toBeGreaterThanOrEqual(80);
      expect(relay.stats.dropped).toBeGreaterThan(20);
      const api = (await (await fetch(`${g.http}/api/v1/srt/connections`)).json()) as { connections: { path: string; state: string; mode: string; mpegts?: { continuityErrors: number; videoFrames: number } }[] };
      const lossy = api.connections.find((c) => c.path === 'live/lossy')!;
      expect(lossy).toMatchObject({ state: 'live', mode: 'publish' });
      // libsrt recovered every loss: the TS arrives whole.
      expect(lossy.mpegts!.continuityErrors).toBe(0);
      expect(lossy.mpegts!.videoFrames).toBeGreaterThan(80);
    } finally {
      await relay.close();
    }
  });
});

describe.skipIf(!SRT)('SRT passphrase', () => {
  let g: TestGateway;
  const pubs: Publisher[] = [];
  const PASS = 'field-secret-42';

  beforeAll(async () => {
    g = await startGateway({ srt: { passphrase: PASS } });
  });

  afterAll(async () => {
    await Promise.all(pubs.map((p) => p.stop()));
    await g?.stop();
  });

  it('takes a caller with the passphrase (AES)', async () => {
    pubs.push(srtPublish(srtUrl(g.srt, '#!::r=live/aes,m=publish', { passphrase: PASS }), { duration: 10 }));
    await waitFor('live/aes ready', () => g.gw.registry.get('live/aes')?.ready, 20_000);
    const flv = await probe(`${g.http}/live/aes.flv`, 1);
    expect(flv.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
  });

  it.each([
    { name: 'a wrong passphrase', extra: { passphrase: 'not-the-secret' } as Record<string, string>, code: 'SG_ERR_FORBIDDEN', says: /Incorrect passphrase|BADSECRET|reject/i },
    { name: 'no passphrase', extra: {} as Record<string, string>, code: 'SG_ERR_UNAUTHORIZED', says: /reject|failed/i },
  ])('refuses a caller with $name in the handshake', async ({ extra, code, says }) => {
    const p = srtPublish(srtUrl(g.srt, '#!::r=live/wrongkey,m=publish', extra), { duration: 5 });
    pubs.push(p);
    const started = Date.now();
    expect(await p.exited).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(p.stderr()).toMatch(says);
    await waitFor('the refusal in the log', () => g.logs.find((l) => String(l.msg).startsWith('SRT caller refused') && l.code === code), 5000);
    expect(g.gw.registry.get('live/wrongkey')).toBeUndefined();
    const metrics = await (await fetch(`${g.http}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`streamgate_refusals_total\\{protocol="srt",reason="${code}"\\} [1-9]`));
  });
});

describe.skipIf(!SRT)('SRT access control', () => {
  let g: TestGateway;
  let hook: Server;
  const calls: { url: string; body: { stream: string; protocol?: string; action: string } }[] = [];
  const pubs: Publisher[] = [];

  beforeAll(async () => {
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const parsed = JSON.parse(body);
        calls.push({ url: req.url!, body: parsed });
        if (String(parsed.stream).startsWith('deny')) res.writeHead(403).end('no');
        else res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"code":0}');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
    const hookPort = (hook.address() as { port: number }).port;
    g = await startGateway({
      auth: {
        rules: [
          { paths: 'keys/*', mode: 'keys', publishKey: 'pub-key', playKey: 'play-key' },
          { paths: 'hook/*', mode: 'hook' },
        ],
        hooks: { onPublish: `http://127.0.0.1:${hookPort}/on_publish`, onUnpublish: `http://127.0.0.1:${hookPort}/on_unpublish`, timeoutMs: 1000 },
      },
    });
  });

  afterAll(async () => {
    await Promise.all(pubs.map((p) => p.stop()));
    await g?.stop();
    hook?.close();
  });

  it('takes the token from t= in the streamid', async () => {
    const p = srtPublish(srtUrl(g.srt, '#!::r=keys/cam1,m=publish,t=pub-key'), { duration: 10 });
    pubs.push(p);
    await waitFor('keys/cam1 ready', () => g.gw.registry.get('keys/cam1')?.ready, 20_000);
  });

  it.each([
    { name: 'a wrong token', id: '#!::r=keys/cam2,m=publish,t=wrong', code: 'SG_ERR_FORBIDDEN', reason: 1403 },
    { name: 'no token', id: '#!::r=keys/cam3,m=publish', code: 'SG_ERR_UNAUTHORIZED', reason: 1401 },
  ])('refuses $name in the handshake (rejection reason $reason)', async ({ id, code, reason }) => {
    const p = srtPublish(srtUrl(g.srt, id), { duration: 5 });
    pubs.push(p);
    const started = Date.now();
    expect(await p.exited).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(4000);
    const line = await waitFor('the refusal in the log', () => g.logs.find((l) => String(l.msg).startsWith('SRT caller refused') && l.code === code), 5000);
    expect(line.srtReason).toBe(reason);
    const path = id.split('r=')[1]!.split(',')[0]!;
    expect(g.gw.registry.get(path)).toBeUndefined();
  });

  it('fires on_publish and on_unpublish for an SRT publisher, and refuses one the hook denies', async () => {
    const ok = srtPublish(srtUrl(g.srt, '#!::r=hook/allow1,m=publish'), { duration: 3 });
    pubs.push(ok);
    await waitFor('hook/allow1 ready', () => g.gw.registry.get('hook/allow1')?.ready, 20_000);
    const call = calls.find((c) => c.url === '/on_publish' && c.body.stream === 'allow1')!;
    expect(call.body).toMatchObject({ action: 'on_publish', protocol: 'srt' });
    await ok.exited;
    await waitFor('on_unpublish', () => calls.some((c) => c.url === '/on_unpublish' && c.body.stream === 'allow1'), 15_000);

    const denied = srtPublish(srtUrl(g.srt, '#!::r=hook/deny1,m=publish'), { duration: 5 });
    pubs.push(denied);
    expect(await denied.exited).not.toBe(0);
    expect(calls.some((c) => c.url === '/on_publish' && c.body.stream === 'deny1')).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(calls.some((c) => c.url === '/on_unpublish' && c.body.stream === 'deny1')).toBe(false);
  });
});

describe.skipIf(!SRT)('SRT latency', () => {
  /** Arrival time of each video frame at an HTTP-FLV reader, keyed by the frame's last bytes (the same encoded frame on both paths). */
  function arrivals(url: string): { times: Map<string, number>; close(): void } {
    const times = new Map<string, number>();
    const demux = new FlvDemuxer((tag) => {
      if (tag.type === 9 && tag.body[1] === 1 && tag.body.length > 80) times.set(tag.body.subarray(tag.body.length - 64).toString('hex'), Date.now());
    });
    const req = httpGet(url, (res) => res.on('data', (d: Buffer) => demux.push(d)));
    return { times, close: () => req.destroy() };
  }

  it('adds the SRT latency and nothing more over RTMP for the same frames (one encoder, both outputs)', async () => {
    const latencyMs = 20;
    const g = await startGateway({ srt: { latencyMs } });
    // One encoder, two outputs: the frames are identical, so arrival times compare directly.
    const p = runFfmpeg(['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', '12',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-bf', '0', '-flags', '+global_header', '-map', '0:v', '-f', 'tee',
      `[f=flv]${g.rtmp}/live/viartmp|[f=mpegts]${g.srt}?streamid=live/viasrt&latency=${latencyMs * 1000}`]);
    try {
      await waitFor('both paths ready', () => g.gw.registry.get('live/viartmp')?.ready && g.gw.registry.get('live/viasrt')?.ready, 20_000);
      const rtmp = arrivals(`${g.http}/live/viartmp.flv`);
      const srt = arrivals(`${g.http}/live/viasrt.flv`);
      await sleep(4000);
      rtmp.close();
      srt.close();
      const extra: number[] = [];
      for (const [frame, at] of rtmp.times) {
        const viaSrt = srt.times.get(frame);
        if (viaSrt !== undefined) extra.push(viaSrt - at);
      }
      extra.sort((a, b) => a - b);
      expect(extra.length).toBeGreaterThan(60);
      const p50 = extra[extra.length >> 1]!;
      // Measured here: p50 latency + 1-2 ms (the relay hop and the demuxer add no frame interval).
      expect(p50).toBeLessThanOrEqual(latencyMs + 25);
    } finally {
      await p.stop();
      await g.stop();
    }
  });
});

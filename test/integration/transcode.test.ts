/**
 * On-demand renditions and snapshots with real ffmpeg: H.265 + G.711 cameras become H.264 + AAC
 * for browsers, only while someone watches. Small pictures and ultrafast x264: the machine is shared.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAvcDecoderConfig, parseH264Sps } from '../../gateway/codecs/index.js';
import { publish, type Publisher } from '../helpers/ffmpeg.js';
import { type FlvCapture, isKeyframeTag, isSequenceHeaderTag, readFlv, videoTags } from '../helpers/flv-client.js';
import { sleep, startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { hasTool } from '../helpers/tools.js';

const enabled = hasTool('ffmpeg') && hasTool('ffprobe');
const tmp = mkdtempSync(join(tmpdir(), 'sg-transcode-'));

function ffprobeStreams(bytes: Buffer, name: string): { codec_name: string; codec_type: string; width?: number; height?: number }[] {
  const file = join(tmp, name);
  writeFileSync(file, bytes);
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', file], { encoding: 'utf8', timeout: 20_000 });
  return (JSON.parse(out) as { streams: { codec_name: string; codec_type: string; width?: number; height?: number }[] }).streams;
}

/** Width x height from the SPS of an AVC sequence header tag. */
function avcSize(body: Buffer): string {
  const sps = parseH264Sps(parseAvcDecoderConfig(body.subarray(5)).sps[0]!);
  return `${sps.width}x${sps.height}`;
}

const mediaTags = (c: FlvCapture, type: 8 | 9) => c.tags.filter((t) => t.type === type && !isSequenceHeaderTag(t));

async function api(base: string, path: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describe.skipIf(!enabled)('transcode: on-demand renditions', () => {
  let g: TestGateway;
  let hevc: Publisher;
  let avc: Publisher;

  beforeAll(async () => {
    g = await startGateway({
      transcode: {
        idleCloseMs: 1500,
        maxJobs: 2,
        restartDelayMs: 300,
        profiles: {
          h264: {},
          '360p': { video: { codec: 'h264', height: 360, bitrateKbps: 400 } },
          broken: { video: { codec: 'h264', width: 161, height: 121 } },
        },
      },
    });
    hevc = publish(`${g.rtsp}/live/hevc`, { format: 'rtsp', video: 'h265', audio: 'pcma', size: '320x240', fps: 25, gop: 25, duration: 120 });
    avc = publish(`${g.rtmp}/live/avc`, { format: 'flv', video: 'h264', audio: 'aac', size: '320x240', fps: 25, gop: 25, duration: 120 });
    await waitFor('both sources', () => g.gw.registry.get('live/hevc')?.ready && g.gw.registry.get('live/avc')?.ready, 15_000);
  });

  afterAll(async () => {
    await hevc?.stop();
    await avc?.stop();
    await g?.stop();
  });

  it('turns an H.265 + PCMA camera into H.264 + AAC on the first reader, and stops the job when idle', async () => {
    expect(g.gw.transcoder.renditions.jobs()).toHaveLength(0);
    const reader = readFlv(`${g.http}/live/hevc_h264.flv`);
    expect(await reader.status).toBe(200);
    expect(g.gw.transcoder.renditions.job('live/hevc_h264')?.state).toBe('running');
    const metrics = await (await fetch(`${g.http}/metrics`)).text();
    expect(metrics).toMatch(/^streamgate_transcode_jobs\{state="running"\} 1$/m);
    await waitFor('3 s of rendition', () => mediaTags(reader, 9).length >= 75, 15_000);
    reader.close();

    const streams = ffprobeStreams(reader.bytes(), 'hevc_h264.flv');
    expect(streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort()).toEqual(['audio:aac', 'video:h264']);
    const video = mediaTags(reader, 9);
    const audio = mediaTags(reader, 8);
    for (let i = 1; i < video.length; i++) {
      const step = video[i]!.timestamp - video[i - 1]!.timestamp;
      expect(step, `video step at ${i}`).toBeGreaterThanOrEqual(0);
      expect(step, `video step at ${i}`).toBeLessThanOrEqual(120);
    }
    for (let i = 1; i < audio.length; i++) expect(audio[i]!.timestamp - audio[i - 1]!.timestamp).toBeLessThanOrEqual(150);
    // A/V offset: both timelines cover the same span, within 100 ms at either end.
    expect(Math.abs(audio[0]!.timestamp - video[0]!.timestamp)).toBeLessThan(100);
    expect(Math.abs(audio.at(-1)!.timestamp - video.at(-1)!.timestamp)).toBeLessThan(100);

    await waitFor('the idle job to stop', () => g.gw.transcoder.renditions.jobs().length === 0, 8_000);
    expect(g.gw.registry.get('live/hevc_h264')).toBeUndefined();
  });

  it('copies an H.264 + AAC source untouched (no encoder, little CPU)', async () => {
    const reader = readFlv(`${g.http}/live/avc_h264.flv`);
    expect(await reader.status).toBe(200);
    const job = g.gw.transcoder.renditions.job('live/avc_h264')!;
    expect(job.args.join(' ')).toContain('-c:v copy');
    expect(job.args.join(' ')).toContain('-c:a copy');
    expect(job.args).not.toContain('libx264');
    const cpu0 = job.cpuSeconds()!;
    await sleep(2000);
    const cpu1 = job.cpuSeconds()!;
    expect((cpu1 - cpu0) / 2).toBeLessThan(0.15);
    expect(mediaTags(reader, 9).length).toBeGreaterThan(25);
    const info = (await api(g.http, '/api/v1/renditions/live/avc_h264')).body;
    expect(info).toMatchObject({ path: 'live/avc_h264', source: 'live/avc', profile: 'h264', state: 'running', restarts: 0 });
    reader.close();
  });

  it('applies a live PATCH of size and bitrate without dropping the reader', async () => {
    const reader = readFlv(`${g.http}/live/hevc_h264.flv`);
    expect(await reader.status).toBe(200);
    await waitFor('frames', () => mediaTags(reader, 9).length > 10, 10_000);
    expect(avcSize(reader.tags.find((t) => t.type === 9 && isSequenceHeaderTag(t))!.body)).toBe('320x240');
    const patched = await api(g.http, '/api/v1/renditions/live/hevc_h264', {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ video: { width: 160, height: 120, bitrateKbps: 300 } }),
    });
    expect(patched.status).toBe(200);
    expect(patched.body.settings.video).toMatchObject({ width: 160, height: 120, bitrateKbps: 300 });
    expect(patched.body.args.join(' ')).toContain('scale=160:120');
    const headers = await waitFor('new codec headers', () => {
      const seq = reader.tags.filter((t) => t.type === 9 && isSequenceHeaderTag(t));
      return seq.length >= 2 ? seq : undefined;
    }, 10_000);
    expect(avcSize(headers.at(-1)!.body)).toBe('160x120');
    const after = reader.tags.length;
    await waitFor('frames after the change', () => reader.tags.slice(after).some(isKeyframeTag), 10_000);
    reader.close();
    const bad = await api(g.http, '/api/v1/renditions/live/hevc_h264', { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: '{"video":{"bitrateKbps":-5}}' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('SG_ERR_INVALID_REQUEST');
  });

  it('restarts a killed ffmpeg: the reader stays and frames resume within 3 s', async () => {
    const reader = readFlv(`${g.http}/live/hevc_h264.flv`);
    expect(await reader.status).toBe(200);
    await waitFor('frames', () => mediaTags(reader, 9).length > 10, 10_000);
    const job = g.gw.transcoder.renditions.job('live/hevc_h264')!;
    const pid = job.pid!;
    let ended = false;
    void reader.ended.then(() => (ended = true));
    process.kill(pid, 'SIGKILL');
    const killedAt = Date.now();
    const before = videoTags(reader.tags).length;
    await waitFor('frames after the restart', () => job.pid !== pid && videoTags(reader.tags).slice(before).some(isKeyframeTag), 5_000);
    expect(Date.now() - killedAt).toBeLessThan(3000);
    expect(ended).toBe(false);
    expect(job.restarts).toBe(1);
    expect(job.info().lastError).toMatch(/SIGKILL/);
    reader.close();
  });

  it('refuses a rendition past maxJobs with a clear 503', async () => {
    const a = readFlv(`${g.http}/live/avc_h264.flv`);
    const b = readFlv(`${g.http}/live/hevc_h264.flv`);
    expect(await a.status).toBe(200);
    expect(await b.status).toBe(200);
    const res = await api(g.http, '/live/avc_360p.flv');
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('SG_ERR_TRANSCODE_LIMIT');
    expect(res.body.error.message).toContain('transcode.maxJobs');
    const list = (await api(g.http, '/api/v1/renditions')).body.jobs;
    expect(list.map((j: { path: string }) => j.path).sort()).toEqual(['live/avc_h264', 'live/hevc_h264']);
    a.close();
    b.close();
    await waitFor('idle jobs to stop', () => g.gw.transcoder.renditions.jobs().length === 0, 8_000);
  });

  it('fails a broken profile with ffmpeg\'s reason instead of hanging', async () => {
    const started = Date.now();
    const res = await api(g.http, '/live/avc_broken.flv');
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('SG_ERR_TRANSCODE_FAILED');
    expect(res.body.error.message).toContain('width not divisible by 2 (161x121)');
    expect(Date.now() - started).toBeLessThan(8000);
    expect(g.gw.transcoder.renditions.jobs()).toHaveLength(0);
    const missing = await api(g.http, '/live/nobody_h264.flv');
    expect(missing.status).toBe(404);
  });

  it('snapshots an H.265 source as a JPEG of the asked width, one decoder per cache period', async () => {
    const snapshots = g.gw.transcoder.snapshots;
    const before = snapshots.decodes;
    const res = await fetch(`${g.http}/api/v1/streams/live/hevc/snapshot.jpg?width=160`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    const jpeg = Buffer.from(await res.arrayBuffer());
    const [s] = ffprobeStreams(jpeg, 'snap.jpg');
    expect(s).toMatchObject({ codec_name: 'mjpeg', width: 160, height: 120 });
    const again = await Promise.all(Array.from({ length: 10 }, () => fetch(`${g.http}/api/v1/streams/live/hevc/snapshot.jpg?width=160`)));
    expect(again.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(again.map((r) => r.headers.get('x-snapshot-cache'))).toEqual(Array(10).fill('hit'));
    expect(snapshots.decodes - before).toBe(1);
    const full = await fetch(`${g.http}/api/v1/streams/live/hevc/snapshot.jpg`);
    expect(ffprobeStreams(Buffer.from(await full.arrayBuffer()), 'full.jpg')[0]).toMatchObject({ width: 320, height: 240 });
    expect((await fetch(`${g.http}/api/v1/streams/live/none/snapshot.jpg`)).status).toBe(404);
  });

  it('points browsers at the _h264 rendition of streams that are not H.264 + AAC', async () => {
    const streams = (await api(g.http, '/api/v1/streams')).body.streams as { path: string; browserUrl: string }[];
    expect(streams.find((s) => s.path === 'live/hevc')?.browserUrl).toBe('/live/hevc_h264.flv');
    expect(streams.find((s) => s.path === 'live/avc')?.browserUrl).toBe('/live/avc.flv');
    expect((await api(g.http, '/api/v1/streams/live/hevc')).body.browserUrl).toBe('/live/hevc_h264.flv');
  });

  it('offers every stream its renditions with the codecs they carry (the player chooses by browser capability)', async () => {
    const hevc = (await api(g.http, '/api/v1/streams/live/hevc')).body as { renditions: unknown };
    expect(hevc.renditions).toEqual({
      browser: { path: 'live/hevc_h264', profile: 'h264', video: 'H264', audio: 'AAC' },
      // This gateway's profiles section replaces the defaults and has no `wall`: no tile rendition.
      tile: null,
    });
    // H.264 + AAC is offered too (a browser without H.264 in MSE, or a scaled tile), copied by h264.
    const avc = (await api(g.http, '/api/v1/streams/live/avc')).body as { renditions: { browser: unknown } };
    expect(avc.renditions.browser).toEqual({ path: 'live/avc_h264', profile: 'h264', video: 'H264', audio: 'AAC' });
  });
});

describe.skipIf(!enabled)('transcode: access control', () => {
  it('the first reader waits for ffmpeg\'s start beyond hub.readyTimeoutMs (it got 404 while the job was still starting)', async () => {
    const g = await startGateway({ hub: { readyTimeoutMs: 300 }, transcode: { idleCloseMs: 500 } });
    const src = publish(`${g.rtmp}/live/slow`, { video: 'h264', audio: 'pcma', duration: 30 });
    try {
      await waitFor('source', () => g.gw.registry.get('live/slow')?.ready, 15_000);
      const started = Date.now();
      const reader = readFlv(`${g.http}/live/slow_h264.flv`);
      expect(await reader.status).toBe(200);
      expect(Date.now() - started, 'ffmpeg takes longer to start than the 300 ms wait').toBeGreaterThan(300);
      await waitFor('frames', () => mediaTags(reader, 8).length > 5 && mediaTags(reader, 9).length > 5, 10_000);
      reader.close();
    } finally {
      await src.stop();
      await g.stop();
    }
  });

  it('gets the job\'s own loopback connections through token rules with minted tokens for just that path, never shown', async () => {
    const { createToken } = await import('../../gateway/auth/tokens.js');
    const keys = { k1: 'transcode-test-secret' };
    const g = await startGateway({ auth: { keys, rules: [{ paths: 'live/*', mode: 'token' }] }, transcode: { idleCloseMs: 500 } });
    const src = publish(`${g.rtmp}/live/cam?token=${createToken(keys, 'k1', 'publish', 'live/cam', 60)}`, { video: 'h264', audio: 'pcma', duration: 30 });
    try {
      await waitFor('source', () => g.gw.registry.get('live/cam')?.ready, 15_000);
      expect((await fetch(`${g.http}/live/cam_h264.flv`)).status).toBe(401);
      const reader = readFlv(`${g.http}/live/cam_h264.flv?token=${createToken(keys, 'k1', 'play', 'live/*', 60)}`);
      expect(await reader.status).toBe(200);
      await waitFor('frames', () => mediaTags(reader, 8).length > 5 && mediaTags(reader, 9).length > 5, 10_000);
      expect(g.gw.transcoder.renditions.job('live/cam_h264')!.args.join(' ')).toMatch(/-c:v copy .*-c:a aac/);
      // The API (open to anyone with publicReads) shows the command line and ffmpeg's lines with the tokens masked.
      const listed = JSON.stringify(await (await fetch(`${g.http}/api/v1/renditions`)).json());
      expect(listed).toContain('token=***');
      expect(listed).not.toMatch(/token=v1/);
      expect(JSON.stringify(g.logs)).not.toMatch(/token=v1/);
      reader.close();
    } finally {
      await src.stop();
      await g.stop();
    }
  });
});

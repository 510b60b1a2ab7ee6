/**
 * Opus as a hub codec with real ffmpeg: an RTSP publisher's H.264 + Opus plays back over RTSP
 * with its Opus, FLV readers get the video alone (never a mislabeled audio tag), the `_aac`
 * rendition gives them AAC, and the `_opus` rendition turns an RTMP AAC publisher into Opus
 * (published back over RTSP, which RTMP cannot carry).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probe, publish, type Publisher } from '../helpers/ffmpeg.js';
import { isSequenceHeaderTag, readFlv } from '../helpers/flv-client.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { hasTool } from '../helpers/tools.js';

const enabled = hasTool('ffmpeg') && hasTool('ffprobe');
const tmp = mkdtempSync(join(tmpdir(), 'sg-opus-'));

interface Probed {
  codec_name: string;
  codec_type: string;
  sample_rate?: string;
  channels?: number;
}

function ffprobeFile(bytes: Buffer, name: string): { streams: Probed[]; audioPackets: number; videoPackets: number } {
  const file = join(tmp, name);
  writeFileSync(file, bytes);
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-show_packets', '-of', 'json', file], { encoding: 'utf8', timeout: 20_000, maxBuffer: 64 << 20 });
  const r = JSON.parse(out) as { streams: Probed[]; packets: { codec_type: string }[] };
  return {
    streams: r.streams,
    audioPackets: r.packets.filter((p) => p.codec_type === 'audio').length,
    videoPackets: r.packets.filter((p) => p.codec_type === 'video').length,
  };
}

const kinds = (streams: Probed[]) => streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort();

describe.skipIf(!enabled)('Opus: RTSP in and out, FLV video-only, aac and opus renditions', () => {
  let g: TestGateway;
  let webrtcLike: Publisher;
  let camera: Publisher;

  beforeAll(async () => {
    g = await startGateway({ transcode: { idleCloseMs: 1500, maxJobs: 2 } });
    webrtcLike = publish(`${g.rtsp}/live/x`, { format: 'rtsp', video: 'h264', audio: 'opus', size: '320x240', fps: 25, gop: 25, duration: 120 });
    camera = publish(`${g.rtmp}/live/y`, { format: 'flv', video: 'h264', audio: 'aac', size: '320x240', fps: 25, gop: 25, duration: 120 });
    await waitFor('both sources', () => g.gw.registry.get('live/x')?.ready && g.gw.registry.get('live/y')?.ready, 15_000);
  });

  afterAll(async () => {
    await webrtcLike?.stop();
    await camera?.stop();
    await g?.stop();
  });

  it('takes an RTSP ANNOUNCE with Opus as a 48 kHz stereo Opus track', async () => {
    await waitFor('audio', () => g.gw.registry.get('live/x')?.audioTrack, 10_000);
    expect(g.gw.registry.get('live/x')!.audioTrack).toMatchObject({ kind: 'audio', codec: 'OPUS', sampleRate: 48000, channels: 2 });
    const entry = (await (await fetch(`${g.http}/api/v1/streams/live/x`)).json()) as any;
    expect(entry.audio).toMatchObject({ codec: 'OPUS', sampleRate: 48000, channels: 2 });
    expect(entry.audio.notCarriedBy).toEqual(['flv', 'ws-flv', 'rtmp', 'hls-ts', 'srt']);
    expect(entry.renditions.aac).toMatchObject({ path: 'live/x_aac', video: 'H264', audio: 'AAC' });
    expect(entry.renditions.opus).toBeUndefined();
    expect(entry.browserUrl).toBe('/live/x_aac.flv');
  });

  it('plays the Opus stream back over RTSP: ffprobe reads opus and h264', async () => {
    const r = await probe(`${g.rtsp}/live/x`, 2, ['-rtsp_transport', 'tcp']);
    expect(kinds(r.streams)).toEqual(['audio:opus', 'video:h264']);
    expect(r.streams.find((s) => s.codec_type === 'audio')).toMatchObject({ sample_rate: '48000', channels: 2 });
    expect(r.packets.filter((p) => p.codec_type === 'audio').length).toBeGreaterThan(20);
  });

  it('gives an HTTP-FLV reader the video only: no audio flag, no audio tags, a valid FLV', async () => {
    const reader = readFlv(`${g.http}/live/x.flv`);
    expect(await reader.status).toBe(200);
    await waitFor('2 s of video', () => reader.tags.filter((t) => t.type === 9 && !isSequenceHeaderTag(t)).length >= 50, 15_000);
    const stats = g.gw.registry.get('live/x')!.readerStats().find((s) => s.protocol === 'flv')!;
    reader.close();
    expect(reader.header()).toMatchObject({ hasAudio: false, hasVideo: true });
    expect(reader.tags.filter((t) => t.type === 8)).toEqual([]);
    expect(stats.framesNotCarried).toBeGreaterThan(20);
    const probed = ffprobeFile(reader.bytes(), 'x.flv');
    expect(kinds(probed.streams)).toEqual(['video:h264']);
    expect(probed.videoPackets).toBeGreaterThanOrEqual(50);
  });

  it('gives RTMP play and WS-FLV readers the video only too', async () => {
    const r = await probe(`${g.rtmp}/live/x`, 2);
    expect(kinds(r.streams)).toEqual(['video:h264']);
    expect(r.packets.filter((p) => p.codec_type === 'video').length).toBeGreaterThan(20);
    const ws = readFlv(`${g.ws}/live/x.flv`);
    expect(await ws.status).toBe(101);
    await waitFor('1 s of video', () => ws.tags.filter((t) => t.type === 9 && !isSequenceHeaderTag(t)).length >= 25, 15_000);
    ws.close();
    expect(ws.header()).toMatchObject({ hasAudio: false, hasVideo: true });
    expect(ws.tags.filter((t) => t.type === 8)).toEqual([]);
  });

  it('carries the Opus in fMP4 HLS (dOps): the playlist names opus and ffprobe reads opus and h264', async () => {
    const first = await fetch(`${g.http}/live/x/index.m3u8`);
    const multivariant = await first.text();
    expect(first.status, multivariant).toBe(200);
    expect(multivariant).toMatch(/CODECS="avc1\.[0-9a-f]{6},opus"/);
    const media = /^(stream\.m3u8\S*)$/m.exec(multivariant)![1]!;
    const playlist = await (await fetch(`${g.http}/live/x/${media}`)).text();
    expect(playlist).toMatch(/#EXT-X-MAP/);
    const r = await probe(`${g.http}/live/x/index.m3u8`, 2);
    expect(kinds(r.streams)).toEqual(['audio:opus', 'video:h264']);
    expect(r.packets.filter((p) => p.codec_type === 'audio').length).toBeGreaterThan(20);
  });

  it('the live/x_aac rendition carries the Opus as AAC over HTTP-FLV, video copied', async () => {
    const reader = readFlv(`${g.http}/live/x_aac.flv`);
    expect(await reader.status).toBe(200);
    const job = g.gw.transcoder.renditions.job('live/x_aac')!;
    expect(job.args.join(' ')).toContain('-c:v copy');
    expect(job.args.join(' ')).toMatch(/-c:a aac .*-f flv .*rtmp:/);
    await waitFor('2 s of audio and video', () => reader.tags.filter((t) => t.type === 8 && !isSequenceHeaderTag(t)).length >= 60 && reader.tags.filter((t) => t.type === 9).length >= 50, 20_000);
    reader.close();
    const probed = ffprobeFile(reader.bytes(), 'x_aac.flv');
    expect(kinds(probed.streams)).toEqual(['audio:aac', 'video:h264']);
    expect(probed.audioPackets).toBeGreaterThan(30);
    expect(g.gw.registry.get('live/x_aac')!.audioTrack).toMatchObject({ codec: 'AAC', sampleRate: 48000 });
  });

  it('the live/y_opus rendition of an RTMP AAC publisher plays Opus over RTSP (published back over RTSP)', async () => {
    const entry = (await (await fetch(`${g.http}/api/v1/streams/live/y`)).json()) as any;
    expect(entry.renditions.opus).toMatchObject({ path: 'live/y_opus', video: 'H264', audio: 'OPUS' });
    expect(entry.renditions.aac).toBeUndefined();
    const r = await probe(`${g.rtsp}/live/y_opus`, 2, ['-rtsp_transport', 'tcp']);
    expect(kinds(r.streams)).toEqual(['audio:opus', 'video:h264']);
    expect(r.packets.filter((p) => p.codec_type === 'audio').length).toBeGreaterThan(20);
    const job = g.gw.transcoder.renditions.job('live/y_opus')!;
    expect(job.args.join(' ')).toContain('-c:a libopus');
    expect(job.args.join(' ')).toMatch(/-f rtsp -rtsp_transport tcp rtsp:/);
    expect(g.gw.registry.get('live/y_opus')!.publisher?.protocol).toBe('rtsp');
    expect(g.gw.registry.get('live/y_opus')!.audioTrack).toMatchObject({ codec: 'OPUS', sampleRate: 48000 });
  });

  it('closes idle Opus renditions like any other', async () => {
    await waitFor('idle jobs to stop', () => g.gw.transcoder.renditions.jobs().length === 0, 15_000);
    expect(g.gw.registry.get('live/x_aac')).toBeUndefined();
    expect(g.gw.registry.get('live/y_opus')).toBeUndefined();
  });
});

describe.skipIf(!enabled)('Opus rendition under access control', () => {
  let g: TestGateway;
  let camera: Publisher;

  beforeAll(async () => {
    g = await startGateway({
      transcode: { idleCloseMs: 1000, maxJobs: 1 },
      auth: { rules: [{ paths: 'keys/*', mode: 'keys', publishKey: 'pub-key', playKey: 'play-key' }] },
    });
    camera = publish(`${g.rtmp}/keys/cam?token=pub-key`, { format: 'flv', video: 'h264', audio: 'aac', size: '320x240', fps: 25, gop: 25, duration: 60 });
    await waitFor('the source', () => g.gw.registry.get('keys/cam')?.ready, 15_000);
  });

  afterAll(async () => {
    await camera?.stop();
    await g?.stop();
  });

  it('publishes the _opus rendition back over RTSP with its own credential', async () => {
    const r = await probe(`${g.rtsp}/keys/cam_opus?token=play-key`, 1, ['-rtsp_transport', 'tcp']);
    expect(kinds(r.streams)).toEqual(['audio:opus', 'video:h264']);
    const job = g.gw.transcoder.renditions.job('keys/cam_opus')!;
    expect(job.args.at(-1)).toMatch(/^rtsp:\/\/127\.0\.0\.1:\d+\/keys\/cam_opus\?token=/);
    await expect(probe(`${g.rtsp}/keys/cam_opus`, 1, ['-rtsp_transport', 'tcp'])).rejects.toThrow(/401|Unauthorized|403|Forbidden/);
  });
});

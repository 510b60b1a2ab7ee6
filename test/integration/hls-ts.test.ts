import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasTool } from '../helpers/tools.js';
import { decode, probe, publish, type Publisher } from '../helpers/ffmpeg.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';

const tools = hasTool('ffmpeg') && hasTool('ffprobe');

describe.skipIf(!tools)('HLS MPEG-TS output', () => {
  let gw: TestGateway;
  let pub: Publisher;
  let dir: string;
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sg-hlsts-'));
    gw = await startGateway({ dataDir: dir, hls: { container: 'ts', lowLatency: false } });
    pub = publish(`${gw.rtmp}/live/ts`, { fps: 25, gop: 25, duration: 60 });
    base = `${gw.http}/live/ts`;
    await waitFor('stream ready', () => gw.gw.registry.get('live/ts')?.ready, 15_000);
  });

  afterAll(async () => {
    await pub?.stop();
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves a classic playlist of .ts segments without LL-HLS tags', async () => {
    const index = await (await fetch(`${base}/index.m3u8`)).text();
    expect(index).toMatch(/CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"/);
    const media = await (await fetch(`${base}/stream.m3u8`)).text();
    expect(media).toContain('#EXT-X-VERSION:3');
    expect(media).toMatch(/#EXTINF:1\.\d{3},\nseg\d+\.ts/);
    expect(media).not.toContain('#EXT-X-MAP');
    expect(media).not.toContain('#EXT-X-PART');
  });

  it('has segments that ffprobe reads as MPEG-TS with H.264 and AAC and that decode cleanly', async () => {
    const media = await (await fetch(`${base}/stream.m3u8`)).text();
    const seg = /seg\d+\.ts/.exec(media)![0];
    const res = await fetch(`${base}/${seg}`);
    expect(res.headers.get('content-type')).toBe('video/mp2t');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.length % 188).toBe(0);
    for (let i = 0; i < bytes.length; i += 188) expect(bytes[i]).toBe(0x47);
    const file = join(dir, 'seg.ts');
    writeFileSync(file, bytes);
    const result = await probe(file, 5);
    expect(result.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    expect(result.packets.filter((p) => p.codec_type === 'video').length).toBeGreaterThanOrEqual(24);
    const decoded = await decode(file, 5);
    expect(decoded.stderr).toBe('');
    expect(decoded.frames).toBeGreaterThanOrEqual(24);
  });

  it('plays through ffprobe from the playlist URL', async () => {
    const result = await probe(`${base}/index.m3u8`, 2);
    expect(result.streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
  });
});

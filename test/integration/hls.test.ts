import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasTool } from '../helpers/tools.js';
import { probe, publish, type Publisher } from '../helpers/ffmpeg.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';

const tools = hasTool('ffmpeg') && hasTool('ffprobe');

async function text(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

async function bytes(url: string): Promise<Buffer> {
  const res = await fetch(url);
  expect(res.status, url).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

/** The LL-HLS tags of a media playlist, as the test reads them. */
function parse(playlist: string) {
  const lines = playlist.trim().split('\n');
  const parts = lines.filter((l) => l.startsWith('#EXT-X-PART:')).map((l) => ({ uri: /URI="([^"]+)"/.exec(l)![1]!, duration: Number(/DURATION=([\d.]+)/.exec(l)![1]) }));
  const segments = lines.filter((l) => /^seg\d+\.m4s/.test(l));
  const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part(\d+)\.(\d+)\.m4s(?:\?[^"]*)?"/.exec(playlist);
  return { lines, parts, segments, hint: hint ? { msn: Number(hint[1]), part: Number(hint[2]) } : undefined };
}

describe.skipIf(!tools)('HLS fMP4 and LL-HLS output', () => {
  let gw: TestGateway;
  let pub: Publisher;
  let base: string;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sg-hls-'));
    gw = await startGateway({ dataDir: dir, hls: { segmentMs: 1000, partMs: 200, closeAfterMs: 1500 } });
    pub = publish(`${gw.rtmp}/live/cam1`, { fps: 25, gop: 25, duration: 60 });
    base = `${gw.http}/live/cam1`;
    await waitFor('stream ready', () => gw.gw.registry.get('live/cam1')?.ready, 15_000);
  });

  afterAll(async () => {
    await pub?.stop();
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts a muxer on the first playlist request and names the codecs in index.m3u8', async () => {
    expect(await gw.gw.hls.active()).toHaveLength(0);
    const { status, body } = await text(`${base}/index.m3u8?token=abc`);
    expect(status).toBe(200);
    expect(body).toContain('#EXT-X-INDEPENDENT-SEGMENTS');
    expect(body).toMatch(/CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"/);
    expect(body).toContain('RESOLUTION=320x240');
    expect(body).toContain('stream.m3u8?token=abc');
    expect(await gw.gw.hls.active()).toHaveLength(1);
  });

  it('serves a media playlist with EXT-X-MAP, program date time and segments that carry the token', async () => {
    const { body } = await text(`${base}/stream.m3u8?token=abc`);
    expect(body).toMatch(/^#EXTM3U\n/);
    // The token and the viewer's session id (sg_sid) ride on every URI.
    expect(body).toMatch(/#EXT-X-MAP:URI="init1\.mp4\?token=abc&sg_sid=[\w-]+"/);
    expect(body).toMatch(/#EXT-X-PROGRAM-DATE-TIME:\d{4}-\d\d-\d\dT/);
    expect(body).toMatch(/#EXTINF:1\.\d{3},\nseg\d+\.m4s\?token=abc/);
    expect(body).toContain('#EXT-X-TARGETDURATION:1');
  });

  it('has segments that ffprobe reads as H.264 + AAC', async () => {
    const { body } = await text(`${base}/stream.m3u8`);
    const seg = parse(body).segments[0]!;
    const file = join(dir, 'seg.mp4');
    writeFileSync(file, Buffer.concat([await bytes(`${base}/init1.mp4`), await bytes(`${base}/${seg}`)]));
    const result = await probe(file, 5);
    expect(result.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    const video = result.packets.filter((p) => p.codec_type === 'video');
    expect(video.length).toBeGreaterThanOrEqual(24);
    expect(video[0]!.flags).toContain('K');
  });

  it('plays through ffprobe from the playlist URL', async () => {
    const result = await probe(`${base}/index.m3u8`, 2);
    const types = result.streams.map((s) => s.codec_type).sort();
    expect(types).toEqual(['audio', 'video']);
    expect(result.packets.filter((p) => p.codec_type === 'video').length).toBeGreaterThan(10);
  });

  it('lists LL-HLS parts, a preload hint and server control', async () => {
    const { body } = await text(`${base}/stream.m3u8`);
    expect(body).toContain('#EXT-X-VERSION:9');
    expect(body).toContain('#EXT-X-PART-INF:PART-TARGET=0.200');
    expect(body).toMatch(/#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0\.600/);
    const p = parse(body);
    expect(p.parts.length).toBeGreaterThan(5);
    for (const part of p.parts) expect(part.duration).toBeLessThanOrEqual(0.2);
    expect(body).toMatch(/#EXT-X-PART:DURATION=[\d.]+,URI="part\d+\.0\.m4s\?sg_sid=[\w-]+",INDEPENDENT=YES/);
    expect(p.hint).toBeDefined();
    // A part is a complete fMP4 fragment.
    const part = await bytes(`${base}/${p.parts[p.parts.length - 1]!.uri}`);
    expect(part.toString('latin1', 4, 8)).toBe('moof');
  });

  it('holds a blocking playlist reload until the requested part exists', async () => {
    const hint = parse((await text(`${base}/stream.m3u8`)).body).hint!;
    const wanted = `part${hint.msn}.${hint.part}.m4s`;
    const started = Date.now();
    const { status, body } = await text(`${base}/stream.m3u8?_HLS_msn=${hint.msn}&_HLS_part=${hint.part}`);
    expect(status).toBe(200);
    expect(Date.now() - started).toBeLessThan(3000);
    // Either the part itself is listed, or its segment ended before it (then a later segment is there).
    const p = parse(body);
    const later = p.hint!.msn > hint.msn || (p.hint!.msn === hint.msn && p.hint!.part > hint.part);
    expect(later).toBe(true);
    if (p.hint!.msn === hint.msn) expect(body).toContain(wanted);
  });

  it('answers a preload-hinted part request once the part is written', async () => {
    const hint = parse((await text(`${base}/stream.m3u8`)).body).hint!;
    const res = await fetch(`${base}/part${hint.msn}.${hint.part}.m4s`);
    // 404 only when the segment ended before reaching that part.
    expect([200, 404]).toContain(res.status);
    if (res.status === 200) expect(Buffer.from(await res.arrayBuffer()).toString('latin1', 4, 8)).toBe('moof');
  });

  it('refuses a blocking reload too far ahead with 400', async () => {
    const hint = parse((await text(`${base}/stream.m3u8`)).body).hint!;
    const { status, body } = await text(`${base}/stream.m3u8?_HLS_msn=${hint.msn + 5}`);
    expect(status).toBe(400);
    expect(body).toContain('SG_ERR_HLS_BAD_REQUEST');
  });

  it('answers 404 for a path nobody publishes', async () => {
    expect((await text(`${gw.http}/live/nobody/index.m3u8`)).status).toBe(404);
  });

  it('closes an idle muxer and stops reading the stream', async () => {
    await waitFor('idle muxer closed', async () => (await gw.gw.hls.active()).length === 0, 8000, 200);
    expect(gw.gw.registry.get('live/cam1')!.readersByProtocol().hls ?? 0).toBe(0);
  });

  it('answers a blocking reload that cannot be satisfied with 503 after three target durations', async () => {
    await text(`${base}/index.m3u8`);
    const hint = parse((await text(`${base}/stream.m3u8`)).body).hint!;
    await pub.stop(); // the stream waits for its publisher (grace period): no more parts
    const started = Date.now();
    const { status, body } = await text(`${base}/stream.m3u8?_HLS_msn=${hint.msn + 2}`);
    expect(status).toBe(503);
    expect(body).toContain('SG_ERR_HLS_TIMEOUT');
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
  });
});

describe.skipIf(!tools)('HLS across a publisher reconnect', () => {
  let gw: TestGateway;
  let dir: string;
  const pubs: Publisher[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sg-hls-re-'));
    // A long grace period: the publisher returns 2.5 s after it left, plus ffmpeg's start-up under load.
    gw = await startGateway({ dataDir: dir, hls: { segmentMs: 1000, partMs: 200, closeAfterMs: 10_000 }, hub: { publisherGraceMs: 15_000 } });
  });

  afterAll(async () => {
    await Promise.all(pubs.map((p) => p.stop()));
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Segments of the media playlist: msn, PROGRAM-DATE-TIME (ms) and whether they are complete. */
  async function segments(base: string) {
    const { body } = await text(`${base}/stream.m3u8`);
    const lines = body.split('\n');
    const out: { msn: number; pdt: number; durationMs: number; complete: boolean }[] = [];
    let msn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(body)![1]);
    for (let i = 0; i < lines.length; i++) {
      const pdt = /^#EXT-X-PROGRAM-DATE-TIME:(.+)$/.exec(lines[i]!);
      if (!pdt) continue;
      let j = i + 1;
      while (j < lines.length && !lines[j]!.startsWith('#EXT-X-PROGRAM-DATE-TIME') && !lines[j]!.startsWith('#EXTINF')) j++;
      const inf = /^#EXTINF:([\d.]+),/.exec(lines[j] ?? '');
      out.push({ msn: msn++, pdt: Date.parse(pdt[1]!), durationMs: inf ? Number(inf[1]) * 1000 : 0, complete: inf !== null });
    }
    return out;
  }

  it('ends the open segment when the publisher leaves and re-anchors PROGRAM-DATE-TIME on its return', async () => {
    const base = `${gw.http}/live/flaky`;
    pubs.push(publish(`${gw.rtmp}/live/flaky`, { fps: 25, gop: 25, duration: 60 }));
    await waitFor('stream ready', () => gw.gw.registry.get('live/flaky')?.ready, 15_000);
    expect((await text(`${base}/index.m3u8`)).status).toBe(200);
    const before = await waitFor('two complete segments', async () => {
      const s = await segments(base);
      return s.filter((x) => x.complete).length >= 2 ? s : undefined;
    }, 15_000, 200);
    // PROGRAM-DATE-TIME follows the wall clock while the publisher is there.
    expect(Math.abs(before[before.length - 1]!.pdt - Date.now())).toBeLessThan(3000);
    await pubs[0]!.stop();
    // The muxer is a reader: the stream waits out its grace period for the publisher. The
    // segment open when it left is complete at once, not when the next keyframe comes.
    const left = await waitFor('the open segment completed', async () => {
      const s = await segments(base);
      return s.length > 0 && s.every((x) => x.complete) ? s : undefined;
    }, 3000, 100);
    const lastBefore = left[left.length - 1]!;
    await new Promise((r) => setTimeout(r, 2500));
    const back = Date.now();
    pubs.push(publish(`${gw.rtmp}/live/flaky`, { fps: 25, gop: 25, duration: 60 }));
    const after = await waitFor('a complete segment after the return', async () => {
      const s = await segments(base);
      return s.find((x) => x.msn > lastBefore.msn && x.complete);
    }, 15_000, 200);
    expect(gw.gw.registry.get('live/flaky')!.publishCount).toBe(2);
    // The media timeline continues across the gap; the clock does not. Without the re-anchor the
    // date would continue from the last segment, 2.5 s before the publisher came back.
    expect(after.pdt).toBeGreaterThanOrEqual(back);
    expect(after.pdt - back).toBeLessThan(5000);
    expect(after.pdt - (lastBefore.pdt + lastBefore.durationMs)).toBeGreaterThan(2000);
  });
});

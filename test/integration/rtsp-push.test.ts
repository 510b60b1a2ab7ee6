/**
 * RTSP push (ANNOUNCE/RECORD) from ffmpeg into the hub, read back over HTTP-FLV and RTSP play,
 * checked with ffprobe. Real peers, real sockets, port 0.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, packetTimes, probe, publish, type Publisher } from '../helpers/ffmpeg.js';
import { startGateway, type TestGateway, waitFor } from '../helpers/gateway.js';
import { rawRtsp } from '../helpers/rtsp-client.js';
import { hasTool } from '../helpers/tools.js';

const CASES = [
  { name: 'H.264+AAC over TCP', path: 'live/tcp264', video: 'h264', audio: 'aac', transport: 'tcp', vcodec: 'h264', acodec: 'aac' },
  { name: 'H.264+AAC over UDP', path: 'live/udp264', video: 'h264', audio: 'aac', transport: 'udp', vcodec: 'h264', acodec: 'aac' },
  { name: 'H.265+PCMA over TCP', path: 'live/tcp265', video: 'h265', audio: 'pcma', transport: 'tcp', vcodec: 'hevc', acodec: 'pcm_alaw' },
  { name: 'H.265+PCMA over UDP', path: 'live/udp265', video: 'h265', audio: 'pcma', transport: 'udp', vcodec: 'hevc', acodec: 'pcm_alaw' },
] as const;

/** The first `limit` bytes of an HTTP response body. */
async function readBytes(url: string, limit: number): Promise<Buffer> {
  const controller = new AbortController();
  const res = await fetch(url, { signal: controller.signal });
  const chunks: Buffer[] = [];
  let total = 0;
  const reader = res.body!.getReader();
  while (total < limit) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(Buffer.from(value));
    total += value.length;
  }
  controller.abort();
  return Buffer.concat(chunks);
}

/** Whether an FLV byte string has a tag of `type` whose first body byte passes `test`. */
function findTag(flv: Buffer, type: number, test: (first: number) => boolean): boolean {
  let pos = 13;
  while (pos + 11 < flv.length) {
    const size = flv.readUIntBE(pos + 1, 3);
    if (flv[pos] === type && pos + 11 < flv.length && test(flv[pos + 11]!)) return true;
    pos += 11 + size + 4;
  }
  return false;
}

describe.skipIf(!hasTool('ffmpeg') || !hasTool('ffprobe'))('RTSP push and play', () => {
  let gw: TestGateway;
  const publishers: Publisher[] = [];

  beforeAll(async () => {
    gw = await startGateway();
    for (const c of CASES) {
      publishers.push(publish(`${gw.rtsp}/${c.path}`, { format: 'rtsp', rtspTransport: c.transport, video: c.video, audio: c.audio, duration: 60 }));
    }
    publishers.push(publish(`${gw.rtmp}/live/fromrtmp`, { format: 'flv', duration: 60 }));
    await waitFor('every pushed stream to be ready', () => [...CASES.map((c) => c.path), 'live/fromrtmp'].every((p) => gw.gw.registry.get(p)?.ready), 45_000);
  });

  afterAll(async () => {
    await Promise.all(publishers.map((p) => p.stop()));
    await gw?.stop();
  });

  it.each(CASES)('$name: the hub shows an RTSP publisher with both tracks', (c) => {
    const stream = gw.gw.registry.get(c.path)!;
    expect(stream.publisher?.protocol).toBe('rtsp');
    expect(stream.videoTrack?.codec).toBe(c.video === 'h264' ? 'H264' : 'H265');
    expect(stream.videoTrack?.width).toBe(320);
    expect(stream.audioTrack?.codec).toBe(c.audio === 'aac' ? 'AAC' : 'PCMA');
  });

  it.each(CASES.filter((c) => c.video === 'h265'))('$name: HTTP-FLV carries Enhanced FLV hvc1 video and G.711 audio', async (c) => {
    // ffmpeg 5.1 (Debian 12) cannot demux Enhanced FLV HEVC, so check the tags themselves.
    const bytes = await readBytes(`${gw.http}/${c.path}.flv`, 64 * 1024);
    expect(bytes.subarray(0, 3).toString()).toBe('FLV');
    expect(bytes.includes(Buffer.from('hvc1'))).toBe(true);
    // An audio tag (type 8) whose first body byte says sound format 7 (A-law).
    expect(findTag(bytes, 8, (b) => b >> 4 === 7)).toBe(true);
  });

  it.each(CASES.filter((c) => c.video === 'h264'))('$name: reads back over HTTP-FLV', async (c) => {
    const result = await probe(`${gw.http}/${c.path}.flv`, 2);
    const codecs = result.streams.map((s) => s.codec_name).sort();
    expect(codecs).toEqual([c.acodec, c.vcodec].sort());
    expect(result.packets.filter((p) => p.codec_type === 'video').length).toBeGreaterThan(10);
  });

  it.each(CASES)('$name: plays back over RTSP (TCP)', async (c) => {
    const result = await probe(`${gw.rtsp}/${c.path}`, 2, ['-rtsp_transport', 'tcp']);
    expect(result.streams.map((s) => s.codec_name).sort()).toEqual([c.acodec, c.vcodec].sort());
    const video = result.streams.find((s) => s.codec_type === 'video')!;
    expect(video.width).toBe(320);
    expect(result.packets.filter((p) => p.codec_type === 'video').length).toBeGreaterThan(10);
  });

  it('a stream published over RTMP plays over RTSP', async () => {
    const result = await probe(`${gw.rtsp}/live/fromrtmp`, 2, ['-rtsp_transport', 'tcp']);
    expect(result.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    expect(result.packets.filter((p) => p.codec_type === 'audio').length).toBeGreaterThan(20);
  });

  it('a player that sets up only the video track gets only video', async () => {
    const result = await probe(`${gw.rtsp}/live/tcp264`, 2, ['-rtsp_transport', 'tcp', '-allowed_media_types', 'video']);
    expect(result.streams.map((s) => s.codec_name)).toEqual(['h264']);
    expect(result.packets.filter((p) => p.codec_type === 'video').length).toBeGreaterThan(10);
  });

  it('plays back over RTSP (UDP) and TCP at once and both decode without errors', async () => {
    const [udp, tcp] = await Promise.all([
      decode(`${gw.rtsp}/live/tcp264`, 2, ['-rtsp_transport', 'udp']),
      decode(`${gw.rtsp}/live/tcp264`, 2, ['-rtsp_transport', 'tcp']),
    ]);
    for (const result of [udp, tcp]) {
      expect(result.frames).toBeGreaterThan(20);
      expect(result.stderr).not.toMatch(/error while decoding|corrupt|missing picture|dropping old packet/i);
    }
  });

  it('a second publisher on the same path is refused with 409 Conflict', async () => {
    const second = publish(`${gw.rtsp}/live/tcp264`, { format: 'rtsp', duration: 5 });
    const code = await second.exited;
    expect(code).not.toBe(0);
    expect(second.stderr()).toMatch(/409/);
    expect(gw.gw.registry.get('live/tcp264')?.publisher?.protocol).toBe('rtsp');
  });

  it('DESCRIBE of a path nobody publishes answers 404', async () => {
    const result = await decode(`${gw.rtsp}/live/nothing`, 1, ['-rtsp_transport', 'tcp']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/404/);
  });

  it('H.264 with B-frames: dts follows decode order, monotonic and never after pts', async () => {
    const args = ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', '20'];
    args.push('-c:v', 'libx264', '-preset', 'veryfast', '-bf', '2', '-g', '25', '-pix_fmt', 'yuv420p', '-an');
    args.push('-f', 'rtsp', '-rtsp_transport', 'tcp', `${gw.rtsp}/live/bframes`);
    const proc = spawn('ffmpeg', args, { stdio: 'ignore' });
    try {
      await waitFor('the B-frame stream', () => gw.gw.registry.get('live/bframes')?.ready, 20_000);
      const result = await probe(`${gw.http}/live/bframes.flv`, 3);
      const video = result.packets.filter((p) => p.codec_type === 'video');
      const dts = packetTimes(result, 'video');
      expect(dts.length).toBeGreaterThan(30);
      for (let i = 1; i < dts.length; i++) expect(dts[i]).toBeGreaterThanOrEqual(dts[i - 1]!);
      for (const p of video) expect(Number(p.pts_time)).toBeGreaterThanOrEqual(Number(p.dts_time) - 0.0005);
      expect(video.some((p) => p.pts_time !== p.dts_time)).toBe(true);
      const played = await decode(`${gw.rtsp}/live/bframes`, 2, ['-rtsp_transport', 'tcp']);
      expect(played.frames).toBeGreaterThan(20);
      expect(played.stderr).not.toMatch(/error while decoding|corrupt|non monotonically/i);
    } finally {
      proc.kill('SIGKILL');
    }
  });

  it('PAUSE stops a player\'s media and keeps its session; PLAY resumes it at a keyframe', async () => {
    const url = `${gw.rtsp}/live/tcp264`;
    const c = await rawRtsp(Number(new URL(gw.rtsp).port));
    let media = 0;
    let resumed = false;
    let firstAfterResume: Buffer | undefined;
    c.onInterleaved = (channel, payload) => {
      if (channel !== 0) return;
      media++;
      if (resumed && !firstAfterResume) firstAfterResume = Buffer.from(payload);
    };
    try {
      expect((await c.request('DESCRIBE', url, ['Accept: application/sdp'])).status).toBe(200);
      const setup = await c.request('SETUP', `${url}/trackID=0`, ['Transport: RTP/AVP/TCP;unicast;interleaved=0-1']);
      const session = `Session: ${setup.session}`;
      expect((await c.request('PLAY', url, [session])).status).toBe(200);
      await waitFor('media while playing', () => media > 20, 5000);
      expect((await c.request('PAUSE', url, [session])).status).toBe(200);
      await new Promise((r) => setTimeout(r, 200));
      const atPause = media;
      await new Promise((r) => setTimeout(r, 1000));
      expect(media).toBe(atPause); // nothing while paused
      expect(gw.gw.registry.get('live/tcp264')!.readersByProtocol().rtsp ?? 0).toBe(0);
      resumed = true;
      expect((await c.request('PLAY', url, [session])).status).toBe(200);
      await waitFor('media after PLAY', () => media > atPause + 20, 5000);
      // The first video packet after resuming starts a keyframe's access unit (SPS, STAP-A or IDR).
      const nalType = firstAfterResume![12]! & 0x1f;
      expect([5, 7, 24, 28].includes(nalType)).toBe(true);
      expect(c.socket.destroyed).toBe(false);
    } finally {
      c.close();
    }
  });
});

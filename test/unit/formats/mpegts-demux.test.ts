import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { UnsupportedCodecError } from '../../../gateway/core/errors.js';
import { FrameKind, MediaFrame, type AudioTrack, type VideoTrack } from '../../../gateway/core/media.js';
import { crc32Mpeg2, TsMuxer } from '../../../gateway/formats/mpegts.js';
import { TsDemuxer, type TsDemuxHandler } from '../../../gateway/formats/mpegts/demux.js';
import { hasTool } from '../../helpers/tools.js';
import { FFMPEG_AVCC, FFMPEG_HVCC, hex } from '../codecs/vectors.js';
import { parseAvcDecoderConfig } from '../../../gateway/codecs/h264.js';
import { parseHevcDecoderConfig } from '../../../gateway/codecs/h265.js';
import { nalusToLengthPrefixed } from '../../../gateway/codecs/annexb.js';
import { prng } from '../../helpers/prng.js';

const AVCC = hex(FFMPEG_AVCC[1]!.record); // 854x480 Baseline
const HVCC = hex(FFMPEG_HVCC[0]!.record); // 640x360 Main
const h264: VideoTrack = { kind: 'video', codec: 'H264', config: AVCC, width: 854, height: 480, fps: 25 };
const h265: VideoTrack = { kind: 'video', codec: 'H265', config: HVCC, width: 640, height: 360, fps: 25 };
const aac: AudioTrack = { kind: 'audio', codec: 'AAC', config: Buffer.from([0x12, 0x10]), sampleRate: 44100, channels: 2 };

interface Out {
  video: { dts: number; pts: number; keyframe: boolean; payload: Buffer }[];
  audio: { dts: number; payload: Buffer }[];
  videoTracks: VideoTrack[];
  audioTracks: AudioTrack[];
}

function collector(): { out: Out; handler: TsDemuxHandler } {
  const out: Out = { video: [], audio: [], videoTracks: [], audioTracks: [] };
  return {
    out,
    handler: {
      videoTrack: (t) => out.videoTracks.push(t),
      audioTrack: (t) => out.audioTracks.push(t),
      video: (dts, pts, keyframe, payload) => out.video.push({ dts, pts, keyframe, payload: Buffer.from(payload) }),
      audio: (dts, payload) => out.audio.push({ dts, payload: Buffer.from(payload) }),
    },
  };
}

function demux(ts: Buffer, chunk = ts.length): { out: Out; demuxer: TsDemuxer } {
  const { out, handler } = collector();
  const demuxer = new TsDemuxer(handler);
  for (let i = 0; i < ts.length; i += chunk) demuxer.push(ts.subarray(i, i + chunk));
  demuxer.flush();
  return { out, demuxer };
}

/** A keyframe is IDR (H.264 type 5) / IDR_W_RADL (H.265 type 19); others a non-IDR slice. */
function slice(codec: 'H264' | 'H265', key: boolean, i: number): Buffer {
  const body = Buffer.alloc(200 + (i % 7) * 150, 0x40 + (i % 50));
  const header = codec === 'H264' ? [key ? 0x65 : 0x41, 0x88] : [key ? 0x26 : 0x02, 0x01, 0xaf];
  return nalusToLengthPrefixed([Buffer.concat([Buffer.from(header), body])]);
}

/** 25 fps video with a keyframe every 10 frames and 44.1 kHz AAC, interleaved by dts, starting at `start` ms. */
function frames(video: VideoTrack, count: number, start = 0): MediaFrame[] {
  const out: MediaFrame[] = [];
  for (let i = 0; i < count; i++) {
    const dts = start + i * 40;
    out.push(new MediaFrame(FrameKind.Video, dts, dts + (i % 10 === 0 ? 0 : 40), i % 10 === 0, slice(video.codec, i % 10 === 0, i), 0, video));
    out.push(new MediaFrame(FrameKind.Audio, dts + 10, dts + 10, true, Buffer.alloc(180 + (i % 5), i & 0xff), 0, aac));
  }
  return out;
}

function mux(video: VideoTrack, list: MediaFrame[]): Buffer {
  const m = new TsMuxer({ video, audio: aac });
  return Buffer.concat([m.tables(), m.mux(list)]);
}

describe('MPEG-TS demuxer', () => {
  it.each([
    { name: 'H.264', track: h264 },
    { name: 'H.265', track: h265 },
  ])('round-trips $name + AAC through the muxer: tracks, payloads, timestamps, keyframes', ({ track }) => {
    const input = frames(track, 30);
    const { out, demuxer } = demux(mux(track, input));
    expect(out.videoTracks).toHaveLength(1);
    expect(out.videoTracks[0]!.codec).toBe(track.codec);
    expect(out.videoTracks[0]!.width).toBe(track.width);
    const sets = track.codec === 'H264' ? parseAvcDecoderConfig(out.videoTracks[0]!.config) : parseHevcDecoderConfig(out.videoTracks[0]!.config);
    const want = track.codec === 'H264' ? parseAvcDecoderConfig(track.config) : parseHevcDecoderConfig(track.config);
    expect(sets.sps).toEqual(want.sps);
    expect(out.audioTracks).toEqual([{ kind: 'audio', codec: 'AAC', config: aac.config, sampleRate: 44100, channels: 2 }]);
    const video = input.filter((f) => f.kind === FrameKind.Video);
    expect(out.video).toHaveLength(video.length);
    out.video.forEach((v, i) => {
      expect(v.dts).toBeCloseTo(video[i]!.dts, 5);
      expect(v.pts).toBeCloseTo(video[i]!.pts, 5);
      expect(v.keyframe).toBe(video[i]!.keyframe);
      // The muxer adds parameter sets before keyframes; the slice is the last NAL unit.
      expect(v.payload.subarray(v.payload.length - video[i]!.payload.length)).toEqual(video[i]!.payload);
    });
    const audio = input.filter((f) => f.kind === FrameKind.Audio);
    expect(out.audio.map((a) => a.payload)).toEqual(audio.map((a) => a.payload));
    expect(out.audio[0]!.dts).toBeCloseTo(10, 5);
    // Frames after the first of a PES are 1024 samples apart; one per PES here, each with its own PTS.
    expect(out.audio[5]!.dts).toBeCloseTo(210, 5);
    expect(demuxer.stats).toMatchObject({ resyncs: 0, continuityErrors: 0, badSections: 0, droppedPes: 0 });
  });

  it('gives the same result whatever the chunking (1, 7, 188, 1316 bytes)', () => {
    const ts = mux(h264, frames(h264, 12));
    const whole = demux(ts).out;
    for (const chunk of [1, 7, 188, 1316]) expect(demux(ts, chunk).out).toEqual(whole);
  });

  it('resyncs on garbage before and between packets, counting it', () => {
    const ts = mux(h264, frames(h264, 20));
    const cut = 188 * 40;
    const garbage = Buffer.from('47 not a packet 47 47 junk'.repeat(5));
    const { out, demuxer } = demux(Buffer.concat([garbage, ts.subarray(0, cut), garbage, ts.subarray(cut)]), 500);
    expect(demuxer.stats.resyncs).toBeGreaterThan(0);
    expect(demuxer.stats.skippedBytes).toBeGreaterThanOrEqual(garbage.length * 2);
    expect(out.video.length).toBeGreaterThanOrEqual(18);
    expect(out.video[0]!.keyframe).toBe(true);
  });

  it('counts a continuity gap, drops the PES it hit and waits for the next keyframe', () => {
    const ts = mux(h264, frames(h264, 25));
    // Drop the 3rd video packet after the tables (inside the first GOP).
    const packets: Buffer[] = [];
    let videoPackets = 0;
    for (let i = 0; i < ts.length; i += 188) {
      const p = ts.subarray(i, i + 188);
      const pid = ((p[1]! & 0x1f) << 8) | p[2]!;
      if (pid === 0x100 && ++videoPackets === 30) continue;
      packets.push(p);
    }
    const { out, demuxer } = demux(Buffer.concat(packets));
    expect(demuxer.stats.continuityErrors).toBe(1);
    expect(demuxer.stats.droppedPes).toBe(1);
    // Everything from the broken frame to the next keyframe (frame 10) is gone.
    const dts = out.video.map((v) => Math.round(v.dts));
    expect(dts[0]).toBe(0);
    expect(dts).toContain(400);
    expect(out.video.length).toBeLessThan(25);
    expect(out.video.every((v, i) => i === 0 || v.dts > out.video[i - 1]!.dts)).toBe(true);
  });

  it('emits an unbounded video PES at its stuffed last packet, not one frame later', () => {
    const list = frames(h264, 1).filter((f) => f.kind === FrameKind.Video);
    const { out, handler } = collector();
    const d = new TsDemuxer(handler);
    d.push(mux(h264, list)); // no flush(), no next PES
    expect(out.video).toHaveLength(1);
    expect(d.stats.prematurePesEnds).toBe(0);
  });

  it('counts stuffing that was not the end of a PES, and resumes at the next keyframe', () => {
    const ts = mux(h264, frames(h264, 25));
    const out: Buffer[] = [];
    let videoPackets = 0;
    let cc = 0;
    for (let i = 0; i < ts.length; i += 188) {
      const p = Buffer.from(ts.subarray(i, i + 188));
      const pid = ((p[1]! & 0x1f) << 8) | p[2]!;
      if (pid !== 0x100) {
        out.push(p);
        continue;
      }
      videoPackets++;
      const parts: Buffer[] = [p];
      if (videoPackets === 40 && !(p[1]! & 0x40) && !(p[3]! & 0x20)) {
        // One full payload packet in mid-PES split in two, the first padded with stuffing.
        const payload = p.subarray(4);
        const a = Buffer.alloc(188, 0xff);
        a.set([0x47, 0x01, 0x00, 0x30, 183 - 100, 0x00]);
        payload.copy(a, 188 - 100, 0, 100);
        const b = Buffer.alloc(188, 0xff);
        b.set([0x47, 0x01, 0x00, 0x30, 183 - 84, 0x00]);
        payload.copy(b, 188 - 84, 100);
        parts.splice(0, 1, a, b);
      }
      for (const q of parts) {
        q[3] = (q[3]! & 0xf0) | (cc++ & 0x0f);
        out.push(q);
      }
    }
    const { out: got, demuxer } = demux(Buffer.concat(out));
    expect(demuxer.stats.prematurePesEnds).toBe(1);
    expect(demuxer.stats.continuityErrors).toBe(0);
    // The frames after the broken one up to the next keyframe are not passed on.
    expect(got.video.length).toBeLessThan(25);
    expect(got.video.map((v) => Math.round(v.dts))).toContain(400);
  });

  it('ignores a PMT with a bad CRC', () => {
    const ts = Buffer.from(mux(h264, frames(h264, 3)));
    ts[188 + 20] ^= 0xff; // inside the PMT section
    const { out, demuxer } = demux(ts);
    expect(demuxer.stats.badSections).toBe(1);
    expect(out.video).toHaveLength(0);
  });

  it('unwraps the 33-bit PTS/DTS: timestamps keep growing across the wrap', () => {
    const wrapMs = 2 ** 33 / 90;
    const input = frames(h264, 20, Math.floor(wrapMs) - 400);
    const { out } = demux(mux(h264, input));
    expect(out.video).toHaveLength(20);
    out.video.forEach((v, i) => expect(v.dts).toBeCloseTo(i * 40, 0));
    expect(out.audio.every((a, i) => i === 0 || a.dts > out.audio[i - 1]!.dts)).toBe(true);
  });

  it('splits several ADTS frames of one PES, 1024 samples apart, and ADTS split across PES packets', () => {
    const adts = (n: number, fill: number) => {
      const h = Buffer.from([0xff, 0xf1, 0x50, 0x80, 0, 0x1f, 0xfc]); // LC, 44.1 kHz, stereo
      const len = 7 + n;
      h[3] = 0x80 | (len >> 11);
      h[4] = (len >> 3) & 0xff;
      h[5] = ((len & 7) << 5) | 0x1f;
      return Buffer.concat([h, Buffer.alloc(n, fill)]);
    };
    const three = Buffer.concat([adts(100, 1), adts(120, 2), adts(90, 3)]);
    const pes = (body: Buffer, pts90: number) => {
      const h = Buffer.from([0, 0, 1, 0xc0, 0, 0, 0x80, 0x80, 5, 0, 0, 0, 0, 0]);
      h.writeUInt16BE(8 + body.length, 4);
      h[9] = 0x21 | ((Math.floor(pts90 / 2 ** 30) & 7) << 1);
      h.writeUInt16BE((((pts90 >>> 15) & 0x7fff) << 1) | 1, 10);
      h.writeUInt16BE(((pts90 & 0x7fff) << 1) | 1, 12);
      return Buffer.concat([h, body]);
    };
    const out = collector();
    const d = new TsDemuxer(out.handler);
    d.push(new TsMuxer({ audio: aac }).tables());
    let cc = 0;
    const packetize = (p: Buffer) => {
      for (let o = 0; o < p.length; o += 184) {
        const part = p.subarray(o, o + 184);
        const stuff = 184 - part.length;
        const pkt = Buffer.alloc(188, 0xff);
        pkt[0] = 0x47;
        pkt[1] = (o === 0 ? 0x40 : 0) | 0x01;
        pkt[2] = 0x01;
        if (stuff > 0) {
          pkt[3] = 0x30 | (cc++ & 15);
          pkt[4] = stuff - 1;
          if (stuff > 1) pkt[5] = 0;
          part.copy(pkt, 4 + stuff);
        } else {
          pkt[3] = 0x10 | (cc++ & 15);
          part.copy(pkt, 4);
        }
        d.push(pkt);
      }
    };
    packetize(pes(Buffer.concat([three, adts(50, 4).subarray(0, 20)]), 9000));
    packetize(pes(Buffer.concat([adts(50, 4).subarray(20), adts(60, 5)]), 9000 + 4 * 1024 * 90000 / 44100));
    expect(out.out.audio.map((a) => a.payload[0])).toEqual([1, 2, 3, 4, 5]);
    expect(out.out.audio.map((a) => a.payload.length)).toEqual([100, 120, 90, 50, 60]);
    out.out.audio.forEach((a, i) => expect(a.dts).toBeCloseTo((i * 1024 * 1000) / 44100, 3));
  });

  it.each([
    { name: 'MP2', type: 0x03, desc: [], says: 'MPEG-1 audio (MP2/MP3)' },
    { name: 'MPEG-2 audio', type: 0x04, desc: [], says: 'MPEG-2 audio' },
    { name: 'Opus', type: 0x06, desc: [0x05, 0x04, 0x4f, 0x70, 0x75, 0x73], says: 'Opus' },
  ])('refuses $name with UnsupportedCodecError naming what is supported', ({ type, desc, says }) => {
    const pat = Buffer.from([0x00, 0xb0, 0x0d, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xf0, 0x00]);
    const es = [0x1b, 0xe1, 0x00, 0xf0, 0x00, type, 0xe1, 0x01, 0xf0, desc.length, ...desc];
    const pmtBody = [0x02, 0xb0, 9 + es.length + 4, 0x00, 0x01, 0xc1, 0x00, 0x00, 0xe1, 0x00, 0xf0, 0x00, ...es];
    const section = (pid: number, body: Buffer) => {
      const p = Buffer.alloc(188, 0xff);
      p[0] = 0x47;
      p[1] = 0x40 | (pid >> 8);
      p[2] = pid & 0xff;
      p[3] = 0x10;
      p[4] = 0;
      body.copy(p, 5);
      p.writeUInt32BE(crc32Mpeg2(body), 5 + body.length);
      return p;
    };
    const d = new TsDemuxer(collector().handler);
    d.push(section(0, pat));
    let error: unknown;
    try {
      d.push(section(0x1000, Buffer.from(pmtBody)));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnsupportedCodecError);
    expect((error as UnsupportedCodecError).code).toBe('SG_ERR_UNSUPPORTED_CODEC');
    expect((error as Error).message).toContain(says);
    expect((error as Error).message).toContain('supported: H264 (stream_type 0x1B), H265 (0x24), AAC ADTS (0x0F)');
  });
});

const ffmpeg = hasTool('ffmpeg') && hasTool('ffprobe');

describe.skipIf(!ffmpeg)('MPEG-TS demuxer on ffmpeg output', () => {
  function encode(videoArgs: string[], audioArgs: string[]): Buffer {
    return execFileSync(
      'ffmpeg',
      ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
        '-t', '2', ...videoArgs, ...audioArgs, '-f', 'mpegts', 'pipe:1'],
      { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
    );
  }

  it.each([
    { name: 'H.264 + AAC', codec: 'H264', video: ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-bf', '2'] },
    { name: 'H.265 + AAC', codec: 'H265', video: ['-c:v', 'libx265', '-preset', 'ultrafast', '-g', '25', '-x265-params', 'log-level=error'] },
  ])('demuxes $name: 50 frames, keyframes every second, 48 kHz audio, monotonic dts', ({ codec, video }) => {
    const ts = encode(video, ['-c:a', 'aac', '-b:a', '64k']);
    const { out, demuxer } = demux(ts, 1316);
    expect(out.videoTracks[0]).toMatchObject({ codec, width: 320, height: 240 });
    expect(out.audioTracks[0]).toMatchObject({ codec: 'AAC', sampleRate: 48000, channels: 1 });
    expect(out.video).toHaveLength(50);
    expect(out.video.filter((v) => v.keyframe)).toHaveLength(2);
    expect(out.video.every((v, i) => i === 0 || v.dts > out.video[i - 1]!.dts)).toBe(true);
    expect(out.video.every((v) => v.pts >= v.dts)).toBe(true);
    // 2 s of 1024-sample frames at 48 kHz: 94 (ffmpeg may pad one more).
    expect(out.audio.length).toBeGreaterThanOrEqual(93);
    expect(demuxer.stats).toMatchObject({ continuityErrors: 0, badSections: 0, droppedPes: 0, resyncs: 0, prematurePesEnds: 0 });
  });

  it.each([
    { name: 'MP2', audio: ['-c:a', 'mp2'], says: /unsupported codec MPEG-1 audio \(MP2\/MP3\) \(stream_type 0x03/ },
    { name: 'Opus', audio: ['-c:a', 'libopus'], says: /unsupported codec Opus \(stream_type 0x06/ },
    { name: 'AC-3', audio: ['-c:a', 'ac3'], says: /unsupported codec AC-3 \(stream_type 0x81/ },
  ])('refuses ffmpeg $name audio', ({ audio, says }) => {
    const ts = encode(['-c:v', 'libx264', '-preset', 'ultrafast'], audio);
    expect(() => demux(ts)).toThrow(says);
  });
});

describe('MPEG-TS demuxer fuzzing', () => {
  const seeds = [mux(h264, frames(h264, 12)), mux(h265, frames(h265, 12))];

  it('mutated, truncated and random input never throws anything but UnsupportedCodecError, and ends', () => {
    const random = prng(7);
    const int = (n: number) => Math.floor(random() * n);
    const failures: string[] = [];
    for (let i = 0; i < 400; i++) {
      const input = Buffer.from(seeds[i % seeds.length]!);
      const flips = int(40) + 1;
      for (let f = 0; f < flips; f++) input[int(input.length)] = random() < 0.5 ? int(256) : input[int(input.length)]! ^ (1 << int(8));
      let bytes: Buffer = input.subarray(0, int(input.length + 1));
      if (i % 5 === 0) bytes = Buffer.from(Array.from({ length: int(4000) }, () => (random() < 0.1 ? 0x47 : int(256))));
      const { handler } = collector();
      const d = new TsDemuxer(handler);
      try {
        for (let o = 0; o < bytes.length; ) {
          const n = int(1500) + 1;
          d.push(bytes.subarray(o, o + n));
          o += n;
        }
        d.flush();
      } catch (error) {
        if (!(error instanceof UnsupportedCodecError)) failures.push(`#${i}: ${String(error)}`);
      }
    }
    expect(failures).toEqual([]);
  });
});

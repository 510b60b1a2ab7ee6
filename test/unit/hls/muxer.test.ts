import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { FrameKind, MediaFrame, type AudioTrack, type VideoTrack } from '../../../gateway/core/media.js';
import type { ReaderOutput } from '../../../gateway/core/reader.js';
import type { Stream } from '../../../gateway/core/stream.js';
import { frameFormat } from '../../../gateway/formats/segmenter-reader.js';
import { hlsConfigSchema } from '../../../gateway/protocols/hls/config.js';
import { HlsMuxer } from '../../../gateway/protocols/hls/muxer.js';

const AVCC = Buffer.from('0142c01fffe100176742c01fda0360f79bc04400000fa40003a9803c60ca8001000468ce0fc8', 'hex');
const video: VideoTrack = { kind: 'video', codec: 'H264', config: AVCC, width: 854, height: 480, fps: 25 };
const audio: AudioTrack = { kind: 'audio', codec: 'AAC', config: Buffer.from([0x12, 0x10]), sampleRate: 44100, channels: 2 };
const PID_PAT = 0;
const PID_PMT = 0x1000;

/** A stream fake: the muxer's frame reader is the captured output, fed by hand. */
function tsMuxer(): { muxer: HlsMuxer; output: () => ReaderOutput } {
  let output: ReaderOutput | undefined;
  const stream = {
    path: 'live/ts',
    videoTrack: video,
    audioTrack: audio,
    addReader(o: ReaderOutput) {
      output = o;
      return { close() {} };
    },
    on() {},
    off() {},
  } as unknown as Stream;
  const config = hlsConfigSchema.parse({ container: 'ts', lowLatency: true, segmentMs: 1000, partMs: 200 });
  const muxer = new HlsMuxer(stream, config, pino({ level: 'silent' }), () => {});
  return { muxer, output: () => output! };
}

/** 25 fps H.264 with a keyframe a second, AAC every 23 ms. */
function frames(seconds: number): MediaFrame[] {
  const out: MediaFrame[] = [];
  let audioDts = 0;
  for (let i = 0; i < seconds * 25; i++) {
    const dts = i * 40;
    while (audioDts <= dts) {
      out.push(new MediaFrame(FrameKind.Audio, audioDts, audioDts, true, Buffer.alloc(200, 0x22), 0, audio));
      audioDts += 23;
    }
    const slice = Buffer.alloc(400, 0x11);
    slice.writeUInt32BE(396, 0);
    slice[4] = i % 25 === 0 ? 0x65 : 0x41;
    out.push(new MediaFrame(FrameKind.Video, dts, dts, i % 25 === 0, slice, 0, video));
  }
  return out;
}

/** PID and continuity_counter of each transport packet (ISO/IEC 13818-1 §2.4.3.2). */
function scan(ts: Buffer): { pid: number; cc: number }[] {
  expect(ts.length % 188).toBe(0);
  const out: { pid: number; cc: number }[] = [];
  for (let o = 0; o < ts.length; o += 188) {
    expect(ts[o]).toBe(0x47);
    out.push({ pid: ((ts[o + 1]! & 0x1f) << 8) | ts[o + 2]!, cc: ts[o + 3]! & 0x0f });
  }
  return out;
}

describe('HLS muxer, MPEG-TS', () => {
  it('starts every part with PAT and PMT whose continuity counters advance by one', () => {
    const { muxer, output } = tsMuxer();
    output().headers(true);
    for (const f of frames(4)) output().write(frameFormat.serialize(f));
    const parts = muxer.segments.flatMap((s) => s.parts);
    expect(parts.length).toBeGreaterThan(16); // the 4-bit counters wrap
    for (const p of parts) expect(scan(p.bytes.subarray(0, 2 * 188)).map((x) => x.pid)).toEqual([PID_PAT, PID_PMT]);
    const packets = scan(Buffer.concat(parts.map((p) => p.bytes)));
    for (const pid of [PID_PAT, PID_PMT]) {
      const cc = packets.filter((x) => x.pid === pid).map((x) => x.cc);
      expect(cc).toHaveLength(parts.length);
      for (let i = 1; i < cc.length; i++) expect(cc[i]).toBe((cc[i - 1]! + 1) % 16);
    }
    muxer.close();
  });
});

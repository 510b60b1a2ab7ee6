import { describe, expect, it } from 'vitest';
import { nalusToLengthPrefixed } from '../../../gateway/codecs/annexb.js';
import { FrameKind, MediaFrame, wireBytes, type AudioTrack, type VideoTrack } from '../../../gateway/core/media.js';
import { TsDemuxer } from '../../../gateway/formats/mpegts/demux.js';
import { TsMuxer } from '../../../gateway/formats/mpegts.js';
import { TsContinuity, tsWireFormat } from '../../../gateway/protocols/srt/from-stream.js';
import { FFMPEG_AVCC, hex } from '../codecs/vectors.js';

const video: VideoTrack = { kind: 'video', codec: 'H264', config: hex(FFMPEG_AVCC[1]!.record), width: 854, height: 480, fps: 25 };
const audio: AudioTrack = { kind: 'audio', codec: 'AAC', config: Buffer.from([0x12, 0x10]), sampleRate: 44100, channels: 2 };

function frames(n: number): MediaFrame[] {
  const out: MediaFrame[] = [];
  for (let i = 0; i < n; i++) {
    const key = i % 10 === 0;
    const slice = Buffer.concat([Buffer.from([key ? 0x65 : 0x41, 0x88]), Buffer.alloc(300 + i * 37, i)]);
    out.push(new MediaFrame(FrameKind.Video, i * 40, i * 40, key, nalusToLengthPrefixed([slice]), 0, video));
    out.push(new MediaFrame(FrameKind.Audio, i * 40 + 5, i * 40 + 5, true, Buffer.alloc(200, i), 0, audio));
  }
  return out;
}

describe('SRT play: frames to MPEG-TS', () => {
  it('gives two readers the same frames with continuous counters of their own, tables before keyframes', () => {
    const format = tsWireFormat();
    const list = frames(25);
    const tables = () => new TsMuxer({ video, audio }).tables();
    for (const joinAt of [0, 10]) {
      const continuity = new TsContinuity(tables);
      const got: { video: number[]; audio: number[] } = { video: [], audio: [] };
      const demuxer = new TsDemuxer({
        videoTrack: () => {},
        audioTrack: () => {},
        video: (dts) => got.video.push(Math.round(dts)),
        audio: (dts) => got.audio.push(Math.round(dts)),
      });
      for (const f of list.slice(joinAt * 2)) demuxer.push(continuity.apply(wireBytes(f, format)));
      demuxer.flush();
      expect(demuxer.stats).toMatchObject({ continuityErrors: 0, badSections: 0, droppedPes: 0 });
      expect(got.video).toEqual(list.slice(joinAt * 2).filter((f) => f.kind === FrameKind.Video).map((f) => f.dts - joinAt * 40));
      expect(got.audio).toHaveLength(25 - joinAt);
    }
  });

  it('serializes a frame once: the cached bytes are not changed by a reader', () => {
    const format = tsWireFormat();
    const f = frames(1)[0]!;
    const bytes = wireBytes(f, format);
    const before = Buffer.from(bytes);
    new TsContinuity(() => Buffer.alloc(0)).apply(bytes);
    new TsContinuity(() => Buffer.alloc(0)).apply(bytes);
    expect(wireBytes(f, format)).toBe(bytes);
    expect(bytes).toEqual(before);
  });
});

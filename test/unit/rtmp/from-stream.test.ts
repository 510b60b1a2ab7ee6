import { describe, expect, it } from 'vitest';
import { FrameKind, MediaFrame, type AudioTrack, type VideoTrack } from '../../../gateway/core/media.js';
import { parseAudioTagBody, parseVideoTagBody } from '../../../gateway/formats/flv-tag.js';
import { PLAY_STREAM_ID, rtmpFormat } from '../../../gateway/protocols/rtmp/from-stream.js';

const h264: VideoTrack = { kind: 'video', codec: 'H264', config: Buffer.from([1, 0x42, 0xc0, 0x1f]), width: 320, height: 240, fps: 25 };
const h265: VideoTrack = { kind: 'video', codec: 'H265', config: Buffer.from([1, 1, 0x60]), width: 320, height: 240, fps: 25 };
const aac: AudioTrack = { kind: 'audio', codec: 'AAC', config: Buffer.from([0x12, 0x10]), sampleRate: 44100, channels: 2 };

/** Joins the chunks of one message (RTMP 1.0 §5.3.1): a type-0 header, then type-3 headers every `chunkSize` bytes. */
function dechunk(bytes: Buffer, chunkSize: number) {
  const csid = bytes[0]! & 0x3f;
  const timestamp = bytes.readUIntBE(1, 3);
  const length = bytes.readUIntBE(4, 3);
  const type = bytes[7]!;
  const streamId = bytes.readUInt32LE(8);
  const body: Buffer[] = [];
  let pos = 12;
  let left = length;
  while (left > 0) {
    if (pos > 12) {
      expect(bytes[pos]).toBe(0xc0 | csid); // type-3 header of the same chunk stream
      pos++;
    }
    const take = Math.min(chunkSize, left);
    body.push(bytes.subarray(pos, pos + take));
    pos += take;
    left -= take;
  }
  expect(pos).toBe(bytes.length);
  return { type, timestamp, streamId, body: Buffer.concat(body) };
}

describe('RTMP play serialization', () => {
  for (const chunkSize of [1, 3, 5, 7, 8, 128, 4096]) {
    it(`frames H.264, H.265 (enhanced RTMP) and AAC into ${chunkSize}-byte chunks, prefix and payload intact`, () => {
      const format = rtmpFormat(chunkSize);
      const payload = Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff));
      const frames = [
        new MediaFrame(FrameKind.Video, 1000, 1080, true, payload, 0, h264),
        new MediaFrame(FrameKind.Video, 1040, 1040, false, payload, 0, h265),
        new MediaFrame(FrameKind.Audio, 1023, 1023, true, payload.subarray(0, 50), 0, aac),
      ];
      const out = frames.map((f) => Buffer.from(format.serialize(f))); // copies: a later frame must not change an earlier one
      const again = frames.map((f) => format.serialize(f));
      for (let i = 0; i < frames.length; i++) expect(again[i]!.equals(out[i]!)).toBe(true);

      const v264 = dechunk(out[0]!, chunkSize);
      expect(v264).toMatchObject({ type: 9, timestamp: 1000, streamId: PLAY_STREAM_ID });
      expect(parseVideoTagBody(v264.body)).toEqual({ type: 'frame', codec: 'H264', keyframe: true, cts: 80, data: payload });
      const v265 = dechunk(out[1]!, chunkSize);
      expect(v265).toMatchObject({ type: 9, timestamp: 1040 });
      expect(parseVideoTagBody(v265.body)).toEqual({ type: 'frame', codec: 'H265', keyframe: false, cts: 0, data: payload });
      const a = dechunk(out[2]!, chunkSize);
      expect(a).toMatchObject({ type: 8, timestamp: 1023 });
      expect(parseAudioTagBody(a.body)).toMatchObject({ type: 'frame', codec: 'AAC', data: payload.subarray(0, 50) });
    });
  }
});

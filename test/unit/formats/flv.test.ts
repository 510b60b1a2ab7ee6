import { describe, expect, it } from 'vitest';
import { Amf0Error, decodeAmf0, EcmaArray, encodeAmf0 } from '../../../gateway/formats/amf0.js';
import {
  audioConfigBody,
  audioFramePrefixSize,
  parseAudioTagBody,
  parseVideoTagBody,
  videoConfigBody,
  videoFramePrefixSize,
  writeAudioFramePrefix,
  writeVideoFramePrefix,
} from '../../../gateway/formats/flv-tag.js';
import { FlvDemuxer, type FlvTag } from '../../../gateway/protocols/flv/demux.js';
import { flvFileHeader, flvTag } from '../../../gateway/protocols/flv/mux.js';
import type { AudioTrack, VideoTrack } from '../../../gateway/core/media.js';
import { StreamgateError } from '../../../gateway/core/errors.js';

function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('FLV tag bodies', () => {
  const cases: { codec: VideoTrack['codec']; keyframe: boolean; cts: number }[] = [
    { codec: 'H264', keyframe: true, cts: 0 },
    { codec: 'H264', keyframe: false, cts: 80 },
    { codec: 'H264', keyframe: false, cts: -40 },
    { codec: 'H265', keyframe: true, cts: 0 },
    { codec: 'H265', keyframe: false, cts: 120 },
  ];
  for (const c of cases) {
    it(`round-trips a ${c.codec} ${c.keyframe ? 'key' : 'inter'} frame with cts ${c.cts}`, () => {
      const payload = Buffer.from([0, 0, 0, 2, 0x65, 0x88]);
      const body = Buffer.alloc(videoFramePrefixSize(c.codec) + payload.length);
      writeVideoFramePrefix(body, 0, c.codec, c.keyframe, c.cts);
      payload.copy(body, videoFramePrefixSize(c.codec));
      expect(parseVideoTagBody(body)).toEqual({ type: 'frame', codec: c.codec, keyframe: c.keyframe, cts: c.cts, data: payload });
    });
  }

  it('round-trips sequence headers for both video codecs', () => {
    for (const codec of ['H264', 'H265'] as const) {
      const track: VideoTrack = { kind: 'video', codec, config: Buffer.from([1, 2, 3]), width: 1, height: 1, fps: 0 };
      expect(parseVideoTagBody(videoConfigBody(track))).toEqual({ type: 'config', codec, config: track.config });
    }
  });

  it('round-trips AAC and G.711 audio', () => {
    const aac: AudioTrack = { kind: 'audio', codec: 'AAC', config: Buffer.from([0x12, 0x10]), sampleRate: 44100, channels: 2 };
    expect(parseAudioTagBody(audioConfigBody(aac)!)).toEqual({ type: 'config', codec: 'AAC', config: aac.config });
    for (const codec of ['AAC', 'PCMA', 'PCMU'] as const) {
      const track: AudioTrack = { ...aac, codec, channels: 1 };
      const body = Buffer.alloc(audioFramePrefixSize(codec) + 3);
      writeAudioFramePrefix(body, 0, track);
      body.set([7, 8, 9], audioFramePrefixSize(codec));
      expect(parseAudioTagBody(body)).toMatchObject({ type: 'frame', codec, data: Buffer.from([7, 8, 9]) });
    }
  });

  it('refuses unsupported codecs naming the supported ones', () => {
    expect(() => parseVideoTagBody(Buffer.from([0x12, 0, 0, 0, 0]))).toThrow(/unsupported codec FLV video codec id 2; supported: H264/);
    expect(() => parseVideoTagBody(Buffer.from([0x90, 0x61, 0x76, 0x30, 0x31]))).toThrow(/fourcc av01/);
    expect(() => parseAudioTagBody(Buffer.from([0x2f, 0]))).toThrow(/sound format 2; supported: AAC/);
  });

  it('throws only StreamgateErrors on random bytes', () => {
    const rnd = prng(42);
    for (let i = 0; i < 5000; i++) {
      const b = Buffer.alloc(Math.floor(rnd() * 12));
      for (let j = 0; j < b.length; j++) b[j] = Math.floor(rnd() * 256);
      for (const parse of [parseVideoTagBody, parseAudioTagBody]) {
        try {
          parse(b);
        } catch (e) {
          expect(e).toBeInstanceOf(StreamgateError);
        }
      }
    }
  });
});

describe('AMF0', () => {
  it('round-trips the values onMetaData uses', () => {
    const v = encodeAmf0('onMetaData', new EcmaArray({ width: 1280, stereo: true, encoder: 'obs', n: null }), [1, 'a'], { o: { p: 1 } });
    expect(decodeAmf0(v)).toEqual(['onMetaData', { width: 1280, stereo: true, encoder: 'obs', n: null }, [1, 'a'], { o: { p: 1 } }]);
  });

  it('bounds nesting depth', () => {
    let v: any = 1;
    for (let i = 0; i < 40; i++) v = { v };
    expect(() => decodeAmf0(encodeAmf0(v))).toThrow(/nesting deeper/);
  });

  it('throws only Amf0Error on mutated input', () => {
    const good = encodeAmf0('onMetaData', new EcmaArray({ width: 1280, encoder: 'x', a: [1, 2, { b: true }] }));
    const rnd = prng(7);
    for (let i = 0; i < 5000; i++) {
      const b = Buffer.from(good.subarray(0, Math.floor(rnd() * good.length) + 1));
      for (let k = 0; k < 3; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      try {
        decodeAmf0(b);
      } catch (e) {
        expect(e).toBeInstanceOf(Amf0Error);
      }
    }
  });
});

describe('FLV demuxer', () => {
  it('reassembles tags split at every byte boundary', () => {
    const stream = Buffer.concat([flvFileHeader(true, true), flvTag(9, 0, Buffer.from([0x17, 0, 0, 0, 0, 1])), flvTag(8, 40, Buffer.from([0xaf, 1, 9]))]);
    for (let split = 1; split < stream.length; split++) {
      const tags: FlvTag[] = [];
      const d = new FlvDemuxer((t) => tags.push({ ...t, body: Buffer.from(t.body) }));
      d.push(stream.subarray(0, split));
      d.push(stream.subarray(split));
      expect(tags.map((t) => [t.type, t.timestamp])).toEqual([[9, 0], [8, 40]]);
    }
  });

  it('refuses a broken PreviousTagSize and oversized tags', () => {
    const bad = Buffer.concat([flvFileHeader(false, true), flvTag(9, 0, Buffer.from([1, 2, 3]))]);
    bad.writeUInt32BE(99, bad.length - 4);
    expect(() => new FlvDemuxer(() => {}).push(bad)).toThrow(/PreviousTagSize/);
    const big = Buffer.concat([flvFileHeader(false, true), Buffer.from([9, 0x7f, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0])]);
    expect(() => new FlvDemuxer(() => {}, 1024).push(big)).toThrow(/exceeds/);
  });
});

/** Frames a reader's format cannot carry (Opus in FLV/RTMP/TS): skipped, counted, never written. */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { FrameKind, MediaFrame, NOT_CARRIED, type VideoTrack, type WireFormat, wireBytes } from '../../../gateway/core/media.js';
import type { ReaderOutput } from '../../../gateway/core/reader.js';
import { StreamRegistry, type HubOptions } from '../../../gateway/core/registry.js';
import { decodeAmf0 } from '../../../gateway/formats/amf0.js';
import { flvAudioTrack, flvCarriesAudio, onMetaDataBody } from '../../../gateway/formats/flv-tag.js';
import { aacTrackFromConfig, g711Track, opusTrack } from '../../../gateway/formats/tracks.js';
import { flvFormat, flvHeaderTags, wsFlvFormat } from '../../../gateway/protocols/flv/mux.js';
import { rtmpFormat, rtmpHeaderMessages } from '../../../gateway/protocols/rtmp/from-stream.js';
import { tsWireFormat } from '../../../gateway/protocols/srt/from-stream.js';

const log = pino({ level: 'silent' });
const video: VideoTrack = { kind: 'video', codec: 'H264', config: Buffer.from([1]), width: 320, height: 240, fps: 25 };
const options: HubOptions = {
  maxBytes: 1_000_000,
  maxDurationMs: 10_000,
  maxReaderLagMs: 200,
  maxReaderQueueBytes: 100_000,
  readerStallTimeoutMs: 60_000,
  publisherGraceMs: 1000,
  readyTimeoutMs: 300,
  takeoverPaths: [],
  writeMergeMs: 0,
};

/** Video as text, audio not carried: the shape of FLV for an Opus stream. */
const videoOnly: WireFormat = {
  name: 'video-only',
  slot: 7,
  serialize: (f) => (f.kind === FrameKind.Audio ? NOT_CARRIED : Buffer.from(`v${f.dts}`)),
};

function output(corking: boolean) {
  const written: string[] = [];
  const out: ReaderOutput = {
    protocol: 'test',
    remoteAddress: '127.0.0.1:1',
    format: videoOnly,
    headers: () => [Buffer.from('HDR')],
    write: (b) => {
      expect(b.length).toBeGreaterThan(0);
      written.push(b.toString());
      return true;
    },
    close: () => {},
    ...(corking ? { cork: () => {}, uncork: () => {} } : {}),
  };
  return { out, written };
}

describe('frames a format does not carry', () => {
  it.each([
    ['frame by frame', false],
    ['in batched (merged) writes', true],
  ])('are skipped and counted, %s', async (_name, corking) => {
    const r = new StreamRegistry({ ...options, writeMergeMs: corking ? 5 : 0 }, log);
    const s = r.publish('live/opus', { protocol: 'test', remoteAddress: '127.0.0.1:2', query: {}, close: () => {} });
    s.setVideoTrack(video);
    s.setAudioTrack(opusTrack(2));
    s.writeVideo(0, 0, true, Buffer.alloc(10));
    const { out, written } = output(corking);
    const reader = s.stream.addReader(out);
    for (let t = 20; t <= 200; t += 20) {
      s.writeAudio(t, Buffer.from([0xfc, 1, 2]));
      if (t % 40 === 0) s.writeVideo(t, t, false, Buffer.alloc(10));
    }
    s.writeAudio(220, Buffer.from([0xfc, 1, 2]));
    s.writeAudio(240, Buffer.from([0xfc, 1, 2]));
    await new Promise((res) => setTimeout(res, 30));
    expect(written.join('')).toBe('HDRv0v40v80v120v160v200');
    expect(reader.stats()).toMatchObject({ framesSent: 6, framesNotCarried: 12, droppedFrames: 0 });
    r.close();
  });
});

describe('FLV, RTMP and TS formats with Opus audio', () => {
  const opus = opusTrack(2);
  const frame = new MediaFrame(FrameKind.Audio, 20, 20, true, Buffer.from([0xfc, 1, 2, 3]), 0, opus);

  it('FLV carries AAC and G.711, not Opus', () => {
    expect(['AAC', 'PCMA', 'PCMU', 'OPUS'].map((c) => flvCarriesAudio(c as never))).toEqual([true, true, true, false]);
    expect(flvAudioTrack(opus)).toBeUndefined();
    expect(flvAudioTrack(g711Track('PCMA'))).toEqual(g711Track('PCMA'));
  });

  it.each([
    ['HTTP-FLV', flvFormat],
    ['WS-FLV', wsFlvFormat],
    ['RTMP', rtmpFormat(4096)],
    ['SRT MPEG-TS', tsWireFormat()],
  ])('%s serializes an Opus frame to NOT_CARRIED', (_name, format) => {
    expect(wireBytes(new MediaFrame(frame.kind, frame.dts, frame.pts, true, frame.payload, 0, opus), format)).toBe(NOT_CARRIED);
  });

  it('FLV and RTMP headers leave Opus out: no audio sequence header, no audio metadata', () => {
    const stream = { videoTrack: undefined, audioTrack: opus, metadata: undefined } as never;
    // onMetaData only: nothing about audio.
    const meta = decodeAmf0(onMetaDataBody({ audioTrack: opus }));
    expect(meta[1]).not.toHaveProperty('audiocodecid');
    expect(meta[1]).not.toHaveProperty('audiosamplerate');
    expect(flvHeaderTags(stream)).toHaveLength(1);
    expect(rtmpHeaderMessages(stream, 4096)).toHaveLength(1);
    // AAC keeps its sequence header.
    const aac = { videoTrack: undefined, audioTrack: aacTrackFromConfig(Buffer.from([0x12, 0x10])), metadata: undefined } as never;
    expect(flvHeaderTags(aac)).toHaveLength(2);
  });
});

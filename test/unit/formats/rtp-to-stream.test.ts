/**
 * RTP into the real hub (StreamRegistry, Stream, Reader): in-band parameter sets declare the
 * track, a loss holds frames back until the next keyframe, timestamps land on one timeline.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FrameKind, type MediaFrame, type WireFormat } from '../../../gateway/core/media.js';
import type { StreamRegistry } from '../../../gateway/core/registry.js';
import { configWith } from '../../../gateway/config.js';
import { Gateway } from '../../../gateway/gateway.js';
import { g711Track } from '../../../gateway/formats/tracks.js';
import { packetizeVideo } from '../../../gateway/formats/rtp/video.js';
import { buildRtp, parseRtp } from '../../../gateway/formats/rtp/rtp.js';
import type { MediaTrack } from '../../../gateway/formats/rtp/sdp.js';
import { RtpToStream } from '../../../gateway/formats/rtp/to-stream.js';
import { H264_SPS_CASES, hex } from '../codecs/vectors.js';

const SPS = hex(H264_SPS_CASES[0]!.sps);
const PPS = hex(H264_SPS_CASES[0]!.pps);
const idr = () => Buffer.concat([Buffer.from([0x65]), Buffer.alloc(2500, 1)]);
const slice = () => Buffer.concat([Buffer.from([0x41]), Buffer.alloc(300, 2)]);

const registries: StreamRegistry[] = [];
afterEach(() => {
  for (const r of registries.splice(0)) r.close();
});

function setup() {
  // The hub exactly as a gateway builds it from its config (nothing listens).
  const registry = new Gateway(configWith({ hub: { publisherGraceMs: 0 } }), { logger: pino({ level: 'silent' }) }).registry;
  registries.push(registry);
  const session = registry.publish('test/rtp', { protocol: 'rtsp', remoteAddress: 'test', query: {}, close: () => {} });
  const video: MediaTrack = { media: { type: 'video', payloadType: 96, encoding: 'H264', clockRate: 90000, channels: 0, fmtp: new Map(), control: '' }, codec: 'H264', clockRate: 90000, track: undefined };
  const audio: MediaTrack = { media: { type: 'audio', payloadType: 8, encoding: 'PCMA', clockRate: 8000, channels: 1, fmtp: new Map(), control: '' }, codec: 'PCMA', clockRate: 8000, track: g711Track('PCMA') };
  const toStream = new RtpToStream(session, [video, audio]);
  let seq = 100;
  const sendVideo = (nalus: Buffer[], ts: number, drop?: number) => {
    packetizeVideo('H264', nalus, 1400).forEach((p, i, all) => {
      const pkt = parseRtp(buildRtp({ marker: i === all.length - 1, payloadType: 96, sequence: seq++ & 0xffff, timestamp: ts >>> 0, ssrc: 1 }, p));
      if (i !== drop) toStream.push(0, pkt);
    });
  };
  let aseq = 0;
  const sendAudio = (ts: number) => toStream.push(1, parseRtp(buildRtp({ marker: false, payloadType: 8, sequence: aseq++, timestamp: ts, ssrc: 2 }, Buffer.alloc(160, 0xd5))));
  return { registry, session, toStream, sendVideo, sendAudio };
}

function collectFrames(registry: StreamRegistry): MediaFrame[] {
  const frames: MediaFrame[] = [];
  const format: WireFormat = { name: 'test', slot: 7, serialize: (f) => (frames.push(f), Buffer.alloc(0)) };
  registry.get('test/rtp')!.addReader({ protocol: 'test', remoteAddress: 'test', format, headers: () => [], write: () => true, close: () => {} });
  return frames;
}

describe('RtpToStream', () => {
  it('declares the video track from in-band SPS/PPS and starts at the first keyframe', () => {
    const { registry, sendVideo } = setup();
    const stream = registry.get('test/rtp')!;
    sendVideo([slice()], 0); // before any parameter set: dropped
    expect(stream.videoTrack).toBeUndefined();
    sendVideo([SPS, PPS, idr()], 3600);
    expect(stream.videoTrack).toMatchObject({ codec: 'H264', width: 1280, height: 720 });
    expect(stream.ready).toBe(true);
    const frames = collectFrames(registry);
    expect(frames.map((f) => f.keyframe)).toEqual([true]);
  });

  it('after a lost packet, frames are held back until the next keyframe', () => {
    const { registry, sendVideo, toStream } = setup();
    sendVideo([SPS, PPS, idr()], 0);
    const frames = collectFrames(registry);
    sendVideo([slice()], 3600);
    sendVideo([idr()], 7200, 1); // second fragment lost: this frame is broken
    sendVideo([slice()], 10800); // depends on the broken one: dropped
    sendVideo([slice()], 14400); // dropped
    sendVideo([SPS, PPS, idr()], 18000);
    sendVideo([slice()], 21600);
    const live = frames.slice(1);
    expect(live.map((f) => [f.pts, f.keyframe])).toEqual([
      [40, false],
      [200, true],
      [240, false],
    ]);
    expect(toStream.stats.lostPackets).toBeGreaterThan(0);
    expect(toStream.stats.lostPackets).toBe(1); // packets, not loss events
    expect(toStream.stats.droppedFrames).toBe(2);
  });

  it('counts lost G.711 packets too, by how many are missing', () => {
    const { toStream } = setup();
    const send = (seq: number) => toStream.push(1, parseRtp(buildRtp({ marker: false, payloadType: 8, sequence: seq, timestamp: seq * 160, ssrc: 2 }, Buffer.alloc(160, 0xd5))));
    for (const seq of [0, 1, 5, 6]) send(seq); // 2, 3, 4 never came
    expect(toStream.stats.lostPackets).toBe(3);
  });

  it('puts audio and video on one millisecond timeline across an RTP timestamp wrap', () => {
    const { registry, sendVideo, sendAudio } = setup();
    const base = 0xffffffff - 3600; // wraps after the first frame
    sendVideo([SPS, PPS, idr()], base);
    const frames = collectFrames(registry);
    sendAudio(0xfffffff0);
    sendVideo([slice()], base + 3600);
    sendAudio(0xfffffff0 + 160);
    sendVideo([slice()], base + 7200);
    const video = frames.filter((f) => f.kind === FrameKind.Video).map((f) => f.dts);
    const audio = frames.filter((f) => f.kind === FrameKind.Audio).map((f) => f.dts);
    expect(video).toEqual([0, 40, 80]);
    expect(audio[1]! - audio[0]!).toBe(20);
  });

  describe('A/V sync by RTCP sender reports', () => {
    afterEach(() => vi.useRealTimers());
    // Video RTP timestamps start at 90000 (1 s), audio at 80000 (10 s): random offsets, as cameras
    // send them. Audio captured with the first video frame reaches us 300 ms later.
    const NTP = 1_700_000_000_000;
    const arrive = (ms: number) => vi.setSystemTime(new Date(NTP + ms));

    function run(reportsFirst: boolean, audioCapturedAtMs = 0) {
      vi.useFakeTimers({ toFake: ['Date'] });
      arrive(0);
      const t = setup();
      const frames = collectFrames(t.registry);
      const reports = () => {
        t.toStream.senderReport(0, NTP, 90000); // the same instant on both tracks
        t.toStream.senderReport(1, NTP + audioCapturedAtMs, 80000);
      };
      if (reportsFirst) reports();
      t.sendVideo([SPS, PPS, idr()], 90000);
      arrive(300);
      t.sendAudio(80000); // captured with the first video frame
      t.sendVideo([slice()], 90000 + 27000); // 300 ms of video later
      if (!reportsFirst) reports();
      arrive(340);
      t.sendAudio(80000 + 320); // 40 ms of audio later
      t.sendVideo([slice()], 90000 + 30600);
      const dts = (kind: FrameKind) => frames.filter((f) => f.kind === kind).map((f) => f.dts);
      return { video: dts(FrameKind.Video), audio: dts(FrameKind.Audio), stats: t.toStream.stats };
    }

    it('places a track that arrives late by the sender clock when the reports come first (ffmpeg sends one before its first packet)', () => {
      const { video, audio, stats } = run(true);
      expect(video).toEqual([0, 300, 340]);
      expect(audio).toEqual([0, 40]); // not 300 / 340: captured with video frames 0 and 40
      expect(stats.syncShifts).toBe(0);
    });

    it('moves the started tracks ahead when a track was captured before the first frame, so nothing lands before the start', () => {
      const { video, audio } = run(true, -15);
      expect(audio).toEqual([0, 40]);
      expect(video).toEqual([0, 315, 355]); // a one-time 15 ms gap in video keeps the two 15 ms apart
    });

    it('lines the tracks up once when the reports come after both started, moving the timeline forward only', () => {
      const { video, audio, stats } = run(false);
      // Audio started 300 ms late by arrival; it should move back, so video moves ahead instead.
      expect(audio).toEqual([300, 340]);
      expect(video).toEqual([0, 300, 340 + 300]);
      expect(stats.syncShifts).toBe(1);
      for (const list of [video, audio]) expect([...list].sort((a, b) => a - b)).toEqual(list);
    });

    it('keeps arrival times without reports, and ignores reports that disagree by more than 5 s', () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      arrive(0);
      const t = setup();
      const frames = collectFrames(t.registry);
      t.toStream.senderReport(0, NTP, 90000);
      t.toStream.senderReport(1, NTP + 60_000, 80000); // a wrong clock
      t.sendVideo([SPS, PPS, idr()], 90000);
      arrive(300);
      t.sendAudio(80000);
      expect(frames.filter((f) => f.kind === FrameKind.Audio).map((f) => f.dts)).toEqual([300]);
      expect(t.toStream.syncedBySenderReports).toBe(false);
      // Reports of a wrong clock after both tracks started: nothing moves, nor claims to be synced.
      t.toStream.senderReport(0, NTP, 90000);
      t.toStream.senderReport(1, NTP + 60_000, 80000);
      expect(t.toStream.stats.syncShifts).toBe(0);
      expect(t.toStream.syncedBySenderReports).toBe(false);
    });
  });
});

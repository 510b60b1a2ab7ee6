import { describe, expect, it } from 'vitest';
import { FrameKind, MediaFrame, type AudioTrack, type VideoTrack } from '../../../gateway/core/media.js';
import { type Part, type SegmentStart, Segmenter, type SegmenterOptions, type SegmentTracks } from '../../../gateway/formats/segmenter.js';

const video: VideoTrack = { kind: 'video', codec: 'H264', config: Buffer.from([1, 2, 3]), width: 320, height: 240, fps: 25 };
const video2: VideoTrack = { ...video, config: Buffer.from([9, 9, 9]) };
const audio: AudioTrack = { kind: 'audio', codec: 'AAC', config: Buffer.from([0x12, 0x10]), sampleRate: 44100, channels: 2 };

function run(options: SegmenterOptions, tracks: SegmentTracks, frames: MediaFrame[]) {
  const events: (['start', SegmentStart] | ['part', Part] | ['end', number])[] = [];
  const s = new Segmenter(options, {
    segmentStart: (x) => events.push(['start', x]),
    part: (p) => events.push(['part', p]),
    segmentEnd: (d) => events.push(['end', d]),
  });
  s.setTracks(tracks);
  for (const f of frames) s.push(f);
  return { events, s };
}

/** Video at `fps` with a keyframe every `gop` frames, plus AAC every 23 ms when `withAudio`. */
function gopStream(seconds: number, fps = 25, gop = 25, withAudio = false, firstKey = 0): MediaFrame[] {
  const out: MediaFrame[] = [];
  const step = 1000 / fps;
  let audioDts = 0;
  for (let i = 0; i < seconds * fps; i++) {
    const dts = Math.round(i * step);
    while (withAudio && audioDts <= dts) {
      out.push(new MediaFrame(FrameKind.Audio, audioDts, audioDts, true, Buffer.alloc(4), 1000 + audioDts, audio));
      audioDts += 23;
    }
    out.push(new MediaFrame(FrameKind.Video, dts, dts, (i - firstKey) % gop === 0 && i >= firstKey, Buffer.alloc(4), 1000 + dts, video));
  }
  return out;
}

describe('Segmenter', () => {
  const cases: { name: string; options: SegmenterOptions; fps: number; gop: number; segments: number[]; partMs?: number }[] = [
    { name: '1 s GOPs, 1 s target', options: { segmentMs: 1000, partMs: 200 }, fps: 25, gop: 25, segments: [1000, 1000, 1000], partMs: 200 },
    { name: '0.5 s GOPs, 1 s target', options: { segmentMs: 1000, partMs: 200 }, fps: 25, gop: 12, segments: [1440, 1440], partMs: 200 },
    { name: '2 s GOPs, 1 s target (segments follow keyframes)', options: { segmentMs: 1000, partMs: 200 }, fps: 25, gop: 50, segments: [2000] },
    { name: '30 fps, parts never exceed the target', options: { segmentMs: 1000, partMs: 200 }, fps: 30, gop: 30, segments: [1000, 1000, 1000], partMs: 200 },
    { name: 'a part per GOP (recording)', options: { segmentMs: 2000, partMs: 0 }, fps: 25, gop: 25, segments: [2000] },
  ];
  for (const c of cases) {
    it(`cuts ${c.name}`, () => {
      const { events } = run(c.options, { video }, gopStream(4, c.fps, c.gop));
      const ends = events.filter((e) => e[0] === 'end').map((e) => e[1] as number);
      const starts = events.filter((e) => e[0] === 'start').map((e) => (e[1] as SegmentStart).startDts);
      const durations = ends.map((end, i) => end - starts[i]!);
      expect(durations.slice(0, c.segments.length)).toEqual(c.segments);
      const parts = events.filter((e) => e[0] === 'part').map((e) => e[1] as Part);
      for (const p of parts) {
        if (c.partMs) expect(p.endDts - p.startDts).toBeLessThanOrEqual(c.partMs);
        // A part is independent exactly when it starts with a keyframe.
        expect(p.independent).toBe(p.frames[0]!.keyframe);
      }
      if (c.options.partMs === 0) for (const p of parts) expect(p.frames.filter((f) => f.keyframe)).toHaveLength(1);
    });
  }

  it('starts at the first keyframe and ends parts where the next begins', () => {
    const { events } = run({ segmentMs: 1000, partMs: 200 }, { video, audio }, gopStream(3, 25, 25, true, 5));
    const first = events[0]!;
    expect(first[0]).toBe('start');
    expect((first[1] as SegmentStart).startDts).toBe(200);
    expect((first[1] as SegmentStart).changed).toBe(true);
    expect((first[1] as SegmentStart).wallClock).toBe(1200);
    const parts = events.filter((e) => e[0] === 'part').map((e) => e[1] as Part);
    for (let i = 1; i < parts.length; i++) expect(parts[i]!.startDts).toBe(parts[i - 1]!.endDts);
    expect(parts.flatMap((p) => p.frames).some((f) => f.kind === FrameKind.Audio)).toBe(true);
  });

  it('re-anchors the wall clock when frames arrive late after an outage the timeline does not show, never backwards', () => {
    // 3 s, then the camera is away 10 s; the timeline continues (a source keeps its session), the clock does not.
    const late = gopStream(6).map((f) => (f.dts < 3000 ? f : new MediaFrame(f.kind, f.dts, f.pts, f.keyframe, f.payload, f.ingestTime + 10_000, f.track)));
    const starts = run({ segmentMs: 1000, partMs: 200 }, { video }, late).events.filter((e) => e[0] === 'start').map((e) => e[1] as SegmentStart);
    expect(starts.map((x) => [x.startDts, x.wallClock])).toEqual([
      [0, 1000],
      [1000, 2000],
      [2000, 3000],
      [3000, 14_000],
      [4000, 15_000],
      [5000, 16_000],
    ]);
    // Sent faster than real time (everything arrives at once): files stay back to back on the first anchor.
    const burst = gopStream(4).map((f) => new MediaFrame(f.kind, f.dts, f.pts, f.keyframe, f.payload, 5000, f.track));
    const fast = run({ segmentMs: 1000, partMs: 0 }, { video }, burst).events.filter((e) => e[0] === 'start').map((e) => (e[1] as SegmentStart).wallClock);
    expect(fast).toEqual([5000, 6000, 7000, 8000]);
  });

  it('cuts audio-only streams on time', () => {
    const frames = Array.from({ length: 200 }, (_, i) => new MediaFrame(FrameKind.Audio, i * 23, i * 23, true, Buffer.alloc(4), 0, audio));
    const { events } = run({ segmentMs: 1000, partMs: 200 }, { audio }, frames);
    const starts = events.filter((e) => e[0] === 'start').map((e) => (e[1] as SegmentStart).startDts);
    expect(starts.slice(0, 3)).toEqual([0, 1012, 2024]);
  });

  it('starts a new segment marked changed at the first keyframe with new codec headers', () => {
    const before = gopStream(1.2);
    const after = gopStream(1, 25, 25).map((f) => new MediaFrame(f.kind, f.dts + 1240, f.pts + 1240, f.keyframe, f.payload, 0, video2));
    const events: SegmentStart[] = [];
    const s = new Segmenter({ segmentMs: 5000, partMs: 200 }, { segmentStart: (x) => events.push(x), part: () => {}, segmentEnd: () => {} });
    s.setTracks({ video });
    for (const f of before) s.push(f);
    s.setTracks({ video: video2 });
    for (const f of after) s.push(f);
    expect(events.map((e) => [e.startDts, e.changed])).toEqual([
      [0, true],
      [1240, true],
    ]);
  });

  it('treats the same codec headers sent again as new track objects as unchanged', () => {
    const videoAgain: VideoTrack = { ...video, config: Buffer.from(video.config) };
    const audioAgain: AudioTrack = { ...audio, config: Buffer.from(audio.config) };
    const again = (f: MediaFrame) => new MediaFrame(f.kind, f.dts + 1000, f.pts + 1000, f.keyframe, f.payload, 0, f.kind === FrameKind.Video ? videoAgain : audioAgain);
    const starts: SegmentStart[] = [];
    const s = new Segmenter({ segmentMs: 1000, partMs: 200 }, { segmentStart: (x) => starts.push(x), part: () => {}, segmentEnd: () => {} });
    s.setTracks({ video, audio });
    for (const f of gopStream(1, 25, 25, true)) s.push(f);
    s.setTracks({ video: videoAgain, audio: audioAgain });
    // The first frame after the new headers is audio: it is carried, as are frames of the old objects.
    for (const f of gopStream(1, 25, 25, true).map(again)) s.push(f);
    s.push(new MediaFrame(FrameKind.Video, 2000, 2000, false, Buffer.alloc(4), 0, video));
    expect(starts.map((e) => [e.startDts, e.changed])).toEqual([
      [0, true],
      [1000, false],
    ]);
    expect(s.skippedFrames).toBe(0);
  });

  it('skips frames of tracks it does not carry, and flushes on finish', () => {
    const pcma: AudioTrack = { kind: 'audio', codec: 'PCMA', config: Buffer.alloc(0), sampleRate: 8000, channels: 1 };
    const frames = gopStream(1).concat([new MediaFrame(FrameKind.Audio, 500, 500, true, Buffer.alloc(4), 0, pcma)]);
    const { events, s } = run({ segmentMs: 1000, partMs: 200 }, { video }, frames);
    expect(s.skippedFrames).toBe(1);
    s.finish();
    expect(events[events.length - 1]).toEqual(['end', 1000]);
  });
});

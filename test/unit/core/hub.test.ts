import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { PublisherConflictError, StreamNotFoundError } from '../../../gateway/core/errors.js';
import { GopCache } from '../../../gateway/core/gop-cache.js';
import { FrameKind, MediaFrame, type VideoTrack, type AudioTrack, type WireFormat } from '../../../gateway/core/media.js';
import type { ReaderOutput } from '../../../gateway/core/reader.js';
import { AUDIO_HOLD_MAX_MS } from '../../../gateway/core/stream.js';
import { StreamRegistry, type HubOptions } from '../../../gateway/core/registry.js';

const log = pino({ level: 'silent' });
const video: VideoTrack = { kind: 'video', codec: 'H264', config: Buffer.from([1]), width: 320, height: 240, fps: 25 };
const audio: AudioTrack = { kind: 'audio', codec: 'AAC', config: Buffer.from([0x12, 0x10]), sampleRate: 44100, channels: 2 };

const options: HubOptions = {
  maxBytes: 1_000_000,
  maxDurationMs: 10_000,
  maxReaderLagMs: 200,
  maxReaderQueueBytes: 100_000,
  readerStallTimeoutMs: 60_000,
  publisherGraceMs: 1000,
  readyTimeoutMs: 300,
  takeoverPaths: ['take/*'],
  writeMergeMs: 0,
};

let serializeCount = 0;
const format: WireFormat = {
  name: 'test',
  slot: 7,
  serialize: (f) => {
    serializeCount++;
    return Buffer.from(`${f.kind}:${f.dts}:${f.keyframe ? 'K' : ''}`);
  },
};

/** A transport stand-in whose write() result the test controls (the hub's side of the contract). */
function sink(writable = () => true) {
  const written: string[] = [];
  let closed: Error | undefined | null = null;
  const output: ReaderOutput = {
    protocol: 'test',
    remoteAddress: '127.0.0.1:1',
    format,
    headers: (initial) => [Buffer.from(initial ? 'HDR' : 'HDR2')],
    write: (b) => {
      written.push(b.toString());
      return writable();
    },
    close: (e) => (closed = e),
  };
  return { output, written, closedWith: () => closed };
}

function publisher() {
  return { protocol: 'test', remoteAddress: '127.0.0.1:2', query: {}, close: () => {} };
}

describe('StreamRegistry and Stream', () => {
  it('refuses a second publisher, allows takeover where configured', () => {
    const r = new StreamRegistry(options, log);
    r.publish('live/a', publisher());
    expect(() => r.publish('live/a', publisher())).toThrow(PublisherConflictError);
    let kicked = false;
    r.publish('take/a', { ...publisher(), close: () => (kicked = true) });
    r.publish('take/a', publisher());
    expect(kicked).toBe(true);
    r.close();
  });

  it('is not ready before the first keyframe, and drops what came before it', () => {
    const r = new StreamRegistry(options, log);
    const s = r.publish('live/b', publisher());
    s.setVideoTrack(video);
    s.writeVideo(0, 0, false, Buffer.alloc(10));
    expect(s.stream.ready).toBe(false);
    s.writeVideo(40, 40, true, Buffer.alloc(10));
    expect(s.stream.ready).toBe(true);
    expect(s.stream.gopCache.frameCount).toBe(1);
    r.close();
  });

  it('rebases timestamps to 0, keeps them monotonic, and continues after a reconnect', () => {
    const r = new StreamRegistry(options, log);
    const s1 = r.publish('live/c', publisher());
    s1.setVideoTrack(video);
    const out = sink();
    s1.writeVideo(5000, 5080, true, Buffer.alloc(1));
    const reader = s1.stream.addReader(out.output);
    s1.writeVideo(5040, 5040, false, Buffer.alloc(1));
    s1.writeVideo(5030, 5030, false, Buffer.alloc(1)); // goes backwards: clamped
    expect(out.written).toEqual(['HDR', '0:0:K', '0:40:', '0:40:']);
    s1.close();
    expect(s1.stream.state).toBe('waiting');
    const s2 = r.publish('live/c', publisher());
    expect(s2.stream).toBe(s1.stream);
    s2.setVideoTrack({ ...video, width: 640 });
    s2.writeVideo(100, 100, true, Buffer.alloc(1));
    // the reader stayed, got the new headers, then the new session continuing after 40 ms
    expect(out.written.slice(4)).toEqual(['HDR2', '0:80:K']);
    expect(reader.isClosed).toBe(false);
    r.close();
  });

  it('serializes a frame once for all readers of a format', () => {
    const r = new StreamRegistry(options, log);
    const s = r.publish('live/d', publisher());
    s.setVideoTrack(video);
    s.writeVideo(0, 0, true, Buffer.alloc(1));
    const a = sink();
    const b = sink();
    s.stream.addReader(a.output);
    s.stream.addReader(b.output);
    const before = serializeCount;
    s.writeVideo(40, 40, false, Buffer.alloc(1));
    expect(serializeCount - before).toBe(1);
    r.close();
  });

  it('drops a congested reader to the next keyframe once it lags past maxReaderLagMs, without touching others', () => {
    const r = new StreamRegistry(options, log);
    const s = r.publish('live/e', publisher());
    s.setVideoTrack(video);
    s.setAudioTrack(audio);
    s.writeVideo(0, 0, true, Buffer.alloc(100));
    let open = true;
    const slow = sink(() => open);
    const fast = sink();
    const slowReader = s.stream.addReader(slow.output);
    s.stream.addReader(fast.output);
    open = false;
    for (let t = 40; t <= 400; t += 40) {
      s.writeAudio(t, Buffer.alloc(10));
      s.writeVideo(t, t, false, Buffer.alloc(100));
    }
    // lag > 200 ms: the queue was dropped and counted
    expect(slowReader.droppedFrames).toBeGreaterThan(0);
    expect(slowReader.stats().queuedFrames).toBe(0);
    expect(s.stream.droppedFrames).toBe(slowReader.droppedFrames);
    // resumes at the next keyframe, skipping audio until then
    open = true;
    s.writeVideo(440, 440, true, Buffer.alloc(100));
    s.writeAudio(440, Buffer.alloc(10));
    slowReader.drain();
    expect(slow.written.slice(-2)).toEqual(['0:440:K', '1:440:K']);
    // the fast reader got everything, in order
    expect(fast.written.filter((w) => w.startsWith('0:')).length).toBe(12);
    r.close();
  });

  it('drops a congested byte-stream reader (batched writes) to the next keyframe too, and the others keep every frame', async () => {
    const r = new StreamRegistry(options, log);
    const s = r.publish('live/eb', publisher());
    s.setVideoTrack(video);
    s.writeVideo(0, 0, true, Buffer.alloc(100));
    let open = true;
    const slow = sink(() => open);
    const fast = sink();
    const corking = { cork: () => {}, uncork: () => {} };
    const slowReader = s.stream.addReader({ ...slow.output, ...corking });
    s.stream.addReader({ ...fast.output, ...corking });
    await new Promise((res) => setImmediate(res));
    open = false;
    for (let t = 40; t <= 400; t += 40) {
      s.writeVideo(t, t, false, Buffer.alloc(100));
      await new Promise((res) => setImmediate(res));
    }
    expect(slowReader.droppedFrames).toBeGreaterThan(0);
    expect(slowReader.stats().queuedFrames).toBe(0);
    open = true;
    s.writeVideo(440, 440, true, Buffer.alloc(100));
    await new Promise((res) => setImmediate(res));
    slowReader.drain();
    expect(slow.written.at(-1)).toBe('0:440:K');
    expect(fast.written.filter((w) => w.startsWith('0:')).length).toBe(12);
    r.close();
  });

  it('bounds the queue by bytes as well', () => {
    const r = new StreamRegistry({ ...options, maxReaderLagMs: 100_000, maxReaderQueueBytes: 1000 }, log);
    const s = r.publish('live/f', publisher());
    s.setVideoTrack(video);
    s.writeVideo(0, 0, true, Buffer.alloc(1));
    const slow = sink(() => false);
    const reader = s.stream.addReader(slow.output);
    for (let t = 40; t < 2000; t += 40) s.writeVideo(t, t, false, Buffer.alloc(300));
    expect(reader.stats().queuedBytes).toBeLessThanOrEqual(1000 + 300);
    expect(reader.droppedFrames).toBeGreaterThan(0);
    r.close();
  });

  it('still drops a congested reader\'s live frames after new headers were queued behind them (publisher reconnect)', () => {
    const r = new StreamRegistry(options, log);
    const s = r.publish('live/rh', publisher());
    s.setVideoTrack(video);
    s.writeVideo(0, 0, true, Buffer.alloc(100));
    const slow = sink(() => false);
    const reader = s.stream.addReader(slow.output);
    for (let t = 40; t <= 160; t += 40) s.writeVideo(t, t, false, Buffer.alloc(100));
    s.setVideoTrack({ ...video, config: Buffer.from([2]) }); // new headers, queued after those frames
    for (let t = 200; t <= 400; t += 40) s.writeVideo(t, t, t === 200, Buffer.alloc(100));
    // Past maxReaderLagMs every queued live frame goes, the ones before the headers included
    // (40-280), then the reader waits for a keyframe (320-400 skipped and counted).
    expect(reader.droppedFrames).toBe(10);
    expect(reader.stats()).toMatchObject({ queuedBytes: 0, lagMs: 0 });
    r.close();
  });

  it('forgets the old publisher\'s metadata on reconnect', () => {
    const r = new StreamRegistry(options, log);
    const s = r.publish('live/md', publisher());
    s.setMetadata({ audiocodecid: 10 } as never);
    s.setVideoTrack(video);
    s.writeVideo(0, 0, true, Buffer.alloc(1));
    s.stream.addReader(sink().output); // keeps the stream through the reconnect
    s.close();
    r.publish('live/md', publisher());
    expect(r.get('live/md')!.metadata).toBeUndefined();
    r.close();
  });

  it('warns about a slow reader once per 10 s with the drops since the last line, never per frame', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const lines: Record<string, unknown>[] = [];
      const capture = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
      const r = new StreamRegistry({ ...options, readerStallTimeoutMs: 1e9 }, capture);
      const s = r.publish('live/slow', publisher());
      s.setVideoTrack(video);
      s.writeVideo(0, 0, true, Buffer.alloc(100));
      const reader = s.stream.addReader(sink(() => false).output);
      const start = Date.now();
      // 35 s of 25 fps video, a keyframe a second, to a reader that never drains.
      for (let t = 40; t < 35_000; t += 40) {
        vi.setSystemTime(start + t);
        s.writeVideo(t, t, t % 1000 === 0, Buffer.alloc(100));
      }
      expect(reader.droppedFrames).toBeGreaterThan(500);
      const warnings = lines.filter((l) => typeof l.msg === 'string' && (l.msg as string).includes('too slow'));
      expect(warnings).toHaveLength(4); // at the first drop, then after 10, 20 and 30 s
      for (const w of warnings) expect(w).toMatchObject({ reader: reader.id, protocol: 'test', conn: '127.0.0.1:1', path: 'live/slow' });
      expect(warnings[0]!.msg).toBe(`reader ${reader.id} (test from 127.0.0.1:1) is too slow: discarded ${warnings[0]!.dropped as number} frames`);
      expect(warnings[1]!.msg).toMatch(/discarded \d+ frames in the last 10 s$/);
      // Every drop is in exactly one line, except those since the last one.
      const reported = warnings.reduce((sum, w) => sum + (w.dropped as number), 0);
      expect(reported).toBeLessThanOrEqual(reader.droppedFrames);
      expect(reader.droppedFrames - reported).toBeLessThan(10_000 / 40);
      r.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('starts a reader joining after the publisher\'s feed was interrupted at the next keyframe, not the old GOP', () => {
    const r = new StreamRegistry(options, log);
    const s = r.publish('live/fi', publisher());
    s.setVideoTrack(video);
    s.writeVideo(0, 0, true, Buffer.alloc(1));
    s.writeVideo(40, 40, false, Buffer.alloc(1));
    const before = sink();
    s.stream.addReader(before.output);
    s.feedInterrupted();
    expect(s.stream.gopCache.frameCount).toBe(0);
    const after = sink();
    s.stream.addReader(after.output);
    s.writeVideo(80, 80, false, Buffer.alloc(1));
    s.writeVideo(120, 120, true, Buffer.alloc(1));
    expect(after.written).toEqual(['HDR', '0:120:K']);
    expect(before.written).toEqual(['HDR', '0:0:K', '0:40:', '0:80:', '0:120:K']); // joined readers are not touched
    r.close();
  });

  it('ignores feedInterrupted from a session the stream replaced', () => {
    const r = new StreamRegistry(options, log);
    const old = r.publish('take/fi', publisher());
    const current = r.publish('take/fi', publisher());
    current.setVideoTrack(video);
    current.writeVideo(0, 0, true, Buffer.alloc(1));
    old.feedInterrupted();
    expect(current.stream.gopCache.frameCount).toBe(1);
    r.close();
  });

  it('closes a reader whose transport never drains', () => {
    const r = new StreamRegistry({ ...options, readerStallTimeoutMs: 0 }, log);
    const s = r.publish('live/g', publisher());
    s.setVideoTrack(video);
    s.writeVideo(0, 0, true, Buffer.alloc(1));
    const slow = sink(() => false);
    const reader = s.stream.addReader(slow.output);
    return new Promise<void>((resolve) => {
      setTimeout(() => {
        s.writeVideo(40, 40, false, Buffer.alloc(1));
        expect(reader.isClosed).toBe(true);
        expect(slow.closedWith()).toBeInstanceOf(Error);
        expect(s.stream.readers.size).toBe(0);
        r.close();
        resolve();
      }, 5);
    });
  });

  it('waitReady rejects with StreamNotFoundError when nothing publishes, and starts demand handlers', async () => {
    const r = new StreamRegistry(options, log);
    await expect(r.waitReady('live/none')).rejects.toBeInstanceOf(StreamNotFoundError);
    r.addDemandHandler({
      canServe: (p) => p === 'cams/x',
      start: async (p) => {
        setTimeout(() => {
          const s = r.publish(p, publisher());
          s.setVideoTrack(video);
          s.writeVideo(0, 0, true, Buffer.alloc(1));
        }, 20);
      },
    });
    const stream = await r.waitReady('cams/x');
    expect(stream.ready).toBe(true);
    r.addDemandHandler({ canServe: (p) => p === 'cams/broken', start: async () => Promise.reject(new Error('camera refused: 401')) });
    await expect(r.waitReady('cams/broken')).rejects.toThrow('camera refused: 401');
    r.close();
  });
});

describe('write-merge window', () => {
  const turn = () => new Promise((res) => setImmediate(res));
  /** A byte-stream reader (it has cork/uncork): each entry of `written` is one write. */
  function join(s: ReturnType<StreamRegistry['publish']>) {
    const a = sink();
    const events: string[] = [];
    s.stream.addReader({ ...a.output, cork: () => events.push('cork'), uncork: () => events.push('uncork') });
    return { written: a.written, events };
  }
  const dtsOf = (write: string) => [...write.matchAll(/:(\d+):/g)].map((m) => Number(m[1]));

  it('writes the frames of one event-loop turn to each reader in one write, with no window', async () => {
    const r = new StreamRegistry(options, log);
    const s = r.publish('live/t', publisher());
    s.setVideoTrack(video);
    s.writeVideo(0, 0, true, Buffer.alloc(1));
    const a = join(s);
    const b = join(s);
    await turn();
    expect(a.events).toEqual(['cork', 'uncork']); // the join burst leaves in one go
    a.written.length = 0;
    s.writeVideo(40, 40, false, Buffer.alloc(1));
    s.writeVideo(80, 80, false, Buffer.alloc(1));
    expect(a.written).toEqual([]);
    await turn();
    expect(a.written.map(dtsOf)).toEqual([[40, 80]]);
    expect(b.written.at(-1)).toBe(a.written[0]); // the same bytes for every reader
    s.writeVideo(120, 120, false, Buffer.alloc(1));
    await turn();
    expect(a.written.map(dtsOf)).toEqual([[40, 80], [120]]);
    r.close();
  });

  it('gathers a window of frames into one write per reader and flushes when the window ends', async () => {
    const r = new StreamRegistry({ ...options, writeMergeMs: 30 }, log);
    const s = r.publish('live/m', publisher());
    s.setVideoTrack(video);
    s.writeVideo(0, 0, true, Buffer.alloc(1));
    const a = join(s);
    await new Promise((res) => setTimeout(res, 40));
    a.written.length = 0;
    for (let t = 40; t <= 120; t += 40) {
      s.writeVideo(t, t, false, Buffer.alloc(1));
      await turn();
    }
    expect(a.written).toEqual([]); // held for the window
    await new Promise((res) => setTimeout(res, 40));
    expect(a.written.map(dtsOf)).toEqual([[40, 80, 120]]);
    s.writeVideo(160, 160, false, Buffer.alloc(1));
    r.close();
    expect(a.written.map(dtsOf).at(-1)).toEqual([160]); // flushed when the stream ends
  });

  it('skips the frames a reader joining mid-window already got from the GOP cache', async () => {
    const r = new StreamRegistry({ ...options, writeMergeMs: 30 }, log);
    const s = r.publish('live/j', publisher());
    s.setVideoTrack(video);
    s.writeVideo(0, 0, true, Buffer.alloc(1));
    s.writeVideo(40, 40, false, Buffer.alloc(1));
    const a = join(s);
    s.writeVideo(80, 80, false, Buffer.alloc(1));
    await new Promise((res) => setTimeout(res, 50));
    expect(a.written.flatMap(dtsOf)).toEqual([0, 40, 80]);
    r.close();
  });

  describe('holdAudioForVideo', () => {
    async function setup() {
      const r = new StreamRegistry({ ...options, holdAudioForVideo: true }, log);
      const s = r.publish('live/h', publisher());
      s.setVideoTrack(video);
      s.setAudioTrack(audio);
      s.writeVideo(0, 0, true, Buffer.alloc(1));
      const a = join(s);
      await turn();
      a.written.length = 0;
      return { r, s, a };
    }

    it('keeps audio back across turns until the next video frame, which leaves with it at once', async () => {
      const { r, s, a } = await setup();
      s.writeAudio(10, Buffer.alloc(1));
      await turn();
      s.writeAudio(31, Buffer.alloc(1));
      await turn();
      expect(a.written).toEqual([]); // both audio frames wait
      s.writeVideo(40, 40, false, Buffer.alloc(1));
      await turn();
      expect(a.written.map(dtsOf)).toEqual([[10, 31, 40]]); // in the video frame's own turn
      s.writeVideo(80, 80, false, Buffer.alloc(1));
      await turn();
      expect(a.written.map(dtsOf)).toEqual([[10, 31, 40], [80]]); // video alone is never held
      r.close();
    });

    it(`lets held audio go after ${AUDIO_HOLD_MAX_MS} ms when no video comes`, async () => {
      const { r, s, a } = await setup();
      s.writeAudio(10, Buffer.alloc(1));
      await new Promise((res) => setTimeout(res, AUDIO_HOLD_MAX_MS / 2));
      expect(a.written).toEqual([]);
      await new Promise((res) => setTimeout(res, AUDIO_HOLD_MAX_MS));
      expect(a.written.map(dtsOf)).toEqual([[10]]);
      r.close();
    });

    it('does not hold audio of an audio-only stream', async () => {
      const r = new StreamRegistry({ ...options, holdAudioForVideo: true }, log);
      const s = r.publish('live/ao', publisher());
      s.setAudioTrack(audio);
      s.writeAudio(0, Buffer.alloc(1));
      const a = join(s);
      await turn();
      a.written.length = 0;
      s.writeAudio(21, Buffer.alloc(1));
      await turn();
      expect(a.written.map(dtsOf)).toEqual([[21]]); // out at the end of its own turn
      r.close();
    });
  });
});

describe('GopCache', () => {
  const f = (dts: number, key: boolean, size = 10) => new MediaFrame(FrameKind.Video, dts, dts, key, Buffer.alloc(size), 0, video);

  it('keeps frames from the last keyframe', () => {
    const c = new GopCache({ maxBytes: 1000, maxDurationMs: 1000 });
    c.push(f(0, true), true);
    c.push(f(40, false), true);
    c.push(f(80, true), true);
    c.push(f(120, false), true);
    expect(c.snapshot().map((x) => x.dts)).toEqual([80, 120]);
  });

  it('empties past its byte or duration cap until the next keyframe', () => {
    const c = new GopCache({ maxBytes: 25, maxDurationMs: 1000 });
    c.push(f(0, true), true);
    c.push(f(40, false), true);
    c.push(f(80, false), true);
    expect(c.frameCount).toBe(0);
    c.push(f(120, false), true);
    expect(c.frameCount).toBe(0);
    c.push(f(160, true), true);
    expect(c.frameCount).toBe(1);
    const d = new GopCache({ maxBytes: 1000, maxDurationMs: 100 });
    d.push(f(0, true), true);
    d.push(f(200, false), true);
    expect(d.frameCount).toBe(0);
  });
});

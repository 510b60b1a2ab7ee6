import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AUDIO_HOLD_MAX_MS, Fanout, type FanoutLimits, type FanoutReader } from '../../../gateway/core/fanout.js';
import { type AudioTrack, FrameKind, MediaFrame, type VideoTrack, type WireFormat, wireBytes } from '../../../gateway/core/media.js';

const video: VideoTrack = { kind: 'video', codec: 'H264', config: Buffer.from([1]), width: 320, height: 240, fps: 25 };
const audio: AudioTrack = { kind: 'audio', codec: 'AAC', config: Buffer.from([0x12, 0x10]), sampleRate: 44100, channels: 2 };
const v = (dts: number, key = false) => new MediaFrame(FrameKind.Video, dts, dts, key, Buffer.alloc(1), 0, video);
const a = (dts: number) => new MediaFrame(FrameKind.Audio, dts, dts, true, Buffer.alloc(1), 0, audio);

let serialized = 0;
const format: WireFormat = {
  name: 'test',
  slot: 3,
  serialize: (f) => {
    serialized++;
    return Buffer.from(`${f.dts};`);
  },
};

/** A reader that records what the fan-out handed it: `frame N`, `batch N,M` (skip k), `uncork`. */
function reader() {
  const calls: string[] = [];
  const r: FanoutReader = {
    skipInNextBatch: 0,
    push: (f) => calls.push(`frame ${f.dts}`),
    pushBatch: (frames) => {
      const skip = r.skipInNextBatch;
      r.skipInNextBatch = 0;
      calls.push(`batch ${frames.map((f) => f.dts).join(',')}${skip > 0 ? ` skip ${skip}` : ''}`);
    },
    uncork: () => calls.push('uncork'),
  };
  return { r, calls };
}

/** A fan-out with one direct reader (frame by frame) and one batched reader (a byte stream). */
function withReaders(limits: FanoutLimits) {
  const fanout = new Fanout(limits);
  const direct = reader();
  const batched = reader();
  fanout.add(direct.r, false);
  fanout.add(batched.r, true);
  return { fanout, direct, batched };
}

/** Ends the event-loop turn: setImmediate flushes run, merge windows and audio holds do not. */
const endTurn = () => vi.advanceTimersByTime(1);

describe('Fanout', () => {
  const noWindow: FanoutLimits = { writeMergeMs: 0 };
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes each frame to a direct reader at once and a turn\'s frames to a batched reader in one batch', () => {
    const { fanout, direct, batched } = withReaders(noWindow);
    fanout.write(v(0, true), true);
    fanout.write(v(40), true);
    expect(direct.calls).toEqual(['frame 0', 'frame 40']);
    expect(batched.calls).toEqual([]);
    endTurn();
    expect(batched.calls).toEqual(['batch 0,40']);
    fanout.write(v(80), true);
    endTurn();
    expect(batched.calls).toEqual(['batch 0,40', 'batch 80']);
  });

  it('builds a batch\'s bytes once per wire format for every reader, and hands a lone frame its own bytes', () => {
    const fanout = new Fanout(noWindow);
    const got: Buffer[] = [];
    const byteReader = (): FanoutReader => ({ skipInNextBatch: 0, push: () => {}, pushBatch: () => got.push(fanout.batchBytes(format)), uncork: () => {} });
    fanout.add(byteReader(), true);
    fanout.add(byteReader(), true);
    const before = serialized;
    fanout.write(v(0, true), true);
    fanout.write(v(40), true);
    endTurn();
    expect(got.map(String)).toEqual(['0;40;', '0;40;']);
    expect(got[1]).toBe(got[0]);
    expect(serialized - before).toBe(2);
    const lone = v(80);
    fanout.write(lone, true);
    endTurn();
    expect(got[2]).toBe(wireBytes(lone, format));
  });

  it('tells a reader joining mid-window how many of the window\'s frames it already has', () => {
    const fanout = new Fanout(noWindow);
    fanout.add(reader().r, true);
    fanout.write(v(0, true), true);
    fanout.write(v(40), true);
    const joiner = reader();
    fanout.add(joiner.r, true);
    expect(joiner.r.skipInNextBatch).toBe(2);
    fanout.write(v(80), true);
    endTurn();
    expect(joiner.calls).toEqual(['batch 0,40,80 skip 2']);
  });

  it('gathers nothing while no batched reader is there', () => {
    const fanout = new Fanout(noWindow);
    fanout.add(reader().r, false);
    fanout.write(v(0, true), true);
    const joiner = reader();
    fanout.add(joiner.r, true);
    expect(joiner.r.skipInNextBatch).toBe(0);
    endTurn();
    expect(joiner.calls).toEqual([]);
  });

  it('writes nothing more to a removed reader', () => {
    const { fanout, direct, batched } = withReaders(noWindow);
    fanout.write(v(0, true), true);
    fanout.remove(direct.r);
    fanout.remove(batched.r);
    fanout.write(v(40), true);
    endTurn();
    expect(direct.calls).toEqual(['frame 0']);
    expect(batched.calls).toEqual([]);
  });

  it('uncorks a reader that corked for its join burst at the end of the turn, frames or not', () => {
    const fanout = new Fanout(noWindow);
    const joiner = reader();
    fanout.add(joiner.r, true);
    fanout.corked(joiner.r);
    expect(joiner.calls).toEqual([]);
    endTurn();
    expect(joiner.calls).toEqual(['uncork']);
    endTurn();
    expect(joiner.calls).toEqual(['uncork']);
  });

  it('gathers frames across turns for writeMergeMs, and flushNow ends the window early', () => {
    const { fanout, batched } = withReaders({ writeMergeMs: 30 });
    fanout.write(v(0, true), true);
    endTurn();
    fanout.write(v(40), true);
    endTurn();
    expect(batched.calls).toEqual([]);
    vi.advanceTimersByTime(30);
    expect(batched.calls).toEqual(['batch 0,40']);
    fanout.write(v(80), true);
    fanout.flushNow();
    expect(batched.calls).toEqual(['batch 0,40', 'batch 80']);
    vi.advanceTimersByTime(60);
    expect(batched.calls).toHaveLength(2); // the cancelled window flushes nothing later
  });

  describe('holdAudioForVideo', () => {
    const holding: FanoutLimits = { writeMergeMs: 0, holdAudioForVideo: true };

    it('holds audio across turns until the next video frame, which takes it along in its own turn', () => {
      const { fanout, batched } = withReaders(holding);
      fanout.write(a(10), true);
      endTurn();
      fanout.write(a(31), true);
      endTurn();
      expect(batched.calls).toEqual([]);
      fanout.write(v(40), true);
      endTurn();
      expect(batched.calls).toEqual(['batch 10,31,40']);
    });

    it('lets audio that came after video in the same turn leave with that turn', () => {
      const { fanout, batched } = withReaders(holding);
      fanout.write(v(40), true);
      fanout.write(a(41), true);
      endTurn();
      expect(batched.calls).toEqual(['batch 40,41']);
    });

    it(`lets held audio go after ${AUDIO_HOLD_MAX_MS} ms without video`, () => {
      const { fanout, batched } = withReaders(holding);
      fanout.write(a(10), true);
      vi.advanceTimersByTime(AUDIO_HOLD_MAX_MS - 1);
      expect(batched.calls).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(batched.calls).toEqual(['batch 10']);
    });

    it('holds no audio of a stream without video', () => {
      const { fanout, batched } = withReaders(holding);
      fanout.write(a(10), false);
      endTurn();
      expect(batched.calls).toEqual(['batch 10']);
    });

    it('holds no audio with a merge window: video does not restart the window audio opened', () => {
      const { fanout, batched } = withReaders({ writeMergeMs: 20, holdAudioForVideo: true });
      fanout.write(a(10), true);
      vi.advanceTimersByTime(10);
      fanout.write(v(40), true);
      vi.advanceTimersByTime(10);
      expect(batched.calls).toEqual(['batch 10,40']);
    });
  });
});

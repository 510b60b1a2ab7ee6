import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FrameKind, MediaFrame, type AudioTrack, type VideoTrack } from '../../../gateway/core/media.js';
import { FragmentWriter } from '../../../gateway/formats/mp4/fragment.js';
import { initSegment } from '../../../gateway/formats/mp4/init.js';
import { scanFragmentedMp4 } from '../../../gateway/formats/mp4/reader.js';

// 1280x720 High profile avcC with lengthSizeMinusOne = 3, and an AAC-LC 44.1 kHz stereo ASC.
const AVCC = Buffer.from('0164001fffe1001a6764001facd9405005bb0110000003001000000303c0f183196001000468ef8fcbfdf8f800', 'hex');
const video: VideoTrack = { kind: 'video', codec: 'H264', config: AVCC, width: 1280, height: 720, fps: 25 };
const audio: AudioTrack = { kind: 'audio', codec: 'AAC', config: Buffer.from([0x12, 0x10]), sampleRate: 44100, channels: 2 };

function v(dts: number, key: boolean, size = 100): MediaFrame {
  const payload = Buffer.alloc(size, key ? 0x65 : 0x41);
  payload.writeUInt32BE(size - 4, 0);
  return new MediaFrame(FrameKind.Video, dts, dts, key, payload, 0, video);
}
function a(dts: number): MediaFrame {
  return new MediaFrame(FrameKind.Audio, dts, dts, true, Buffer.alloc(20, 0x21), 0, audio);
}

/** Top-level boxes of a buffer as [type, offset, size]. */
function boxes(buf: Buffer): [string, number, number][] {
  const out: [string, number, number][] = [];
  for (let o = 0; o + 8 <= buf.length; ) {
    const size = buf.readUInt32BE(o);
    out.push([buf.toString('latin1', o + 4, o + 8), o, size]);
    if (size < 8) break;
    o += size;
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'sg-mp4-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fMP4 init segment', () => {
  it('is ftyp + moov with one trak per track and an mvex', () => {
    const init = initSegment({ video, audio });
    expect(boxes(init).map((b) => b[0])).toEqual(['ftyp', 'moov']);
    const text = init.toString('latin1');
    for (const type of ['mvhd', 'trak', 'tkhd', 'mdhd', 'hdlr', 'vide', 'soun', 'avc1', 'avcC', 'mp4a', 'esds', 'mvex', 'trex']) expect(text).toContain(type);
    expect(text.split('trak').length - 1).toBe(2);
  });

  it('refuses G.711 audio with a message naming what it carries', () => {
    expect(() => initSegment({ audio: { kind: 'audio', codec: 'PCMA', config: Buffer.alloc(0), sampleRate: 8000, channels: 1 } })).toThrow(/PCMA is not carried; supported: AAC, OPUS/);
  });
});

describe('fMP4 fragments', () => {
  it('points trun data offsets at the sample bytes in the mdat', () => {
    const w = new FragmentWriter({ video, audio });
    const frames = [v(0, true, 50), a(0), v(40, false, 30), a(23)];
    const f = w.write(frames, 80);
    const buf = Buffer.concat(f.chunks);
    expect(buf.length).toBe(f.byteLength);
    const [[moofType, , moofSize], [mdatType]] = boxes(buf);
    expect([moofType, mdatType]).toEqual(['moof', 'mdat']);
    // The first trun (video) data offset is moof size + mdat header.
    const trun = buf.indexOf('trun');
    expect(buf.readInt32BE(trun + 12)).toBe(moofSize + 8);
    expect(buf.subarray(moofSize + 8, moofSize + 8 + 50).equals(frames[0]!.payload)).toBe(true);
    // Video sample durations at 90 kHz: 40 ms each, the last one up to endDts.
    expect(buf.readUInt32BE(trun + 16)).toBe(3600);
    expect(buf.readUInt32BE(trun + 32)).toBe(3600);
  });

  it('numbers fragments from 1 and keeps AAC on a 1024-sample grid despite millisecond jitter', () => {
    const w = new FragmentWriter({ audio });
    const dts = [0, 23, 46, 70, 93, 116];
    const first = Buffer.concat(w.write(dts.slice(0, 3).map(a), 70).chunks);
    const second = Buffer.concat(w.write(dts.slice(3).map(a), 139).chunks);
    expect(first.readUInt32BE(first.indexOf('mfhd') + 8)).toBe(1);
    expect(second.readUInt32BE(second.indexOf('mfhd') + 8)).toBe(2);
    const tfdt = second.indexOf('tfdt');
    expect(Number(second.readBigUInt64BE(tfdt + 8))).toBe(3 * 1024);
  });

  it('re-anchors audio after a gap instead of drifting', () => {
    const w = new FragmentWriter({ audio });
    w.write([a(0), a(23)], 46);
    const after = Buffer.concat(w.write([a(5000)], 5023).chunks);
    const tfdt = after.indexOf('tfdt');
    expect(Number(after.readBigUInt64BE(tfdt + 8))).toBe(Math.round(5 * 44100));
  });
});

describe('reading fMP4 back', () => {
  function writeFile(name: string): { file: string; fragmentEnds: number[] } {
    const w = new FragmentWriter({ video, audio }, 1000);
    const chunks: Buffer[] = [initSegment({ video, audio })];
    const fragmentEnds: number[] = [];
    let size = chunks[0]!.length;
    for (let g = 0; g < 3; g++) {
      const start = 1000 + g * 1000;
      const frames: MediaFrame[] = [];
      for (let i = 0; i < 25; i++) {
        frames.push(v(start + i * 40, i === 0));
        if (i % 2 === 0) frames.push(a(start + i * 40));
      }
      const f = w.write(frames, start + 1000);
      chunks.push(...f.chunks);
      size += f.byteLength;
      fragmentEnds.push(size);
    }
    const file = join(dir, name);
    writeFileSync(file, Buffer.concat(chunks));
    return { file, fragmentEnds };
  }

  it('finds codecs, fragments and the duration from zero', async () => {
    const { file, fragmentEnds } = writeFile('whole.mp4');
    const scan = await scanFragmentedMp4(file);
    expect(scan).toMatchObject({ hasInit: true, fragments: 3, codecs: ['avc1.64001f', 'mp4a.40.2'], startMs: 0, durationMs: 3000, validBytes: fragmentEnds[2] });
  });

  it('stops at the last complete fragment of a file cut mid-fragment', async () => {
    const { file, fragmentEnds } = writeFile('cut.mp4');
    truncateSync(file, fragmentEnds[1]! + 300);
    const scan = await scanFragmentedMp4(file);
    expect(scan.fragments).toBe(2);
    expect(scan.validBytes).toBe(fragmentEnds[1]);
    expect(scan.fileBytes).toBe(fragmentEnds[1]! + 300);
    expect(scan.durationMs).toBe(2000);
  });
});

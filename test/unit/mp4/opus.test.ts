/** Opus in fMP4 (Opus in ISOBMFF, ISO/IEC 23003-5) and packet durations from the TOC (RFC 6716 §3.1). */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OPUS_DEFAULT_PACKET_SAMPLES, opusPacketSamples } from '../../../gateway/codecs/opus.js';
import { FrameKind, MediaFrame } from '../../../gateway/core/media.js';
import { codecStrings } from '../../../gateway/formats/mp4/codecs.js';
import { FragmentWriter } from '../../../gateway/formats/mp4/fragment.js';
import { initSegment } from '../../../gateway/formats/mp4/init.js';
import { scanFragmentedMp4 } from '../../../gateway/formats/mp4/reader.js';
import { carriedTracks } from '../../../gateway/formats/segmenter-reader.js';
import { opusTrack } from '../../../gateway/formats/tracks.js';
import { hasTool } from '../../helpers/tools.js';

const toc = (config: number, stereo: boolean, code: number) => (config << 3) | (stereo ? 4 : 0) | code;

describe('opusPacketSamples (RFC 6716 §3.1, §3.2.5)', () => {
  it.each([
    ['SILK NB 10 ms', [toc(0, false, 0)], 480],
    ['SILK WB 60 ms', [toc(11, false, 0)], 2880],
    ['Hybrid FB 20 ms', [toc(15, true, 0)], 960],
    ['CELT FB 2.5 ms', [toc(28, true, 0)], 120],
    ['CELT FB 20 ms (libopus default)', [toc(31, true, 0)], 960],
    ['code 1: two equal frames', [toc(31, true, 1), 0], 1920],
    ['code 2: two frames of different sizes', [toc(19, false, 2), 1, 0], 1920],
    ['code 3: M = 6 frames of 20 ms', [toc(31, true, 3), 6], 5760],
    ['code 3 over 120 ms (R5) falls back', [toc(31, true, 3), 7], OPUS_DEFAULT_PACKET_SAMPLES],
    ['code 3 without its count byte falls back', [toc(31, true, 3)], OPUS_DEFAULT_PACKET_SAMPLES],
    ['an empty packet falls back', [], OPUS_DEFAULT_PACKET_SAMPLES],
  ])('%s', (_name, bytes, samples) => {
    expect(opusPacketSamples(Buffer.from(bytes))).toBe(samples);
  });
});

const dir = mkdtempSync(join(tmpdir(), 'sg-opus-mp4-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Opus in fMP4', () => {
  const audio = opusTrack(2);
  const packet = (ms: number) => new MediaFrame(FrameKind.Audio, ms, ms, true, Buffer.from([toc(31, true, 0), 1, 2, 3, 4, 5, 6, 7]), 0, audio);

  it("writes an 'Opus' sample entry with its dOps box, 48 kHz timescale", () => {
    const init = initSegment({ audio });
    const dops = init.indexOf('dOps');
    expect(init.indexOf('Opus')).toBeGreaterThan(0);
    // Version 0, OutputChannelCount 2, PreSkip, InputSampleRate 48000, OutputGain 0, ChannelMappingFamily 0.
    expect(init.readUInt32BE(dops - 4)).toBe(8 + 11);
    expect([init[dops + 4], init[dops + 5]]).toEqual([0, 2]);
    expect(init.readUInt32BE(dops + 8)).toBe(48000);
    expect([init.readInt16BE(dops + 12), init[dops + 14]]).toEqual([0, 0]);
    const mdhd = init.indexOf('mdhd');
    expect(init.readUInt32BE(mdhd + 16)).toBe(48000);
    expect(codecStrings({ audio })).toEqual(['opus']);
  });

  it('times samples by their TOC: 20 ms packets are 960 ticks each', () => {
    const w = new FragmentWriter({ audio });
    const buf = Buffer.concat(w.write([0, 20, 40, 60].map(packet), 80).chunks);
    const trun = buf.indexOf('trun');
    // trun: flags 0x301 (data offset, duration, size): count, offset, then duration/size pairs.
    expect(buf.readUInt32BE(trun + 8)).toBe(4);
    for (let i = 0; i < 4; i++) expect(buf.readUInt32BE(trun + 16 + i * 8)).toBe(960);
    const next = Buffer.concat(w.write([80].map(packet), 100).chunks);
    expect(Number(next.readBigUInt64BE(next.indexOf('tfdt') + 8))).toBe(4 * 960);
  });

  it('HLS fMP4 and recordings carry Opus; MPEG-TS HLS leaves it out saying why', () => {
    const stream = { videoTrack: undefined, audioTrack: audio };
    expect(carriedTracks(stream, 'fmp4')).toEqual({ video: undefined, audio });
    const ts = carriedTracks(stream, 'ts');
    expect(ts.audio).toBeUndefined();
    expect(ts.audioOmitted).toBe('audio codec OPUS cannot be carried in HLS (MPEG-TS); supported: AAC');
  });

  it.skipIf(!hasTool('ffprobe'))('reads back as opus with ffprobe and the recordings scanner', async () => {
    const w = new FragmentWriter({ audio });
    const frames = Array.from({ length: 50 }, (_, i) => packet(i * 20));
    const file = join(dir, 'opus.mp4');
    writeFileSync(file, Buffer.concat([initSegment({ audio }), ...w.write(frames, 1000).chunks]));
    const out = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', file], { encoding: 'utf8' })) as { streams: { codec_name: string; sample_rate: string; channels: number }[] };
    expect(out.streams).toMatchObject([{ codec_name: 'opus', sample_rate: '48000', channels: 2 }]);
    expect(await scanFragmentedMp4(file)).toMatchObject({ codecs: ['opus'], fragments: 1, durationMs: 1000 });
  });
});

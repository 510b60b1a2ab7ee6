import { describe, expect, it } from 'vitest';
import { buildAdtsHeader, parseAudioSpecificConfig } from '../../../gateway/codecs/aac.js';
import { FrameKind, MediaFrame, type AudioTrack, type VideoTrack } from '../../../gateway/core/media.js';
import { crc32Mpeg2, TsMuxer } from '../../../gateway/formats/mpegts.js';

const AVCC = Buffer.from('0142c01fffe100176742c01fda0360f79bc04400000fa40003a9803c60ca8001000468ce0fc8', 'hex');
const video: VideoTrack = { kind: 'video', codec: 'H264', config: AVCC, width: 854, height: 480, fps: 25 };
const audio: AudioTrack = { kind: 'audio', codec: 'AAC', config: Buffer.from([0x12, 0x10]), sampleRate: 44100, channels: 2 };

function packets(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += 188) out.push(buf.subarray(i, i + 188));
  return out;
}
const pid = (p: Buffer) => ((p[1]! & 0x1f) << 8) | p[2]!;

describe('MPEG-TS muxer', () => {
  it('computes CRC-32/MPEG-2', () => {
    expect(crc32Mpeg2(Buffer.from('123456789'))).toBe(0x0376e6e7);
  });

  it('writes PAT and PMT listing H.264 and ADTS AAC', () => {
    const t = new TsMuxer({ video, audio }).tables();
    const [pat, pmt] = packets(t);
    expect(pid(pat!)).toBe(0);
    expect(pid(pmt!)).toBe(0x1000);
    // PMT stream loop: stream_type 0x1b then 0x0f.
    expect(pmt!.indexOf(Buffer.from([0x1b, 0xe1, 0x00]))).toBeGreaterThan(0);
    expect(pmt!.indexOf(Buffer.from([0x0f, 0xe1, 0x01]))).toBeGreaterThan(0);
    const sectionLength = ((pmt![6]! & 0x0f) << 8) | pmt![7]!;
    expect(crc32Mpeg2(pmt!, 5, 8 + sectionLength)).toBe(0); // a section including its CRC checks to 0
  });

  it('packetizes frames into 188-byte packets with continuity counters, PCR and random access on keyframes', () => {
    const mux = new TsMuxer({ video, audio });
    const big = Buffer.alloc(1000, 0x11);
    big.writeUInt32BE(996, 0);
    big[4] = 0x65;
    const frames = [new MediaFrame(FrameKind.Video, 0, 80, true, big, 0, video), new MediaFrame(FrameKind.Audio, 0, 0, true, Buffer.alloc(300, 0x22), 0, audio)];
    const out = mux.mux(frames);
    expect(out.length % 188).toBe(0);
    const ps = packets(out);
    for (const p of ps) expect(p[0]).toBe(0x47);
    const videoPackets = ps.filter((p) => pid(p) === 0x100);
    expect(videoPackets.map((p) => p[3]! & 0x0f)).toEqual(videoPackets.map((_, i) => i & 0x0f));
    const first = videoPackets[0]!;
    expect(first[1]! & 0x40).toBe(0x40); // payload_unit_start_indicator
    expect(first[5]! & 0x50).toBe(0x50); // random_access_indicator + PCR_flag
    // The PES starts with an AUD, then SPS and PPS before the IDR slice.
    const payload = Buffer.concat(videoPackets.map((p) => (p[3]! & 0x20 ? p.subarray(5 + p[4]!) : p.subarray(4))));
    expect(payload.subarray(0, 3)).toEqual(Buffer.from([0, 0, 1]));
    expect(payload[7]! & 0xc0).toBe(0xc0); // PTS and DTS
    expect(payload.indexOf(Buffer.from([0, 0, 0, 1, 0x09, 0xf0]))).toBe(19);
    expect(payload.indexOf(Buffer.from([0, 0, 0, 1, 0x67]))).toBeGreaterThan(19);
    const audioPackets = ps.filter((p) => pid(p) === 0x101);
    const audioPayload = Buffer.concat(audioPackets.map((p) => (p[3]! & 0x20 ? p.subarray(5 + p[4]!) : p.subarray(4))));
    expect(audioPayload.readUInt16BE(14) & 0xfff6).toBe(0xfff0); // ADTS syncword after the PES header
  });

  // Payload sizes that set each frame_length bit field (bytes 3-5), up to the 13-bit maximum.
  it.each([0, 1, 248, 249, 2041, 2042, 0x1fff - 7])('writes the same ADTS header as buildAdtsHeader for a %i-byte AAC frame', (size) => {
    const he: AudioTrack = { kind: 'audio', codec: 'AAC', config: Buffer.from([0x2b, 0x11, 0x88, 0x00]), sampleRate: 24000, channels: 2 };
    for (const track of [audio, he]) {
      const mux = new TsMuxer({ audio: track });
      const pes = (f: MediaFrame) => Buffer.concat(packets(mux.mux([f])).map((p) => (p[3]! & 0x20 ? p.subarray(5 + p[4]!) : p.subarray(4))));
      for (let i = 0; i < 2; i++) {
        const payload = pes(new MediaFrame(FrameKind.Audio, i * 23, i * 23, true, Buffer.alloc(size, 0x22), 0, track));
        expect(payload.subarray(14, 21).toString('hex')).toBe(buildAdtsHeader(parseAudioSpecificConfig(track.config), size).toString('hex'));
        expect(payload.length).toBe(21 + size);
      }
    }
  });

  it('rejects an AAC frame too long for ADTS', () => {
    const mux = new TsMuxer({ audio });
    expect(() => mux.mux([new MediaFrame(FrameKind.Audio, 0, 0, true, Buffer.alloc(0x1fff - 6), 0, audio)])).toThrow('does not fit a frame');
  });
});

import { describe, expect, it } from 'vitest';
import { rtpExtension16, TransportFeedback } from '../../../gateway/formats/rtp/twcc.js';
import { buildRtp } from '../../../gateway/formats/rtp/rtp.js';

/** Reads a transport-wide feedback packet back (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1). */
function decode(buf: Buffer) {
  expect(buf[0]! & 0xc0).toBe(0x80);
  expect(buf[0]! & 0x1f).toBe(15);
  expect(buf[1]).toBe(205);
  const length = (buf.readUInt16BE(2) + 1) * 4;
  expect(length).toBe(buf.length);
  const end = buf[0]! & 0x20 ? length - buf[length - 1]! : length;
  const base = buf.readUInt16BE(12);
  const count = buf.readUInt16BE(14);
  const reference = buf.readUIntBE(16, 3);
  const fbCount = buf[19]!;
  const symbols: number[] = [];
  let pos = 20;
  while (symbols.length < count) {
    const chunk = buf.readUInt16BE(pos);
    pos += 2;
    if ((chunk & 0x8000) === 0) {
      const s = (chunk >> 13) & 3;
      for (let i = 0; i < (chunk & 0x1fff); i++) symbols.push(s);
    } else if ((chunk & 0x4000) === 0) {
      for (let i = 13; i >= 0; i--) symbols.push((chunk >> i) & 1);
    } else {
      for (let i = 6; i >= 0; i--) symbols.push((chunk >> (2 * i)) & 3);
    }
  }
  symbols.length = count;
  let time = reference * 64_000;
  const arrivals: (number | null)[] = [];
  for (const s of symbols) {
    if (s === 0) {
      arrivals.push(null);
      continue;
    }
    const delta = s === 1 ? buf[pos]! : buf.readInt16BE(pos);
    pos += s === 1 ? 1 : 2;
    time += delta * 250;
    arrivals.push(time);
  }
  expect(pos).toBeLessThanOrEqual(end);
  return { base, count, fbCount, arrivals, senderSsrc: buf.readUInt32BE(4), mediaSsrc: buf.readUInt32BE(8) };
}

describe('TransportFeedback (transport-wide congestion control feedback)', () => {
  it('reports every arrival to 250 µs, in sequence order, from a 64 ms reference', () => {
    const fb = new TransportFeedback();
    const t0 = 5_000_000;
    for (let i = 0; i < 20; i++) fb.record(100 + i, t0 + i * 1000);
    const out = decode(fb.build(0xaa, 0xbb)!);
    expect(out).toMatchObject({ base: 100, count: 20, fbCount: 0, senderSsrc: 0xaa, mediaSsrc: 0xbb });
    out.arrivals.forEach((at, i) => expect(Math.abs(at! - (t0 + i * 1000))).toBeLessThanOrEqual(125));
  });

  it('marks what did not arrive, takes reordered packets (negative deltas), and wraps at 65535', () => {
    const fb = new TransportFeedback();
    const t = [0, 1000, 2000, 3000, 4000, 5000].map((d) => 64_000_000 + d);
    fb.record(65533, t[0]!);
    fb.record(65535, t[2]!);
    fb.record(65534, t[3]!); // came after its successor
    fb.record(1, t[5]!); // 0 never came
    const out = decode(fb.build(1, 2)!);
    expect(out.base).toBe(65533);
    expect(out.count).toBe(5);
    expect(out.arrivals).toEqual([t[0], t[3], t[2], null, t[5]]);
  });

  it('each feedback continues where the last ended; packets from before it are ignored; a gap of seconds uses a large delta', () => {
    const fb = new TransportFeedback();
    fb.record(10, 1_000_000);
    fb.record(11, 1_001_000);
    const first = decode(fb.build(1, 2)!);
    expect(first).toMatchObject({ base: 10, count: 2, fbCount: 0 });
    expect(fb.build(1, 2)).toBeUndefined();
    fb.record(9, 1_002_000); // late: already reported as missing
    fb.record(12, 1_500_000); // 499 ms after the previous one: more than a byte of 250 µs
    const second = decode(fb.build(1, 2)!);
    expect(second).toMatchObject({ base: 12, count: 1, fbCount: 1 });
    expect(Math.abs(second.arrivals[0]! - 1_500_000)).toBeLessThanOrEqual(125);
    expect(fb.sent).toBe(2);
  });

  it('more than 1500 pending: the most recent 1500 are reported; a jump of thousands starts anew', () => {
    const fb = new TransportFeedback();
    fb.record(0, 1_000_000);
    fb.record(2000, 1_010_000);
    const out = decode(fb.build(1, 2)!);
    expect(out.count).toBe(1500);
    expect(out.base).toBe(2001 - 1500);
    expect(out.arrivals.at(-1)).not.toBeNull();
    expect(out.arrivals.slice(0, -1).every((a) => a === null)).toBe(true);
    fb.record(2001, 1_020_000);
    fb.record(9000, 1_030_000);
    const restarted = decode(fb.build(1, 2)!);
    expect(restarted).toMatchObject({ base: 9000, count: 1 });
  });

  it('packets are padded to 32 bits with the padding bit and count', () => {
    const fb = new TransportFeedback();
    fb.record(1, 1_000_000);
    const buf = fb.build(1, 2)!;
    expect(buf.length % 4).toBe(0);
    expect(buf[0]! & 0x20).toBe(0x20);
    expect(buf[buf.length - 1]).toBe(buf.length - 23);
  });
});

describe('rtpExtension16 (RFC 8285 header extensions)', () => {
  function withExtension(profile: number, body: number[]): Buffer {
    const rtp = buildRtp({ marker: false, payloadType: 96, sequence: 1, timestamp: 0, ssrc: 1 }, Buffer.from([0xaa, 0xbb]));
    const words = Math.ceil(body.length / 4);
    const ext = Buffer.alloc(4 + words * 4);
    ext.writeUInt16BE(profile, 0);
    ext.writeUInt16BE(words, 2);
    Buffer.from(body).copy(ext, 4);
    const out = Buffer.concat([rtp.subarray(0, 12), ext, rtp.subarray(12)]);
    out[0] = out[0]! | 0x10;
    return out;
  }

  it('finds a one-byte-header element among others and padding', () => {
    // id 1 with one byte, a padding byte, id 3 with two bytes 0x12 0x34.
    const pkt = withExtension(0xbede, [0x10, 0x55, 0x00, 0x31, 0x12, 0x34]);
    expect(rtpExtension16(pkt, 3)).toBe(0x1234);
    expect(rtpExtension16(pkt, 2)).toBe(-1);
    expect(rtpExtension16(pkt, 1)).toBe(-1); // one byte only: not a 16-bit value
  });

  it('finds a two-byte-header element', () => {
    const pkt = withExtension(0x1000, [5, 2, 0xfe, 0xdc]);
    expect(rtpExtension16(pkt, 5)).toBe(0xfedc);
  });

  it('returns -1 without the X bit, or for an extension that runs past the packet', () => {
    const plain = buildRtp({ marker: false, payloadType: 96, sequence: 1, timestamp: 0, ssrc: 1 }, Buffer.alloc(4));
    expect(rtpExtension16(plain, 3)).toBe(-1);
    const bad = withExtension(0xbede, [0x31, 0x12, 0x34]);
    bad.writeUInt16BE(200, 14); // says 200 words
    expect(rtpExtension16(bad, 3)).toBe(-1);
  });
});

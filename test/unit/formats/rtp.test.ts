import { describe, expect, it } from 'vitest';
import { AAC_HBR, AacDepacketizer, G711Depacketizer, packetizeAac, packetizeG711 } from '../../../gateway/formats/rtp/audio.js';
import { packetizeVideo, VideoDepacketizer } from '../../../gateway/formats/rtp/video.js';
import { buildRtp, parseRtcpSenderReports, parseRtp, REORDER_MAX_WAIT_MS, type RtpPacket, RtpReorderer, TimestampUnwrapper, writeRtcpSenderReport } from '../../../gateway/formats/rtp/rtp.js';
import { DtsExtractor } from '../../../gateway/formats/rtp/to-stream.js';

/** A NAL unit of `size` bytes with the given header byte(s) and a recognizable body. */
function nal(header: number[], size: number, seed = 1): Buffer {
  const b = Buffer.alloc(size);
  header.forEach((h, i) => (b[i] = h));
  for (let i = header.length; i < size; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

const H264 = {
  sps: nal([0x67], 12),
  pps: nal([0x68], 5),
  sei: nal([0x06], 20),
  idr: (n: number) => nal([0x65], n, 3),
  slice: (n: number) => nal([0x41], n, 5),
};
const H265 = {
  vps: nal([0x40, 0x01], 24),
  sps: nal([0x42, 0x01], 40),
  pps: nal([0x44, 0x01], 8),
  idr: (n: number) => nal([0x26, 0x01], n, 3),
  trail: (n: number) => nal([0x02, 0x01], n, 5),
};

/** Wraps payloads into RTP packets of one access unit (marker on the last). */
function rtpPackets(payloads: Buffer[], timestamp: number, firstSeq = 1000): RtpPacket[] {
  return payloads.map((payload, i) => parseRtp(buildRtp({ marker: i === payloads.length - 1, payloadType: 96, sequence: (firstSeq + i) & 0xffff, timestamp, ssrc: 1 }, payload)));
}

function videoRoundTrip(codec: 'H264' | 'H265', aus: Buffer[][], maxPayload: number, drop?: (i: number) => boolean) {
  const out: { nalus: Buffer[]; ts: number }[] = [];
  const losses: string[] = [];
  const d = new VideoDepacketizer(codec, { accessUnit: (nalus, ts) => out.push({ nalus: nalus.map((n) => Buffer.from(n)), ts }), lost: (r) => losses.push(r) });
  let seq = 65530; // crosses the 16-bit sequence wrap
  let count = 0;
  const types: number[] = [];
  aus.forEach((au, i) => {
    const payloads = packetizeVideo(codec, au, maxPayload);
    for (const p of payloads) types.push(codec === 'H264' ? p[0]! & 0x1f : (p[0]! >> 1) & 0x3f);
    for (const pkt of rtpPackets(payloads, 90000 * i + 0xfffff000, seq)) {
      if (!drop?.(count++)) d.push(pkt);
    }
    seq = (seq + payloads.length) & 0xffff;
  });
  return { out, losses, types };
}

describe('H.264 / H.265 packetize → depacketize', () => {
  const cases = [
    { name: 'H.264 single NAL unit packets', codec: 'H264', aus: [[H264.slice(800)], [H264.slice(300)]], max: 1400, types: [1, 1] },
    { name: 'H.264 STAP-A for SPS+PPS+SEI, then the IDR alone', codec: 'H264', aus: [[H264.sps, H264.pps, H264.sei, H264.idr(1390)]], max: 1400, types: [24, 5] },
    { name: 'H.264 FU-A for a NAL larger than the limit', codec: 'H264', aus: [[H264.idr(5000)]], max: 1400, types: [28, 28, 28, 28] },
    { name: 'H.264 NAL of exactly the limit is not fragmented', codec: 'H264', aus: [[H264.slice(1400)]], max: 1400, types: [1] },
    { name: 'H.264 NAL one byte over the limit is fragmented', codec: 'H264', aus: [[H264.slice(1401)]], max: 1400, types: [28, 28] },
    { name: 'H.264 aggregate, fragment and single in one AU', codec: 'H264', aus: [[H264.sps, H264.pps, H264.idr(3000), H264.slice(100), H264.slice(100)]], max: 1200, types: [24, 28, 28, 28, 24] },
    { name: 'H.264 tiny MTU fragments into many FU-A', codec: 'H264', aus: [[H264.idr(1000)]], max: 50, types: Array(21).fill(28) },
    { name: 'H.265 single NAL unit packets', codec: 'H265', aus: [[H265.trail(900)], [H265.trail(10)]], max: 1400, types: [1, 1] },
    { name: 'H.265 AP for VPS+SPS+PPS, then the IDR alone', codec: 'H265', aus: [[H265.vps, H265.sps, H265.pps, H265.idr(1390)]], max: 1400, types: [48, 19] },
    { name: 'H.265 FU for a NAL larger than the limit', codec: 'H265', aus: [[H265.idr(4000)]], max: 1400, types: [49, 49, 49] },
    { name: 'H.265 aggregate, fragment and single in one AU', codec: 'H265', aus: [[H265.vps, H265.sps, H265.pps, H265.idr(2500), H265.trail(1300)]], max: 1300, types: [48, 49, 49, 1] },
  ] as const;

  it.each(cases)('$name', (c) => {
    const aus = c.aus.map((au) => [...au]);
    const { out, losses, types } = videoRoundTrip(c.codec, aus, c.max);
    expect(types).toEqual(c.types);
    expect(losses).toEqual([]);
    expect(out.map((o) => o.nalus)).toEqual(aus);
    expect(out.map((o) => o.ts)).toEqual(aus.map((_, i) => (90000 * i + 0xfffff000) >>> 0));
  });

  it.each([
    { name: 'a lost middle fragment', drop: 1 },
    { name: 'a lost first fragment', drop: 0 },
    { name: 'a lost last fragment', drop: 3 },
  ])('H.264: $name drops that access unit only and reports the loss', ({ drop }) => {
    const aus = [[H264.idr(5000)], [H264.slice(500)], [H264.slice(600)]];
    const { out, losses } = videoRoundTrip('H264', aus, 1400, (i) => i === drop);
    expect(losses.length).toBeGreaterThan(0);
    expect(out.map((o) => o.nalus)).toEqual(aus.slice(1));
  });

  it('a truncated aggregation packet is reported, not thrown', () => {
    const losses: string[] = [];
    const d = new VideoDepacketizer('H264', { accessUnit: () => expect.fail('no AU expected'), lost: (r) => losses.push(r) });
    const stap = Buffer.from([24, 0, 10, 0x67, 1, 2]);
    d.push(parseRtp(buildRtp({ marker: true, payloadType: 96, sequence: 1, timestamp: 0, ssrc: 1 }, stap)));
    expect(losses[0]).toMatch(/runs past the end/);
  });

  it('unsupported packet types (STAP-B, MTAP) are reported', () => {
    const losses: string[] = [];
    const d = new VideoDepacketizer('H264', { accessUnit: () => {}, lost: (r) => losses.push(r) });
    d.push(parseRtp(buildRtp({ marker: true, payloadType: 96, sequence: 1, timestamp: 0, ssrc: 1 }, Buffer.from([26, 0, 0]))));
    expect(losses[0]).toMatch(/unsupported H264 RTP packet type 26/);
  });
});

describe('AAC (RFC 3640 AAC-hbr) packetize → depacketize', () => {
  const au = (n: number, seed: number) => nal([], n, seed);
  it.each([
    { name: 'one AU per packet', aus: [au(200, 1)], max: 1400, packets: 1 },
    { name: 'three AUs aggregated into one packet', aus: [au(200, 1), au(210, 2), au(190, 3)], max: 1400, packets: 1 },
    { name: 'aggregation split when the next AU does not fit', aus: [au(600, 1), au(600, 2), au(600, 3)], max: 1400, packets: 2 },
    { name: 'an AU larger than the limit is fragmented', aus: [au(3000, 1)], max: 1400, packets: 3 },
  ])('$name', (c) => {
    const packets = packetizeAac(c.aus, c.max);
    expect(packets.length).toBe(c.packets);
    const frames: { payload: Buffer; ts: number }[] = [];
    const d = new AacDepacketizer(AAC_HBR, { frame: (payload, ts) => frames.push({ payload: Buffer.from(payload), ts }), lost: (r) => expect.fail(r) });
    packets.forEach((p, i) => d.push(parseRtp(buildRtp({ marker: p.last, payloadType: 97, sequence: i, timestamp: 1000 + p.firstAu * 1024, ssrc: 1 }, p.payload))));
    expect(frames.map((f) => f.payload)).toEqual(c.aus);
    expect(frames.map((f) => f.ts)).toEqual(c.aus.map((_, i) => 1000 + i * 1024));
  });

  it('AU headers that run past the payload are reported', () => {
    const losses: string[] = [];
    const d = new AacDepacketizer(AAC_HBR, { frame: () => expect.fail('no frame'), lost: (r) => losses.push(r) });
    d.push(parseRtp(buildRtp({ marker: true, payloadType: 97, sequence: 0, timestamp: 0, ssrc: 1 }, Buffer.from([0x00, 0x40, 0x01]))));
    expect(losses[0]).toMatch(/AU headers run past/);
  });
});

describe('G.711 packetize → depacketize', () => {
  it.each([
    { name: 'a 20 ms frame in one packet', size: 160, max: 1400, packets: 1 },
    { name: 'a long frame split with timestamps advancing by samples', size: 3000, max: 1400, packets: 3 },
  ])('$name', (c) => {
    const samples = nal([], c.size, 9);
    const packets = packetizeG711(samples, c.max);
    expect(packets.length).toBe(c.packets);
    const frames: { payload: Buffer; ts: number }[] = [];
    const d = new G711Depacketizer({ frame: (payload, ts) => frames.push({ payload: Buffer.from(payload), ts }), lost: () => {} });
    packets.forEach((p, i) => d.push(parseRtp(buildRtp({ marker: false, payloadType: 8, sequence: i, timestamp: 500 + p.offset, ssrc: 1 }, p.payload))));
    expect(Buffer.concat(frames.map((f) => f.payload))).toEqual(samples);
    expect(frames.map((f) => f.ts)).toEqual(packets.map((p) => 500 + p.offset));
  });
});

describe('RTP header', () => {
  it('round-trips header fields', () => {
    const p = parseRtp(buildRtp({ marker: true, payloadType: 97, sequence: 65535, timestamp: 0xfffffffe, ssrc: 0xdeadbeef }, Buffer.from('xyz')));
    expect(p).toMatchObject({ marker: true, payloadType: 97, sequence: 65535, timestamp: 0xfffffffe, ssrc: 0xdeadbeef });
    expect(p.payload.toString()).toBe('xyz');
  });

  it('skips CSRCs, extension and padding', () => {
    const raw = Buffer.from([0xb1, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, /* csrc */ 0, 0, 0, 2, /* ext */ 0xbe, 0xde, 0, 1, 1, 2, 3, 4, /* payload */ 0x41, 0x42, /* padding */ 0, 2]);
    expect(parseRtp(raw).payload).toEqual(Buffer.from([0x41, 0x42]));
  });

  it.each([
    { name: 'shorter than the fixed header', bytes: [0x80, 96, 0, 1], error: /truncated RTP packet: 4 bytes/ },
    { name: 'not version 2', bytes: [0x40, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0], error: /version 1, expected 2/ },
    { name: 'CSRC count past the end', bytes: [0x8f, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0], error: /truncated/ },
    { name: 'extension past the end', bytes: [0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe], error: /header extension/ },
    { name: 'padding larger than the packet', bytes: [0xa0, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 99], error: /truncated/ },
  ])('rejects a packet $name', ({ bytes, error }) => {
    expect(() => parseRtp(Buffer.from(bytes))).toThrow(error);
  });
});

describe('timestamps', () => {
  it('unwraps 32-bit RTP timestamps across the wrap and back-steps', () => {
    const u = new TimestampUnwrapper();
    expect([0xfffffc18, 0xffffffff, 0x000003e8, 0x00000100, 0x00001000].map((t) => u.unwrap(t))).toEqual([0, 999, 2000, 1256, 5096]);
  });

  it('derives monotonic dts <= pts from B-frame decode order (I P B B P B B ...)', () => {
    const d = new DtsExtractor();
    // pts in frame units (×3600 ticks = 40 ms) in decode order; keyframes every 9 frames.
    const order = [0, 3, 1, 2, 6, 4, 5, 9, 7, 8, 12, 10, 11, 15, 13, 14, 18, 16, 17];
    const dts = order.map((f, i) => d.next(f * 3600, i % 9 === 0 && i > 0 ? true : i === 0));
    for (let i = 1; i < dts.length; i++) expect(dts[i]).toBeGreaterThanOrEqual(dts[i - 1]!);
    // After the first frames have shown the reorder depth, dts never passes pts.
    for (let i = 4; i < dts.length; i++) expect(dts[i]).toBeLessThanOrEqual(order[i]! * 3600);
    // ...and advances one frame per frame.
    expect(dts[10]! - dts[9]!).toBe(3600);
  });

  it('without reordering dts equals pts', () => {
    const d = new DtsExtractor();
    expect([0, 3600, 7200, 10800].map((p) => d.next(p, false))).toEqual([0, 3600, 7200, 10800]);
  });
});

describe('RtpReorderer (UDP arrival order → sequence order)', () => {
  const pkt = (sequence: number): RtpPacket => ({ marker: false, payloadType: 96, sequence, timestamp: 0, ssrc: 1, payload: Buffer.alloc(0) });
  /** Pushes `arrivals` (sequence numbers; `t+N` advances the clock N ms) and returns what came out. */
  function run(arrivals: (number | string)[]) {
    const out: number[] = [];
    const r = new RtpReorderer((p) => out.push(p.sequence));
    let now = 0;
    for (const a of arrivals) {
      if (typeof a === 'string') now += Number(a.slice(2));
      else r.push(pkt(a), now);
    }
    return { out, late: r.late, reordered: r.reordered };
  }

  it.each([
    { name: 'in order', arrivals: [0, 1, 2, 3], out: [0, 1, 2, 3], late: 0 },
    { name: 'two swapped', arrivals: [0, 2, 1, 3], out: [0, 1, 2, 3], late: 0 },
    { name: 'three back to front', arrivals: [10, 13, 12, 11, 14], out: [10, 11, 12, 13, 14], late: 0 },
    { name: 'a duplicate', arrivals: [0, 1, 1, 2], out: [0, 1, 2], late: 1 },
    { name: 'a packet from before the start', arrivals: [5, 4, 6], out: [5, 6], late: 1 },
    { name: 'across the 16-bit wrap', arrivals: [65534, 0, 65535, 1], out: [65534, 65535, 0, 1], late: 0 },
    { name: 'far ahead (a burst lost): no waiting', arrivals: [0, 1, 500, 501], out: [0, 1, 500, 501], late: 0 },
    { name: 'a loss: held until the wait runs out', arrivals: [0, 2, 't+20', 3, `t+${REORDER_MAX_WAIT_MS}`, 4, 5], out: [0, 2, 3, 4, 5], late: 0 },
    { name: 'a loss: nothing goes before the wait runs out', arrivals: [0, 2, 't+10', 3, 't+10', 4], out: [0], late: 0 },
    { name: 'the missing one arrives after the gap was given up: too late', arrivals: [0, 2, `t+${REORDER_MAX_WAIT_MS + 1}`, 3, 1, 4], out: [0, 2, 3, 4], late: 1 },
  ])('$name', ({ arrivals, out, late }) => {
    const r = run(arrivals);
    expect(r.out).toEqual(out);
    expect(r.late).toBe(late);
  });

  it('puts any shuffle within its window back in order, losing nothing (seeded fuzz)', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let round = 0; round < 50; round++) {
      const start = Math.floor(rand() * 65536);
      // Each packet moves at most 8 places (sorted by index + jitter); the first stays first (it sets the start).
      const seqs = Array.from({ length: 500 }, (_, i) => ({ seq: (start + i) & 0xffff, key: i === 0 ? -1 : i + rand() * 8 }))
        .sort((a, b) => a.key - b.key)
        .map((p) => p.seq);
      const r = run(seqs);
      expect(r.out).toEqual(Array.from({ length: 500 }, (_, i) => (start + i) & 0xffff));
      expect(r.late).toBe(0);
    }
  });
});

describe('RtpReorderer gaps (what a receiver NACKs)', () => {
  const pkt = (sequence: number): RtpPacket => ({ marker: false, payloadType: 96, sequence, timestamp: 0, ssrc: 1, payload: Buffer.alloc(0) });
  function run(arrivals: number[], opts: { maxPackets?: number } = {}) {
    const out: number[] = [];
    const missing: [number, number][] = [];
    const r = new RtpReorderer((p) => out.push(p.sequence), { ...opts, maxWaitMs: 100, onMissing: (first, count) => missing.push([first, count]) });
    for (const a of arrivals) r.push(pkt(a), 0);
    return { out, missing, recovered: r.recovered, late: r.late };
  }

  it.each([
    { name: 'in order: nothing missing', arrivals: [0, 1, 2], missing: [], recovered: 0, out: [0, 1, 2] },
    { name: 'one lost, then retransmitted', arrivals: [0, 2, 3, 1, 4], missing: [[1, 1]], recovered: 1, out: [0, 1, 2, 3, 4] },
    { name: 'a run of three, reported once as it opens', arrivals: [0, 4, 5, 6, 2, 1, 3], missing: [[1, 3]], recovered: 3, out: [0, 1, 2, 3, 4, 5, 6] },
    { name: 'two separate gaps', arrivals: [0, 2, 5, 1, 3, 4], missing: [[1, 1], [3, 2]], recovered: 3, out: [0, 1, 2, 3, 4, 5] },
    { name: 'across the 16-bit wrap', arrivals: [65534, 1, 65535, 0], missing: [[65535, 2]], recovered: 2, out: [65534, 65535, 0, 1] },
    { name: 'a retransmission that comes twice counts once', arrivals: [0, 2, 1, 1, 3], missing: [[1, 1]], recovered: 1, out: [0, 1, 2, 3] },
    { name: 'a jump beyond the window is not asked for', arrivals: [0, 1, 600, 601], missing: [], recovered: 0, out: [0, 1, 600, 601] },
  ])('$name', ({ arrivals, missing, recovered, out }) => {
    const r = run(arrivals);
    expect(r.missing).toEqual(missing);
    expect(r.recovered).toBe(recovered);
    expect(r.out).toEqual(out);
  });

  it('holds a whole keyframe behind one missing packet with a larger window', () => {
    const arrivals = [0, ...Array.from({ length: 300 }, (_, i) => i + 2), 1];
    const r = run(arrivals, { maxPackets: 512 });
    expect(r.missing).toEqual([[1, 1]]);
    expect(r.out).toEqual(Array.from({ length: 302 }, (_, i) => i));
  });

  it('lists what is still missing once the wait is old enough, for a second NACK; nothing once filled', () => {
    const r = new RtpReorderer(() => {}, { maxWaitMs: 100 });
    const again = (now: number) => {
      const runs: [number, number][] = [];
      r.forEachMissing(now, 40, (first, count) => runs.push([first, count]));
      return runs;
    };
    r.push(pkt(65533), 0);
    for (const seq of [65535, 0, 3, 4]) r.push(pkt(seq), 10); // 65534 and 1-2 missing, across the wrap
    expect(again(30)).toEqual([]); // too soon: the first NACK may still bring them
    expect(again(50)).toEqual([[65534, 1], [1, 2]]);
    r.push(pkt(65534), 55); // the first gap fills; its packets go out, the second waits from now
    expect(again(60)).toEqual([]);
    expect(again(95)).toEqual([[1, 2]]);
    r.push(pkt(1), 96);
    r.push(pkt(2), 97);
    expect(again(200)).toEqual([]);
  });
});

describe('RTCP sender reports', () => {
  it('reads the sender reports of a compound packet, skipping other types and stopping at a bad length', () => {
    const sr = Buffer.alloc(28);
    writeRtcpSenderReport(sr, 0, 0x1234, 1_700_000_000_250, 90000, 10, 1000);
    const sdes = Buffer.from([0x81, 202, 0, 1, 0, 0, 0, 1]);
    const reports = parseRtcpSenderReports(Buffer.concat([sdes, sr]));
    expect(reports).toHaveLength(1);
    expect(reports[0]!.ssrc).toBe(0x1234);
    expect(reports[0]!.rtpTimestamp).toBe(90000);
    expect(reports[0]!.ntpMs).toBeCloseTo(1_700_000_000_250, 0);
    expect(parseRtcpSenderReports(Buffer.concat([sr.subarray(0, 20)]))).toEqual([]); // truncated
    expect(parseRtcpSenderReports(Buffer.from([0x00, 200, 0, 6]))).toEqual([]); // not version 2
  });
});

import { describe, expect, it } from 'vitest';
import { buildRtcpNack, buildRtcpPli, buildRtcpReport, RtpReceiverStats, rttFromXr } from '../../../gateway/formats/rtp/rtcp-receiver.js';
import { compactNtp, emptyRtcpFeedback, forEachRtcp, readRtcpFeedback } from '../../../gateway/formats/rtp/rtp.js';

/** The FCI of a generic NACK as sequence numbers (RFC 4585 §6.2.1). */
function nackedSequences(buf: Buffer): number[] {
  const out: number[] = [];
  for (let f = 12; f + 4 <= buf.length; f += 4) {
    const pid = buf.readUInt16BE(f);
    const blp = buf.readUInt16BE(f + 2);
    out.push(pid);
    for (let b = 0; b < 16; b++) if (blp & (1 << b)) out.push((pid + b + 1) & 0xffff);
  }
  return out;
}

describe('RtpReceiverStats (RFC 3550 A.1, A.3, A.8)', () => {
  /** Packets every 20 ms, 960 ticks apart (Opus at 48 kHz), from `start`, skipping `skip`. */
  function feed(stats: RtpReceiverStats, start: number, n: number, skip: number[] = [], jitterMs = 0): void {
    for (let i = 0; i < n; i++) {
      if (skip.includes(i)) continue;
      stats.packet(0x1234, (start + i) & 0xffff, (i * 960) >>> 0, i * 20 + (i % 2 ? jitterMs : 0));
    }
  }
  function block(stats: RtpReceiverStats, nowMs = 1000) {
    const report = buildRtcpReport(0xabcd, [stats], nowMs);
    const fb = emptyRtcpFeedback();
    readRtcpFeedback(report, fb);
    return { report, fb, extendedMax: report.readUInt32BE(8 + 8), ssrc: report.readUInt32BE(8) };
  }

  it('counts loss, the extended highest sequence across the wrap, and no jitter for even spacing', () => {
    const stats = new RtpReceiverStats(48000);
    feed(stats, 65530, 100, [10, 11, 50, 51]);
    expect(stats.lost).toBe(4);
    const { fb, extendedMax, ssrc, report } = block(stats);
    expect(ssrc).toBe(0x1234);
    expect(report[1]).toBe(201);
    expect(report.readUInt32BE(4)).toBe(0xabcd);
    expect(extendedMax).toBe(0x10000 + ((65530 + 99) & 0xffff));
    expect(fb.packetsLost).toBe(4);
    expect(fb.fractionLost).toBeCloseTo(4 / 100, 1);
    expect(fb.jitter).toBe(0);
  });

  it('the fraction lost is per interval; cumulative loss keeps counting', () => {
    const stats = new RtpReceiverStats(48000);
    feed(stats, 0, 100, [1, 2, 3, 4]);
    expect(block(stats).fb.fractionLost).toBeGreaterThan(0);
    for (let i = 100; i < 200; i++) stats.packet(0x1234, i, i * 960, i * 20);
    const second = block(stats).fb;
    expect(second.fractionLost).toBe(0);
    expect(second.packetsLost).toBe(4);
  });

  it('jitter grows when arrival spacing varies (5 ms on every other packet at 48 kHz: towards 240 ticks)', () => {
    const stats = new RtpReceiverStats(48000);
    feed(stats, 0, 400, [], 5);
    const { fb } = block(stats);
    expect(fb.jitter).toBeGreaterThan(150);
    expect(fb.jitter).toBeLessThanOrEqual(240);
  });

  it('echoes the last sender report (LSR) with the delay since (DLSR, 1/65536 s)', () => {
    const stats = new RtpReceiverStats(90000);
    stats.packet(7, 1, 0, 0);
    stats.senderReport(0x11223344, 1000);
    const { fb } = block(stats, 1500);
    expect(fb.lastSr).toBe(0x11223344);
    expect(fb.delaySinceLastSr).toBe(32768);
  });

  it('a new SSRC or a jump of thousands starts the count again (a restarted sender is not loss)', () => {
    const stats = new RtpReceiverStats(90000);
    feed(stats, 100, 10);
    stats.packet(0x1234, 30000, 0, 500);
    expect(stats.lost).toBe(0);
    stats.packet(0x9999, 5, 0, 520);
    expect(stats.ssrc).toBe(0x9999);
    expect(stats.lost).toBe(0);
  });

  it('a report leaves out sources that sent nothing', () => {
    const silent = new RtpReceiverStats(48000);
    const live = new RtpReceiverStats(90000);
    live.packet(42, 1, 0, 0);
    const report = buildRtcpReport(1, [silent, live], 0);
    expect(report[0]! & 0x1f).toBe(1);
    expect(report.length).toBe(32);
    expect(report.readUInt32BE(8)).toBe(42);
  });
});

describe('round trip for a receive-only peer (RFC 3611 RRTR / DLRR)', () => {
  /** The sender's XR answer: one DLRR entry (SSRC, LRR, DLRR) per receiver it heard from. */
  function dlrr(entries: [number, number, number][]): Buffer {
    const out = Buffer.alloc(12 + 12 * entries.length);
    out[0] = 0x80;
    out[1] = 207;
    out.writeUInt16BE(out.length / 4 - 1, 2);
    out.writeUInt32BE(0xabcdef, 4);
    out[8] = 5;
    out.writeUInt16BE(3 * entries.length, 10);
    entries.forEach(([ssrc, lrr, delay], i) => {
      out.writeUInt32BE(ssrc >>> 0, 12 + 12 * i);
      out.writeUInt32BE(lrr >>> 0, 16 + 12 * i);
      out.writeUInt32BE(delay >>> 0, 20 + 12 * i);
    });
    return out;
  }

  it('a report with referenceTime carries an XR RRTR block with our NTP time after the RR', () => {
    const s = new RtpReceiverStats(90000);
    s.packet(0x1234, 1, 0, 0);
    const now = Date.UTC(2026, 11, 7, 12, 0, 0, 500);
    const out = buildRtcpReport(0x99, [s], now, true);
    const types: number[] = [];
    forEachRtcp(out, (t) => types.push(t));
    expect(types).toEqual([201, 207]);
    const xr = out.subarray(32);
    expect(xr.readUInt32BE(4)).toBe(0x99);
    expect([xr[8], xr.readUInt16BE(10)]).toEqual([4, 2]);
    // NTP seconds since 1900, and half a second as a 32-bit fraction.
    expect(xr.readUInt32BE(12)).toBe(Math.floor(now / 1000) + 2208988800);
    expect(xr.readUInt32BE(16)).toBe(0x80000000);
    // The compact form a DLRR echoes (LRR) is its middle 32 bits.
    expect(compactNtp(now)).toBe((((xr.readUInt32BE(12) & 0xffff) << 16) | (xr.readUInt32BE(16) >>> 16)) >>> 0);
    expect(buildRtcpReport(0x99, [s], now, false).length).toBe(32);
  });

  it('the DLRR entry for our SSRC gives now - LRR - DLRR; others and an empty LRR give -1', () => {
    const sent = Date.UTC(2026, 11, 7, 12, 0, 0, 0);
    const lrr = compactNtp(sent);
    // The sender held our report for 30 ms; we read its answer 50 ms after we sent ours: 20 ms.
    const rtt = rttFromXr(dlrr([[0x55, 1, 1], [0x99, lrr, (30 * 65536) / 1000]]), 0, 36, 0x99, sent + 50);
    expect(rtt).toBeCloseTo(20, 0);
    expect(rttFromXr(dlrr([[0x55, lrr, 0]]), 0, 24, 0x99, sent + 50)).toBe(-1);
    expect(rttFromXr(dlrr([[0x99, 0, 0]]), 0, 24, 0x99, sent + 50)).toBe(-1);
    // A block length past the packet is not read.
    const bad = dlrr([[0x99, lrr, 0]]);
    bad.writeUInt16BE(9, 10);
    expect(rttFromXr(bad, 0, bad.length, 0x99, sent + 50)).toBe(-1);
  });
});

describe('RTCP feedback a receiver sends', () => {
  it.each([
    { first: 10, count: 1 },
    { first: 10, count: 17 },
    { first: 10, count: 18 },
    { first: 65530, count: 40 },
  ])('a NACK of $count from $first asks for exactly those packets', ({ first, count }) => {
    const nack = buildRtcpNack(0xaaaa, 0xbbbb, first, count);
    expect(nack[0]! & 0x1f).toBe(1);
    expect(nack[1]).toBe(205);
    expect((nack.readUInt16BE(2) + 1) * 4).toBe(nack.length);
    expect(nack.readUInt32BE(4)).toBe(0xaaaa);
    expect(nack.readUInt32BE(8)).toBe(0xbbbb);
    expect(nackedSequences(nack)).toEqual(Array.from({ length: count }, (_, i) => (first + i) & 0xffff));
    // Our own sender side reads it back the same way (WHEP readers' NACKs).
    const fb = emptyRtcpFeedback();
    readRtcpFeedback(nack, fb);
    expect(fb).toMatchObject({ nacks: 1, nackedPackets: count });
  });

  it('a PLI is a keyframe request for the media SSRC', () => {
    const pli = buildRtcpPli(1, 0xdeadbeef);
    const fb = emptyRtcpFeedback();
    expect(readRtcpFeedback(pli, fb)).toBe(true);
    expect(fb.plis).toBe(1);
    expect(pli.readUInt32BE(8)).toBe(0xdeadbeef);
    let n = 0;
    forEachRtcp(Buffer.concat([pli, buildRtcpReport(1, [], 0)]), () => n++);
    expect(n).toBe(2);
  });
});

import { describe, expect, it } from 'vitest';
import { FrameKind, MediaFrame, wireBytes } from '../../../gateway/core/media.js';
import type { Stream } from '../../../gateway/core/stream.js';
import { opusTrack } from '../../../gateway/formats/tracks.js';
import type { MediaTrack } from '../../../gateway/protocols/webrtc/engine.js';
import { WebRtcStreamFormat, WhepOutput } from '../../../gateway/protocols/webrtc/from-stream.js';

/** Stands in for libdatachannel's Track (not our protocol): records what is sent. */
function fakeTrack(): { track: MediaTrack; sent: Buffer[] } {
  const sent: Buffer[] = [];
  const track = { isOpen: () => true, sendMessageBinary: (b: Buffer) => sent.push(Buffer.from(b)) > 0 } as unknown as MediaTrack;
  return { track, sent };
}

function nack(mediaSsrc: number, pid: number, blp: number): Buffer {
  const b = Buffer.alloc(16);
  b[0] = 0x81; // V=2, FMT=1 (generic NACK, RFC 4585 §6.2.1)
  b[1] = 205;
  b.writeUInt16BE(3, 2);
  b.writeUInt32BE(1, 4);
  b.writeUInt32BE(mediaSsrc, 8);
  b.writeUInt16BE(pid, 12);
  b.writeUInt16BE(blp, 14);
  return b;
}

describe('WHEP output', () => {
  const track = opusTrack(2);
  const stream = { videoTrack: undefined, audioTrack: track, lastDts: 0 } as unknown as Stream;

  function setup(): { out: WhepOutput; sent: Buffer[]; format: WebRtcStreamFormat } {
    const format = new WebRtcStreamFormat(stream, 1200);
    const { track: t, sent } = fakeTrack();
    const out = new WhepOutput(format, '127.0.0.1:1', stream, undefined, { track: t, payloadType: 109, codec: 'OPUS' }, () => {});
    for (let i = 0; i < 40; i++) out.write(wireBytes(new MediaFrame(FrameKind.Audio, i * 20, i * 20, true, Buffer.from([0xfc, i]), Date.now(), track), format));
    return { out, sent, format };
  }

  it('sends the shared packets with its own payload type, and counts them', () => {
    const { out, sent } = setup();
    const rtp = sent.filter((p) => p[1]! < 200 || p[1]! > 206);
    expect(rtp.length).toBe(40);
    for (const p of rtp) expect(p[1]! & 0x7f).toBe(109);
    expect(out.packetsSent).toBe(40);
  });

  it('answers a generic NACK with the packets it lists (PID and the bitmask), from its history', () => {
    const { out, sent, format } = setup();
    const rtp = sent.filter((p) => p[1]! < 200 || p[1]! > 206);
    const first = rtp[10]!.readUInt16BE(2);
    const before = sent.length;
    // PID = the 11th packet, bitmask bits 0 and 2: it and the 12th and 14th.
    out.retransmit(nack(format.ssrcOf('audio')!, first, 0b101), 0, 16);
    const again = sent.slice(before);
    expect(again.map((p) => p.readUInt16BE(2))).toEqual([first, (first + 1) & 0xffff, (first + 3) & 0xffff]);
    expect(again.map((p) => p.subarray(12).toString('hex'))).toEqual([rtp[10], rtp[11], rtp[13]].map((p) => p!.subarray(12).toString('hex')));
    for (const p of again) expect(p[1]! & 0x7f).toBe(109);
    expect(out.retransmitted).toBe(3);
  });

  it('ignores NACKs for another SSRC and for packets it no longer has', () => {
    const { out, sent, format } = setup();
    const before = sent.length;
    out.retransmit(nack(12345, 0, 0xffff), 0, 16);
    const rtp = sent.filter((p) => p[1]! < 200 || p[1]! > 206);
    out.retransmit(nack(format.ssrcOf('audio')!, (rtp[0]!.readUInt16BE(2) - 600) & 0xffff, 0), 0, 16);
    expect(sent.length).toBe(before);
    expect(out.retransmitted).toBe(0);
  });
});

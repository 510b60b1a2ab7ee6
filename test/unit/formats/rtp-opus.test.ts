import { describe, expect, it } from 'vitest';
import { OPUS_CLOCK_RATE, OpusDepacketizer, packetizeOpus } from '../../../gateway/formats/rtp/audio.js';
import { buildRtp, parseRtp, type RtpPacket } from '../../../gateway/formats/rtp/rtp.js';
import { buildSdp, mediaTracks, parseSdp } from '../../../gateway/formats/rtp/sdp.js';
import { opusTrack } from '../../../gateway/formats/tracks.js';

/** An Opus packet: TOC byte (RFC 6716 §3.1) then a recognizable body. */
function opusPacket(toc: number, size: number, seed = 1): Buffer {
  const b = Buffer.alloc(size);
  b[0] = toc;
  for (let i = 1; i < size; i++) b[i] = (i * 13 + seed) & 0xff;
  return b;
}

function rtp(payload: Buffer, sequence: number, timestamp: number): RtpPacket {
  return parseRtp(buildRtp({ marker: false, payloadType: 111, sequence, timestamp, ssrc: 7 }, payload));
}

function depacketize(packets: RtpPacket[]) {
  const frames: { payload: Buffer; ts: number }[] = [];
  const losses: string[] = [];
  const d = new OpusDepacketizer({ frame: (payload, ts) => frames.push({ payload: Buffer.from(payload), ts }), lost: (r) => losses.push(r) });
  for (const p of packets) d.push(p);
  return { d, frames, losses };
}

describe('Opus packetize → depacketize (RFC 7587 §4.2)', () => {
  const cases = [
    // TOC config 31 (CELT FB 20 ms), stereo, code 0: the usual libopus packet.
    { name: 'one 20 ms CELT packet', packets: [opusPacket(0xfc, 160)], step: 960 },
    // SILK NB 10 ms mono packets, tiny (DTX-like) payloads.
    { name: 'small SILK packets', packets: [opusPacket(0x00, 3), opusPacket(0x00, 1), opusPacket(0x00, 2)], step: 480 },
    // Code 3 (several frames in one packet) stays one payload: never split (§4.2).
    { name: 'a code-3 multi-frame packet stays whole', packets: [opusPacket(0xfb, 1275 * 2 + 3)], step: 5760 },
    { name: 'packets across the sequence and timestamp wrap', packets: [opusPacket(0xfc, 100), opusPacket(0xfc, 90, 2), opusPacket(0xfc, 80, 3)], step: 960 },
  ];
  it.each(cases)('$name', ({ packets, step }) => {
    const base = 0xffffffff - step;
    const rtps = packets.map((p, i) => rtp(packetizeOpus(p), (65535 + i) & 0xffff, (base + i * step) >>> 0));
    const { d, frames, losses } = depacketize(rtps);
    expect(frames.map((f) => f.payload)).toEqual(packets);
    expect(frames.map((f) => f.ts)).toEqual(packets.map((_, i) => (base + i * step) >>> 0));
    expect(losses).toEqual([]);
    expect(d.lostPackets).toBe(0);
  });

  it('the payload is the Opus packet itself, not a copy', () => {
    const p = opusPacket(0xfc, 40);
    expect(packetizeOpus(p)).toBe(p);
  });

  it('counts lost packets and keeps the ones that arrive', () => {
    const rtps = [0, 1, 4, 5].map((i) => rtp(opusPacket(0xfc, 20, i), 100 + i, i * 960));
    const { d, frames } = depacketize(rtps);
    expect(frames.map((f) => f.ts)).toEqual([0, 960, 3840, 4800]);
    expect(d.lostPackets).toBe(2);
  });

  it('drops late and duplicate packets', () => {
    const rtps = [rtp(opusPacket(0xfc, 20), 10, 0), rtp(opusPacket(0xfc, 20), 11, 960), rtp(opusPacket(0xfc, 20), 10, 0)];
    const { frames } = depacketize(rtps);
    expect(frames).toHaveLength(2);
  });

  it('refuses an empty payload (RFC 6716 §3.4 R1) and counts it', () => {
    const { d, frames, losses } = depacketize([rtp(Buffer.alloc(0), 1, 0), rtp(opusPacket(0xfc, 20), 2, 960)]);
    expect(frames.map((f) => f.ts)).toEqual([960]);
    expect(d.badPackets).toBe(1);
    expect(losses).toEqual(['empty Opus payload']);
  });
});

describe('Opus in SDP (RFC 7587 §6-7)', () => {
  const cases = [
    { name: "ffmpeg's stereo announce", lines: ['a=rtpmap:97 opus/48000/2', 'a=fmtp:97 sprop-stereo=1'], pt: 97, channels: 2 },
    { name: 'mono: no fmtp', lines: ['a=rtpmap:111 opus/48000/2'], pt: 111, channels: 1 },
    { name: 'mono: sprop-stereo=0 among other parameters', lines: ['a=rtpmap:111 OPUS/48000/2', 'a=fmtp:111 minptime=10;useinbandfec=1; sprop-stereo=0'], pt: 111, channels: 1 },
    { name: 'browser-style fmtp with stereo', lines: ['a=rtpmap:109 opus/48000/2', 'a=fmtp:109 maxplaybackrate=48000;stereo=1;sprop-stereo=1'], pt: 109, channels: 2 },
  ];
  it.each(cases)('parses $name', ({ lines, pt, channels }) => {
    const sdp = ['v=0', `m=audio 0 RTP/AVP ${pt}`, ...lines, 'a=control:streamid=1', ''].join('\r\n');
    const [t] = mediaTracks(parseSdp(sdp));
    expect(t).toMatchObject({ codec: 'OPUS', clockRate: OPUS_CLOCK_RATE, media: { payloadType: pt, control: 'streamid=1' } });
    expect(t!.track).toEqual(opusTrack(channels));
  });

  it('refuses an Opus clock other than 48000', () => {
    const sdp = 'v=0\r\nm=audio 0 RTP/AVP 111\r\na=rtpmap:111 opus/16000/1\r\n';
    expect(() => mediaTracks(parseSdp(sdp))).toThrow(/unsupported codec OPUS\/16000 .*supported: .*OPUS/);
  });

  it.each([1, 2])('buildSdp round-trips a %i-channel Opus track', (channels) => {
    const sdp = buildSdp([opusTrack(channels)], 'live/x');
    expect(sdp).toContain('a=rtpmap:111 opus/48000/2\r\n');
    expect(sdp).toContain(`a=fmtp:111 sprop-stereo=${channels === 2 ? 1 : 0}\r\n`);
    const [t] = mediaTracks(parseSdp(sdp));
    expect(t!.track).toEqual(opusTrack(channels));
  });
});

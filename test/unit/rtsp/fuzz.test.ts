/**
 * Mutation fuzzing seeded by valid wire data: whatever a peer sends, parsers either succeed or
 * throw the gateway's own errors (which close one session), and depacketizers never throw.
 */
import { describe, expect, it } from 'vitest';
import { StreamgateError } from '../../../gateway/core/errors.js';
import { parseTransport, RtspParser } from '../../../gateway/protocols/rtsp/message.js';
import { AAC_HBR, AacDepacketizer, OpusDepacketizer, packetizeAac, packetizeOpus } from '../../../gateway/formats/rtp/audio.js';
import { opusPacketSamples } from '../../../gateway/codecs/opus.js';
import { packetizeVideo, VideoDepacketizer } from '../../../gateway/formats/rtp/video.js';
import { buildRtp, parseRtp } from '../../../gateway/formats/rtp/rtp.js';
import { mediaTracks, parseSdp } from '../../../gateway/formats/rtp/sdp.js';

/** Small deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(buf: Buffer, r: () => number): Buffer {
  const out = Buffer.from(buf);
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n && out.length > 0; i++) {
    const kind = r();
    const at = Math.floor(r() * out.length);
    if (kind < 0.6) out[at] = Math.floor(r() * 256);
    else if (kind < 0.8) return out.subarray(0, at);
    else return Buffer.concat([out.subarray(0, at), Buffer.from([Math.floor(r() * 256)]), out.subarray(at)]);
  }
  return out;
}

const ITERATIONS = 2000;

describe('fuzz', () => {
  it('video depacketizers survive mutated packets', () => {
    const r = rng(1);
    for (const codec of ['H264', 'H265'] as const) {
      const hdr = codec === 'H264' ? [0x65] : [0x26, 0x01];
      const small = codec === 'H264' ? [0x67] : [0x42, 0x01];
      const nalus = [Buffer.from([...small, 1, 2, 3]), Buffer.concat([Buffer.from(hdr), Buffer.alloc(3000, 7)])];
      const payloads = packetizeVideo(codec, nalus, 1000);
      const d = new VideoDepacketizer(codec, { accessUnit: () => {}, lost: () => {} });
      for (let i = 0; i < ITERATIONS; i++) {
        const p = payloads[i % payloads.length]!;
        const pkt = buildRtp({ marker: i % payloads.length === payloads.length - 1, payloadType: 96, sequence: i & 0xffff, timestamp: Math.floor(i / payloads.length) * 3600, ssrc: 1 }, mutate(p, r));
        expect(() => d.push(parseRtp(pkt))).not.toThrow();
      }
    }
  });

  it('the AAC depacketizer survives mutated packets', () => {
    const r = rng(2);
    const packets = packetizeAac([Buffer.alloc(300, 1), Buffer.alloc(200, 2), Buffer.alloc(3000, 3)], 1000);
    const d = new AacDepacketizer(AAC_HBR, { frame: () => {}, lost: () => {} });
    for (let i = 0; i < ITERATIONS; i++) {
      const p = packets[i % packets.length]!;
      expect(() => d.push(parseRtp(buildRtp({ marker: p.last, payloadType: 97, sequence: i & 0xffff, timestamp: i * 1024, ssrc: 1 }, mutate(p.payload, r))))).not.toThrow();
    }
  });

  it('the Opus depacketizer and packet-duration reader survive mutated packets', () => {
    const r = rng(4);
    const packets = [Buffer.from([0xfc, 1, 2, 3]), Buffer.from([0xfb, 6, 9, 9]), Buffer.from([0x00, 7])];
    const d = new OpusDepacketizer({ frame: () => {}, lost: () => {} });
    for (let i = 0; i < ITERATIONS; i++) {
      const p = mutate(packetizeOpus(packets[i % packets.length]!), r);
      expect(() => d.push(parseRtp(buildRtp({ marker: false, payloadType: 111, sequence: i & 0xffff, timestamp: i * 960, ssrc: 1 }, p)))).not.toThrow();
      const samples = opusPacketSamples(p);
      expect(samples >= 120 && samples <= 5760).toBe(true);
    }
  });

  it('RTP, RTSP, SDP and Transport parsers throw only gateway errors', () => {
    const r = rng(3);
    const rtp = buildRtp({ marker: true, payloadType: 96, sequence: 1, timestamp: 2, ssrc: 3 }, Buffer.alloc(20, 1));
    const rtsp = Buffer.from('ANNOUNCE rtsp://h/a/b RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 4\r\n\r\nv=0\n$\x00\x00\x02ab');
    const sdp = Buffer.from('v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 sprop-parameter-sets=Z0IAHpWoKA9puAgICBA=,aM48gA==\r\nm=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/44100/2\r\na=fmtp:97 mode=AAC-hbr;config=1210\r\nm=audio 0 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 sprop-stereo=1\r\n');
    const transport = Buffer.from('RTP/AVP/TCP;unicast;interleaved=0-1, RTP/AVP;client_port=5000-5001');
    const gatewayErrorsOnly = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        if (!(error instanceof StreamgateError)) throw error;
      }
    };
    for (let i = 0; i < ITERATIONS; i++) {
      gatewayErrorsOnly(() => parseRtp(mutate(rtp, r)));
      gatewayErrorsOnly(() => new RtspParser({ message: () => {}, interleaved: () => {} }).push(mutate(rtsp, r)));
      gatewayErrorsOnly(() => mediaTracks(parseSdp(mutate(sdp, r).toString('latin1'))));
      gatewayErrorsOnly(() => parseTransport(mutate(transport, r).toString('latin1')));
    }
  });
});

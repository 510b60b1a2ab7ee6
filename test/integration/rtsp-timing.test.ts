/**
 * RTSP ingest timing that stock tools do not produce on demand, so the pusher is scripted
 * (ANNOUNCE/SETUP/RECORD over a real socket, real RTP/RTCP):
 *  - A/V sync by the sender's RTCP clock. Real encoders send audio later than the video captured
 *    with it (audio buffers, separate DSPs): here audio is always 500 ms behind its video, with
 *    sender reports first (as ffmpeg sends them).
 *  - UDP packets that arrive out of order are put back in sequence instead of counted as loss.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packetizeVideo } from '../../gateway/formats/rtp/video.js';
import { buildRtp, RTCP_SR_SIZE, writeRtcpSenderReport } from '../../gateway/formats/rtp/rtp.js';
import { isSequenceHeaderTag, readFlv } from '../helpers/flv-client.js';
import { sleep, startGateway, type TestGateway, waitFor } from '../helpers/gateway.js';
import { rawRtsp, type RawRtsp, type RtspAnswer } from '../helpers/rtsp-client.js';
import { H264_SPS_CASES, hex } from '../unit/codecs/vectors.js';

const SDP = [
  'v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=sync', 't=0 0',
  'm=video 0 RTP/AVP 96', 'a=rtpmap:96 H264/90000', 'a=control:streamid=0',
  'm=audio 0 RTP/AVP 8', 'a=rtpmap:8 PCMA/8000', 'a=control:streamid=1', '',
].join('\r\n');

/** ANNOUNCE, one SETUP per transport (streamid=i), RECORD; returns the SETUP answers. */
async function record(client: RawRtsp, url: string, sdp: string, transports: string[]): Promise<RtspAnswer[]> {
  const expectOk = (a: RtspAnswer) => {
    expect(a.status, a.head).toBe(200);
    return a;
  };
  expectOk(await client.request('ANNOUNCE', url, ['Content-Type: application/sdp'], sdp));
  const setups: RtspAnswer[] = [];
  for (const [i, transport] of transports.entries()) {
    const session = setups[0]?.session;
    setups.push(expectOk(await client.request('SETUP', `${url}/streamid=${i}`, [...(session ? [`Session: ${session}`] : []), `Transport: ${transport}`])));
  }
  expectOk(await client.request('RECORD', url, [`Session: ${setups[0]!.session}`]));
  return setups;
}

/** RTP packets of H.264 frame `f` (25 fps, a keyframe every 25), `size`-byte slices. */
function videoPackets(f: number, size: number, seq: { next: number }, ssrc: number, timestamp: number): Buffer[] {
  const sps = hex(H264_SPS_CASES[0]!.sps);
  const pps = hex(H264_SPS_CASES[0]!.pps);
  const nalus = f % 25 === 0 ? [sps, pps, Buffer.concat([Buffer.from([0x65]), Buffer.alloc(size, 1)])] : [Buffer.concat([Buffer.from([0x41]), Buffer.alloc(size, 2)])];
  const payloads = packetizeVideo('H264', nalus, 1400);
  return payloads.map((p, i) => buildRtp({ marker: i === payloads.length - 1, payloadType: 96, sequence: seq.next++ & 0xffff, timestamp, ssrc }, p));
}

function senderReport(ssrc: number, ntpMs: number, rtpTimestamp: number): Buffer {
  const out = Buffer.alloc(RTCP_SR_SIZE);
  writeRtcpSenderReport(out, 0, ssrc, ntpMs, rtpTimestamp, 0, 0);
  return out;
}

describe('RTSP ingest timing from a scripted pusher', () => {
  let g: TestGateway;
  let client: RawRtsp | undefined;

  beforeAll(async () => {
    g = await startGateway({});
  });

  afterAll(async () => {
    client?.close();
    await g?.stop();
  });

  it('gives audio that arrives 500 ms late the time it was captured, by the pusher\'s clock', async () => {
    const url = `${g.rtsp}/live/sync`;
    const c = (client = await rawRtsp(Number(new URL(g.rtsp).port)));
    await record(c, url, SDP, ['RTP/AVP/TCP;unicast;interleaved=0-1;mode=record', 'RTP/AVP/TCP;unicast;interleaved=2-3;mode=record']);
    const cap = readFlv(`${g.http}/live/sync.flv`);

    // Both tracks' first samples were captured at t0; video RTP starts at 1000, audio at 5000.
    const t0 = Date.now();
    c.interleave(1, senderReport(1, t0, 1000));
    c.interleave(3, senderReport(2, t0, 5000));
    const vseq = { next: 0 };
    let aseq = 0;
    let video = 0;
    let audio = 0;
    await new Promise<void>((done) => {
      const tick = setInterval(() => {
        const elapsed = Date.now() - t0;
        while (video * 40 <= elapsed) {
          for (const packet of videoPackets(video, video % 25 === 0 ? 2000 : 300, vseq, 1, 1000 + video * 3600)) c.interleave(0, packet);
          video++;
        }
        // Audio captured at 20j ms leaves at 500 + 20j ms.
        while (500 + audio * 20 <= elapsed) {
          c.interleave(2, buildRtp({ marker: false, payloadType: 8, sequence: aseq++ & 0xffff, timestamp: 5000 + audio * 160, ssrc: 2 }, Buffer.alloc(160, 0xd5)));
          audio++;
        }
        if (elapsed > 2000) {
          clearInterval(tick);
          done();
        }
      }, 5);
    });
    await waitFor('audio read back', () => cap.tags.some((t) => t.type === 8 && !isSequenceHeaderTag(t)), 3000);
    await sleep(100);
    cap.close();
    const media = cap.tags.filter((t) => (t.type === 8 || t.type === 9) && !isSequenceHeaderTag(t));
    const firstVideo = media.find((t) => t.type === 9)!.timestamp;
    const firstAudio = media.find((t) => t.type === 8)!.timestamp;
    // By arrival the first audio would sit 500 ms after the first video; by the clock, with it.
    expect(Math.abs(firstAudio - firstVideo)).toBeLessThan(60);
    const newest = (type: number) => Math.max(...media.filter((t) => t.type === type).map((t) => t.timestamp));
    expect(newest(9) - newest(8)).toBeGreaterThan(400); // the stream carries audio as late as it came
  });

  it('puts UDP packets that arrive out of order back in sequence: every frame arrives, none is lost', async () => {
    const url = `${g.rtsp}/live/udp`;
    const control = await rawRtsp(Number(new URL(g.rtsp).port));
    const udp: UdpSocket = createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    const local = udp.address().port;
    try {
      const videoOnly = SDP.slice(0, SDP.indexOf('m=audio'));
      const [setup] = await record(control, url, videoOnly, [`RTP/AVP;unicast;client_port=${local}-${local + 1};mode=record`]);
      const serverPort = Number(/server_port=(\d+)/.exec(setup!.header('Transport')!)![1]);
      // 40 frames at 25 fps, keyframes every 25; every frame 3 packets (FU-A), sent in the order
      // 1, 0, 2 within each frame and with the frames' last and next first packets swapped.
      const seq = { next: 0 };
      const packets = Array.from({ length: 40 }, (_, f) => videoPackets(f, 3000, seq, 3, f * 3600)).flat();
      const order = packets.map((_, i) => i);
      for (let i = 1; i + 1 < order.length; i += 3) [order[i], order[i + 1]] = [order[i + 1]!, order[i]!];
      for (let i = 0; i < order.length; i += 4) {
        for (const k of order.slice(i, i + 4)) udp.send(packets[k]!, serverPort, '127.0.0.1');
        await sleep(10);
      }
      await sleep(300);
      const stream = g.gw.registry.get('live/udp')!;
      expect(stream.videoFramesIn).toBe(40);
      expect(stream.droppedFrames).toBe(0);
    } finally {
      control.close();
      udp.close();
    }
  });
});

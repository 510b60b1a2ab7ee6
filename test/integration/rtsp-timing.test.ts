/**
 * RTSP ingest timing that stock tools do not produce on demand, so the pusher is scripted
 * (ANNOUNCE/SETUP/RECORD over a real socket, real RTP/RTCP):
 *  - A/V sync by the sender's RTCP clock. Real encoders send audio later than the video captured
 *    with it (audio buffers, separate DSPs): here audio is always 500 ms behind its video, with
 *    sender reports first (as ffmpeg sends them).
 *  - UDP packets that arrive out of order are put back in sequence instead of counted as loss.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packetizeVideo } from '../../gateway/protocols/rtsp/rtp-video.js';
import { buildRtp, RTCP_SR_SIZE, writeRtcpSenderReport } from '../../gateway/protocols/rtsp/rtp.js';
import { isSequenceHeaderTag, readFlv } from '../helpers/flv-client.js';
import { sleep, startGateway, type TestGateway, waitFor } from '../helpers/gateway.js';
import { H264_SPS_CASES, hex } from '../unit/codecs/vectors.js';

const SDP = [
  'v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=sync', 't=0 0',
  'm=video 0 RTP/AVP 96', 'a=rtpmap:96 H264/90000', 'a=control:streamid=0',
  'm=audio 0 RTP/AVP 8', 'a=rtpmap:8 PCMA/8000', 'a=control:streamid=1', '',
].join('\r\n');

/** One request, its answer (headers only: the gateway's answers here carry no body). */
function request(socket: Socket, lines: string[], body = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString('latin1');
      if (text.includes('\r\n\r\n')) {
        socket.off('data', onData);
        if (!text.startsWith('RTSP/1.0 200')) reject(new Error(text.split('\r\n')[0]));
        else resolve(text);
      }
    };
    socket.on('data', onData);
    if (body) lines.push(`Content-Type: application/sdp`, `Content-Length: ${Buffer.byteLength(body)}`);
    socket.write(lines.join('\r\n') + '\r\n\r\n' + body);
  });
}

function interleaved(channel: number, packet: Buffer): Buffer {
  const head = Buffer.from([0x24, channel, 0, 0]);
  head.writeUInt16BE(packet.length, 2);
  return Buffer.concat([head, packet]);
}

function senderReport(ssrc: number, ntpMs: number, rtpTimestamp: number): Buffer {
  const out = Buffer.alloc(RTCP_SR_SIZE);
  writeRtcpSenderReport(out, 0, ssrc, ntpMs, rtpTimestamp, 0, 0);
  return out;
}

describe('RTSP ingest A/V sync by RTCP sender reports', () => {
  let g: TestGateway;
  let socket: Socket;

  beforeAll(async () => {
    g = await startGateway({});
  });

  afterAll(async () => {
    socket?.destroy();
    await g?.stop();
  });

  it('gives audio that arrives 500 ms late the time it was captured, by the pusher\'s clock', async () => {
    const url = `${g.rtsp}/live/sync`;
    socket = connect(Number(new URL(g.rtsp).port), '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    await request(socket, [`ANNOUNCE ${url} RTSP/1.0`, 'CSeq: 1'], SDP);
    const setup = await request(socket, [`SETUP ${url}/streamid=0 RTSP/1.0`, 'CSeq: 2', 'Transport: RTP/AVP/TCP;unicast;interleaved=0-1;mode=record']);
    const session = /Session: ([^;\r\n]+)/.exec(setup)![1]!;
    await request(socket, [`SETUP ${url}/streamid=1 RTSP/1.0`, 'CSeq: 3', `Session: ${session}`, 'Transport: RTP/AVP/TCP;unicast;interleaved=2-3;mode=record']);
    await request(socket, [`RECORD ${url} RTSP/1.0`, 'CSeq: 4', `Session: ${session}`]);
    const cap = readFlv(`${g.http}/live/sync.flv`);

    // Both tracks' first samples were captured at t0; video RTP starts at 1000, audio at 5000.
    const t0 = Date.now();
    socket.write(interleaved(1, senderReport(1, t0, 1000)));
    socket.write(interleaved(3, senderReport(2, t0, 5000)));
    const sps = hex(H264_SPS_CASES[0]!.sps);
    const pps = hex(H264_SPS_CASES[0]!.pps);
    let vseq = 0;
    let aseq = 0;
    let video = 0;
    let audio = 0;
    await new Promise<void>((done) => {
      const tick = setInterval(() => {
        const elapsed = Date.now() - t0;
        while (video * 40 <= elapsed) {
          const nalus = video % 25 === 0 ? [sps, pps, Buffer.concat([Buffer.from([0x65]), Buffer.alloc(2000, 1)])] : [Buffer.concat([Buffer.from([0x41]), Buffer.alloc(300, 2)])];
          const packets = packetizeVideo('H264', nalus, 1400);
          packets.forEach((p, i) => socket.write(interleaved(0, buildRtp({ marker: i === packets.length - 1, payloadType: 96, sequence: vseq++ & 0xffff, timestamp: 1000 + video * 3600, ssrc: 1 }, p))));
          video++;
        }
        // Audio captured at 20j ms leaves at 500 + 20j ms.
        while (500 + audio * 20 <= elapsed) {
          socket.write(interleaved(2, buildRtp({ marker: false, payloadType: 8, sequence: aseq++ & 0xffff, timestamp: 5000 + audio * 160, ssrc: 2 }, Buffer.alloc(160, 0xd5))));
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
    const control = connect(Number(new URL(g.rtsp).port), '127.0.0.1');
    const udp: UdpSocket = createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    const local = udp.address().port;
    try {
      await new Promise((r) => control.once('connect', r));
      const videoOnly = SDP.slice(0, SDP.indexOf('m=audio'));
      await request(control, [`ANNOUNCE ${url} RTSP/1.0`, 'CSeq: 1'], videoOnly);
      const setup = await request(control, [`SETUP ${url}/streamid=0 RTSP/1.0`, 'CSeq: 2', `Transport: RTP/AVP;unicast;client_port=${local}-${local + 1};mode=record`]);
      const session = /Session: ([^;\r\n]+)/.exec(setup)![1]!;
      const serverPort = Number(/server_port=(\d+)/.exec(setup)![1]);
      await request(control, [`RECORD ${url} RTSP/1.0`, 'CSeq: 3', `Session: ${session}`]);
      const sps = hex(H264_SPS_CASES[0]!.sps);
      const pps = hex(H264_SPS_CASES[0]!.pps);
      // 40 frames at 25 fps, keyframes every 25; every frame 3 packets (FU-A), sent in the order
      // 1, 0, 2 within each frame and with the frames' last and next first packets swapped.
      const packets: Buffer[] = [];
      let seq = 0;
      for (let f = 0; f < 40; f++) {
        const nalus = f % 25 === 0 ? [sps, pps, Buffer.concat([Buffer.from([0x65]), Buffer.alloc(3000, 1)])] : [Buffer.concat([Buffer.from([0x41]), Buffer.alloc(3000, 2)])];
        const payloads = packetizeVideo('H264', nalus, 1400);
        payloads.forEach((p, i) => packets.push(buildRtp({ marker: i === payloads.length - 1, payloadType: 96, sequence: seq++ & 0xffff, timestamp: f * 3600, ssrc: 3 }, p)));
      }
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
      control.destroy();
      udp.close();
    }
  });
});

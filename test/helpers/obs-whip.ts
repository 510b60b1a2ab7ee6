/**
 * A WHIP publisher built the way OBS Studio's WHIP output is (plugins/obs-webrtc/whip-output.cpp,
 * read for this, not copied): libdatachannel, audio mid "0" Opus payload type 111, video mid "1"
 * H.264 payload type 96, one random SSRC base (video = base + 1), each track's handler chain
 * packetizer → RTCP sender reporter → NACK responder, the offer POSTed as soon as the local
 * description is set, `Authorization: Bearer`, DELETE on the Location at the end. OBS itself
 * cannot run here; this is its WebRTC stack driven with its settings.
 *
 * Media: one ffmpeg makes H.264 (Annex B with access unit delimiters, on stdout, cut into access
 * units here) and Opus (RTP to a local port, payloads re-sent through the packetizer), both
 * paced in real time.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import nodeDataChannel from 'node-datachannel';
import { freeUdpPort } from './webrtc-client.js';

const { PeerConnection, Video, Audio, RtpPacketizationConfig, RtpPacketizer, H264RtpPacketizer, RtcpSrReporter, RtcpNackResponder } = nodeDataChannel;

export interface ObsWhip {
  readonly status: number;
  readonly location: string | null;
  readonly answer: string;
  /** Resolves when the peer connection is connected. */
  readonly connected: Promise<void>;
  /** Access units and Opus packets handed to the packetizers. */
  readonly sent: { videoFrames: number; audioPackets: number };
  /** Stops the media, closes the peer connection and DELETEs the resource (like OBS's Stop). */
  stop(): Promise<number | undefined>;
}

export interface ObsWhipOptions {
  token?: string;
  size?: string;
  seconds?: number;
  /** Rewrite the answer's candidates to 127.0.0.1:`via` (a relay in between, see udp-relay.ts). */
  via?: number;
}

const AUD = Buffer.from([0, 0, 0, 1, 9]);

export async function obsWhip(url: string, o: ObsWhipOptions = {}): Promise<ObsWhip> {
  const pc = new PeerConnection('obs-like', { iceServers: [], bindAddress: '127.0.0.1' });
  let connectedResolve!: () => void;
  const connected = new Promise<void>((r) => (connectedResolve = r));
  pc.onStateChange((s) => s === 'connected' && connectedResolve());

  const base = randomInt(1, 0x7fffffff);
  const cname = 'obs' + base.toString(36);
  const msid = 'ms' + base.toString(36);

  const audioDesc = new Audio('0', 'SendOnly');
  audioDesc.addOpusCodec(111);
  audioDesc.addSSRC(base, cname, msid, `${msid}-audio`);
  const audio = pc.addTrack(audioDesc);
  const audioConfig = new RtpPacketizationConfig(base, cname, 111, 48000);
  const audioPacketizer = new RtpPacketizer(audioConfig);
  audioPacketizer.addToChain(new RtcpSrReporter(audioConfig));
  audioPacketizer.addToChain(new RtcpNackResponder());
  audio.setMediaHandler(audioPacketizer);

  const videoDesc = new Video('1', 'SendOnly');
  videoDesc.addSSRC(base + 1, cname, msid, `${msid}-video`);
  videoDesc.addH264Codec(96);
  const video = pc.addTrack(videoDesc);
  const videoConfig = new RtpPacketizationConfig(base + 1, cname, 96, 90000);
  const videoPacketizer = new H264RtpPacketizer('StartSequence', videoConfig, 1200);
  videoPacketizer.addToChain(new RtcpSrReporter(videoConfig));
  videoPacketizer.addToChain(new RtcpNackResponder());
  video.setMediaHandler(videoPacketizer);

  pc.setLocalDescription();
  const offer = pc.localDescription()!.sdp;
  const headers: Record<string, string> = { 'Content-Type': 'application/sdp' };
  if (o.token) headers.Authorization = `Bearer ${o.token}`;
  const res = await fetch(url, { method: 'POST', headers, body: offer });
  let answer = await res.text();
  const location = res.headers.get('Location');
  const sent = { videoFrames: 0, audioPackets: 0 };
  if (res.status !== 201) {
    pc.close();
    return { status: res.status, location, answer, connected, sent, stop: async () => undefined };
  }
  if (o.via !== undefined) {
    answer = answer
      .split('\r\n')
      .map((l) => (l.startsWith('a=candidate:') ? l.replace(/^(a=candidate:\S+ \d+ \S+ \d+ )\S+ \d+/, (_, head: string) => `${head}127.0.0.1 ${o.via}`) : l))
      .join('\r\n');
  }
  pc.setRemoteDescription(answer, 'answer');

  // Media, once connected: H.264 access units from ffmpeg's stdout, Opus payloads from its RTP.
  const opusPort = await freeUdpPort();
  const opusSocket = createSocket('udp4');
  await new Promise<void>((r) => opusSocket.bind(opusPort, '127.0.0.1', () => r()));
  let firstOpusTs = -1;
  opusSocket.on('message', (pkt) => {
    if (pkt.length <= 12 || !audio.isOpen()) return;
    const ts = pkt.readUInt32BE(4);
    if (firstOpusTs < 0) firstOpusTs = ts;
    const headerLength = 12 + 4 * (pkt[0]! & 0x0f);
    audioConfig.timestamp = (ts - firstOpusTs) >>> 0;
    try {
      audio.sendMessageBinary(pkt.subarray(headerLength));
      sent.audioPackets++;
    } catch {
      // closing
    }
  });
  const ffmpeg: ChildProcess = spawn(
    'ffmpeg',
    [
      '-hide_banner', '-loglevel', 'error', '-re',
      '-f', 'lavfi', '-i', `testsrc2=size=${o.size ?? '640x360'}:rate=25`,
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', String(o.seconds ?? 30),
      '-map', '0:v', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p',
      '-g', '50', '-x264-params', 'aud=1', '-bsf:v', 'h264_mp4toannexb', '-f', 'h264', 'pipe:1',
      '-map', '1:a', '-c:a', 'libopus', '-b:a', '48k', '-frame_duration', '20', '-f', 'rtp', `rtp://127.0.0.1:${opusPort}`,
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let pending: Buffer = Buffer.alloc(0);
  let frame = 0;
  const sendAccessUnit = (au: Buffer) => {
    if (!video.isOpen()) return;
    videoConfig.timestamp = (frame++ * 3600) >>> 0;
    try {
      video.sendMessageBinary(au);
      sent.videoFrames++;
    } catch {
      // closing
    }
  };
  ffmpeg.stdout!.on('data', (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    for (;;) {
      const next = pending.indexOf(AUD, 1);
      if (next < 0) break;
      sendAccessUnit(pending.subarray(0, next));
      pending = pending.subarray(next);
    }
  });

  return {
    status: res.status,
    location,
    answer,
    connected,
    sent,
    async stop() {
      ffmpeg.kill('SIGKILL');
      opusSocket.close();
      pc.close();
      if (!location) return undefined;
      const del = await fetch(new URL(location, url), { method: 'DELETE', headers: o.token ? { Authorization: `Bearer ${o.token}` } : {} });
      return del.status;
    },
  };
}

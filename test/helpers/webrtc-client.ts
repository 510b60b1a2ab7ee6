/**
 * A WHEP client outside the browser: libdatachannel (node-datachannel) as the offering peer, a
 * real ICE/DTLS-SRTP endpoint, light enough to run 50 of them next to the gateway. It counts
 * what arrives: RTP packets per track, video frames (marker bits), keyframes (IDR in the first
 * packet of a frame) and sequence gaps.
 */
import { createSocket } from 'node:dgram';
import nodeDataChannel from 'node-datachannel';

const { PeerConnection, Video, Audio, RtcpReceivingSession } = nodeDataChannel;

export interface TrackCounters {
  packets: number;
  bytes: number;
  /** Video: frames ended by a marker bit. */
  frames: number;
  keyframes: number;
  gaps: number;
  payloadType: number;
}

export interface WhepClient {
  status: number;
  location: string | null;
  answer: string;
  video: TrackCounters;
  audio: TrackCounters;
  connected: Promise<void>;
  close(): void;
}

function counters(): TrackCounters {
  return { packets: 0, bytes: 0, frames: 0, keyframes: 0, gaps: 0, payloadType: -1 };
}

/** H.264 NAL type of an RTP payload's first NAL unit (STAP-A and FU-A looked into). */
function firstNalType(payload: Buffer): number {
  const t = payload[0]! & 0x1f;
  if (t === 24 && payload.length > 3) return payload[3]! & 0x1f;
  if (t === 28 && payload.length > 1) return payload[1]! & 0x1f;
  return t;
}

/**
 * Offers to receive H.264 (payload type 102) and, unless `audio` is false, PCMA, PCMU and Opus;
 * POSTs the offer to `url` with `headers`. The SDP can be altered by `mangle` (negative tests).
 */
export async function whepClient(url: string, opts: { audio?: boolean; video?: boolean; headers?: Record<string, string>; mangle?: (sdp: string) => string; videoCodec?: 'H264' | 'VP8' } = {}): Promise<WhepClient> {
  const pc = new PeerConnection('test-client', { iceServers: [], bindAddress: '127.0.0.1' });
  const video = counters();
  const audio = counters();
  let connectedResolve!: () => void;
  const connected = new Promise<void>((r) => (connectedResolve = r));
  pc.onStateChange((s) => {
    if (s === 'connected') connectedResolve();
  });
  const gathered = new Promise<void>((resolve) => {
    pc.onGatheringStateChange((s) => s === 'complete' && resolve());
    setTimeout(resolve, 2000);
  });
  if (opts.video !== false) {
    const v = new Video('0', 'RecvOnly');
    if (opts.videoCodec === 'VP8') v.addVP8Codec(96);
    else v.addH264Codec(102, 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f');
    const vt = pc.addTrack(v);
    // Receiver reports, as a browser sends them (the gateway's RTT and its liveness check).
    vt.setMediaHandler(new RtcpReceivingSession());
    let expected = -1;
    let frameStart = true;
    vt.onMessage((msg) => {
      const type = msg[1]! & 0x7f;
      if (msg.length < 12 || (msg[1]! >= 200 && msg[1]! <= 206)) return;
      video.packets++;
      video.bytes += msg.length;
      video.payloadType = type;
      const seq = msg.readUInt16BE(2);
      if (expected >= 0 && seq !== expected) video.gaps++;
      expected = (seq + 1) & 0xffff;
      const headerLength = 12 + (msg[0]! & 0x0f) * 4 + (msg[0]! & 0x10 ? 4 + msg.readUInt16BE(12 + (msg[0]! & 0x0f) * 4 + 2) * 4 : 0);
      if (frameStart) {
        const nal = firstNalType(msg.subarray(headerLength));
        if (nal === 5 || nal === 7) video.keyframes++;
      }
      frameStart = (msg[1]! & 0x80) !== 0;
      if (frameStart) video.frames++;
    });
  }
  if (opts.audio !== false) {
    const a = new Audio('1', 'RecvOnly');
    a.addOpusCodec(111);
    a.addAudioCodec(8, 'PCMA/8000/1');
    a.addAudioCodec(0, 'PCMU/8000/1');
    const at = pc.addTrack(a);
    at.setMediaHandler(new RtcpReceivingSession());
    at.onMessage((msg) => {
      if (msg.length < 12 || (msg[1]! >= 200 && msg[1]! <= 206)) return;
      audio.packets++;
      audio.bytes += msg.length;
      audio.payloadType = msg[1]! & 0x7f;
    });
  }
  pc.setLocalDescription();
  await gathered;
  let offer = pc.localDescription()!.sdp;
  if (opts.mangle) offer = opts.mangle(offer);
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...(opts.headers ?? {}) }, body: offer });
  const answer = await res.text();
  if (res.status === 201) {
    try {
      pc.setRemoteDescription(answer, 'answer');
    } catch (error) {
      pc.close();
      throw new Error(`${(error as Error).message}; offer:\n${offer}\nanswer:\n${answer}`);
    }
  }
  return {
    status: res.status,
    location: res.headers.get('Location'),
    answer,
    video,
    audio,
    connected,
    close: () => pc.close(),
  };
}

/** A UDP port free right now (the ICE mux port cannot be 0, so a test picks one). */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

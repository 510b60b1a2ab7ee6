/**
 * WebRTC play over WHEP (RFC 9725): the browser's own RTCPeerConnection, recvonly video and audio,
 * one non-trickle offer POSTed as application/sdp, the answer applied, DELETE on the Location
 * when the engine stops (fetch with keepalive on page unload: sendBeacon can only POST).
 *
 * There is no buffer to seek in: the browser's jitter buffer is the only one, so the player's
 * LatencyController stays off (`chasesLiveEdge`). What the overlay shows comes from getStats():
 * the inbound-rtp jitter buffer delay (as the buffer), frames decoded (fps), bytes (bitrate),
 * packets lost, and the candidate pair's currentRoundTripTime.
 *
 * Latency without FLV's `streamgate-time` stamps is an estimate (shown as `≈`): per frame on
 * screen, requestVideoFrameCallback's `expectedDisplayTime - receiveTime` (jitter buffer, decode,
 * compositing), plus half the round trip for the way from the gateway, which buffers nothing.
 * What it cannot see is the publisher-to-gateway leg, which the FLV stamps do not count either.
 * (inbound-rtp `estimatedPlayoutTimestamp` is no help: Chromium's RTCP clock estimator folds any
 * constant delay into the sender's clock offset, so it reads near zero.)
 */
import type { EngineName } from '../types/player.js';
import { Engine, type EngineSource, type TransportStats } from './engine.js';

/** Non-trickle WHEP: the offer waits for ICE gathering, at most this long (host candidates come in ms). */
const ICE_GATHERING_CAP_MS = 1500;
/**
 * ...or this long after the first candidate. With no STUN/TURN servers configured the offer only
 * has host candidates, which arrive in one burst; Chromium reports `complete` ~100 ms later
 * (TCP and other interfaces). The gateway learns a late address from the checks anyway (peer-reflexive).
 */
const AFTER_FIRST_CANDIDATE_MS = 30;
/** How often getStats() is read. */
const STATS_INTERVAL_MS = 500;
/** `disconnected` that lasts this long is treated as lost (it often recovers by itself within a second or two). */
const DISCONNECTED_GRACE_MS = 3000;
/** Frames kept for the latency median (about half a second). */
const LATENCY_WINDOW = 12;

export function webrtcSupported(): boolean {
  return typeof RTCPeerConnection === 'function';
}

/**
 * A recvonly video + audio offer with its ICE candidates, made while the player looks the
 * stream up (it does not depend on the answer: the gateway marks what the stream lacks
 * inactive). `taken` once an engine uses it; whoever made it closes it otherwise.
 */
export interface PreparedOffer {
  readonly pc: RTCPeerConnection;
  /** Resolves with the SDP to POST. */
  readonly sdp: Promise<string>;
  taken: boolean;
}

export function prepareOffer(): PreparedOffer {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const sdp = (async () => {
    const gathered = new Promise<void>((resolve) => {
      const cap = setTimeout(resolve, ICE_GATHERING_CAP_MS);
      const done = () => {
        clearTimeout(cap);
        resolve();
      };
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && done());
      pc.addEventListener('icecandidate', (e) => {
        if (e.candidate) setTimeout(done, AFTER_FIRST_CANDIDATE_MS);
        else done();
      });
    });
    await pc.setLocalDescription(await pc.createOffer());
    if (pc.iceGatheringState !== 'complete') await gathered;
    return pc.localDescription!.sdp;
  })();
  sdp.catch(() => undefined); // reported by the engine that awaits it
  return { pc, sdp, taken: false };
}

/** The WHEP endpoint of a stream path: `/{app}/{name}/whep[?token=...]`. */
export interface WebRtcSource extends EngineSource {
  /** Sent as `Authorization: Bearer` as well as on the URL the caller built, when given. */
  token?: string | undefined;
}

/** The JSON error body the gateway answers a refused POST with: `{ error: { code, message } }`. */
async function refusalMessage(res: Response): Promise<{ code: string | undefined; message: string }> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.message) return { code: body.error.code, message: body.error.message };
  } catch {
    /* not JSON */
  }
  return { code: undefined, message: text.trim().slice(0, 200) || `HTTP ${res.status}` };
}

export class WebRtcEngine extends Engine {
  readonly name: EngineName = 'webrtc';
  private pc: RTCPeerConnection | undefined;
  private location: string | undefined;
  private statsTimer: ReturnType<typeof setInterval> | undefined;
  private disconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private last: { at: number; bytes: number; frames: number; jbDelay: number; jbCount: number } | undefined;
  private current: TransportStats | undefined;
  private latencySamples: number[] = [];
  private readonly onPageHide = () => this.deleteSession();

  constructor(
    video: HTMLVideoElement,
    source: WebRtcSource,
    private prepared?: PreparedOffer,
  ) {
    super(video, source);
    if (prepared) prepared.taken = true;
  }

  load(): void {
    void this.negotiate().catch((error: unknown) => {
      this.report('failure', { kind: 'network', fallback: true, message: `WHEP failed: ${error instanceof Error ? error.message : String(error)}` });
    });
  }

  private async negotiate(): Promise<void> {
    const prepared = this.prepared ?? prepareOffer();
    this.prepared = undefined;
    const pc = prepared.pc;
    this.pc = pc;
    const media = new MediaStream();
    pc.ontrack = (e) => {
      media.addTrack(e.track);
      if (this.video.srcObject !== media) this.video.srcObject = media;
      void this.video.play().catch(() => undefined);
    };
    pc.onconnectionstatechange = () => this.onConnectionState(pc.connectionState);
    const offer = await prepared.sdp;
    if (this.destroyed) return;
    const token = (this.source as WebRtcSource).token;
    const headers: Record<string, string> = { 'Content-Type': 'application/sdp' };
    if (token) headers.Authorization = `Bearer ${token}`;
    let res: Response;
    try {
      res = await fetch(this.source.url, { method: 'POST', headers, body: offer, cache: 'no-store' });
    } catch (error) {
      this.report('failure', { kind: 'network', fallback: true, message: `WHEP request failed: ${error instanceof Error ? error.message : String(error)}` });
      return;
    }
    if (res.status !== 201) {
      const { code, message } = await refusalMessage(res);
      // 401/403 (token) and 404 (nothing published) are the same answers FLV would get: no fallback for those.
      const fallback = res.status !== 401 && res.status !== 403 && res.status !== 404;
      this.report('failure', { kind: 'network', status: res.status, fallback, message: `WHEP refused (${res.status}${code ? ` ${code}` : ''}): ${message}` });
      return;
    }
    const answer = await res.text();
    const location = res.headers.get('Location');
    if (location) this.location = new URL(location, this.source.url).href;
    window.addEventListener('pagehide', this.onPageHide);
    if (this.destroyed) return this.deleteSession();
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    this.statsTimer = setInterval(() => void this.readStats(), STATS_INTERVAL_MS);
  }

  private onConnectionState(state: RTCPeerConnectionState): void {
    if (this.destroyed) return;
    if (state === 'connected') {
      if (this.disconnectTimer !== undefined) clearTimeout(this.disconnectTimer);
      this.disconnectTimer = undefined;
    } else if (state === 'failed') {
      this.report('failure', { kind: 'network', message: 'the WebRTC connection failed (ICE)' });
    } else if (state === 'disconnected') {
      this.disconnectTimer ??= setTimeout(() => {
        this.disconnectTimer = undefined;
        if (this.pc?.connectionState === 'disconnected') this.report('failure', { kind: 'network', message: 'the WebRTC connection was lost' });
      }, DISCONNECTED_GRACE_MS);
    } else if (state === 'closed') {
      this.report('ended');
    }
  }

  private async readStats(): Promise<void> {
    const pc = this.pc;
    if (!pc || this.destroyed) return;
    const report = await pc.getStats();
    if (this.destroyed) return;
    let bytes = 0;
    let frames = 0;
    let jbDelay = 0;
    let jbCount = 0;
    let packetsLost = 0;
    let rttMs: number | undefined;
    let width: number | undefined;
    let height: number | undefined;
    let videoCodecId: string | undefined;
    let audioCodecId: string | undefined;
    let nacks = 0;
    report.forEach((s: Record<string, unknown> & { type: string; id: string }) => {
      if (s.type === 'inbound-rtp') {
        bytes += Number(s.bytesReceived ?? 0);
        packetsLost += Number(s.packetsLost ?? 0);
        if (s.kind === 'video') {
          frames = Number(s.framesDecoded ?? 0);
          // The video jitter buffer is what holds the picture back (audio is synchronized to it).
          jbDelay = Number(s.jitterBufferDelay ?? 0);
          jbCount = Number(s.jitterBufferEmittedCount ?? 0);
          width = typeof s.frameWidth === 'number' ? s.frameWidth : undefined;
          height = typeof s.frameHeight === 'number' ? s.frameHeight : undefined;
          videoCodecId = s.codecId as string | undefined;
          nacks = Number(s.nackCount ?? 0);
        } else if (s.kind === 'audio') {
          audioCodecId = s.codecId as string | undefined;
        }
      } else if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded' && typeof s.currentRoundTripTime === 'number') {
        rttMs = s.currentRoundTripTime * 1000;
      }
    });
    const codec = (id: string | undefined) => {
      const c = id ? (report.get(id) as { mimeType?: string } | undefined) : undefined;
      return c?.mimeType?.split('/')[1];
    };
    const now = performance.now();
    const prev = this.last;
    this.last = { at: now, bytes, frames, jbDelay, jbCount };
    if (!prev) return;
    const seconds = (now - prev.at) / 1000;
    const fps = seconds > 0 ? (frames - prev.frames) / seconds : undefined;
    const emitted = jbCount - prev.jbCount;
    // Average delay of the frames emitted since the last read; the running average before any.
    const jitterBufferMs = emitted > 0 ? ((jbDelay - prev.jbDelay) / emitted) * 1000 : jbCount > 0 ? (jbDelay / jbCount) * 1000 : undefined;
    this.current = { rttMs, packetsLost, jitterBufferMs, nacks };
    if (seconds > 0) this.report('bitrate', ((bytes - prev.bytes) * 8) / seconds / 1000);
    this.report('mediainfo', {
      videoCodec: codec(videoCodecId),
      audioCodec: codec(audioCodecId),
      width: width ?? (this.video.videoWidth || undefined),
      height: height ?? (this.video.videoHeight || undefined),
      fps: fps !== undefined && fps >= 0 ? fps : undefined,
    });
  }

  override get chasesLiveEdge(): boolean {
    return true;
  }

  override bufferS(): number | undefined {
    const ms = this.current?.jitterBufferMs;
    return ms === undefined ? undefined : ms / 1000;
  }

  override transportStats(): TransportStats | undefined {
    return this.current ? { ...this.current } : undefined;
  }

  override framePresented(meta: VideoFrameCallbackMetadata): void {
    if (typeof meta.receiveTime !== 'number') return;
    const sample = meta.expectedDisplayTime - meta.receiveTime + (this.current?.rttMs ?? 0) / 2;
    if (!(sample >= 0 && sample < 60_000)) return;
    this.latencySamples.push(sample);
    if (this.latencySamples.length > LATENCY_WINDOW) this.latencySamples.shift();
  }

  /**
   * The median over the last frames on screen (see the header); before the first of them, the
   * jitter buffer plus half the round trip.
   */
  override estimatedLatencyS(): number | undefined {
    if (this.latencySamples.length > 0) {
      const sorted = [...this.latencySamples].sort((a, b) => a - b);
      return sorted[Math.floor(sorted.length / 2)]! / 1000;
    }
    const c = this.current;
    if (c?.jitterBufferMs === undefined) return undefined;
    return (c.jitterBufferMs + (c.rttMs ?? 0) / 2) / 1000;
  }

  /** DELETE on the session's Location (RFC 9725 §4.3); keepalive lets it outlive the page. */
  private deleteSession(): void {
    const location = this.location;
    this.location = undefined;
    window.removeEventListener('pagehide', this.onPageHide);
    if (!location) return;
    const token = (this.source as WebRtcSource).token;
    void fetch(location, { method: 'DELETE', keepalive: true, ...(token ? { headers: { Authorization: `Bearer ${token}` } } : {}) }).catch(() => undefined);
  }

  override destroy(): void {
    super.destroy();
    if (this.statsTimer !== undefined) clearInterval(this.statsTimer);
    if (this.disconnectTimer !== undefined) clearTimeout(this.disconnectTimer);
    this.statsTimer = undefined;
    this.deleteSession();
    this.prepared?.pc.close();
    this.prepared = undefined;
    const pc = this.pc;
    this.pc = undefined;
    if (pc) {
      pc.ontrack = null;
      pc.onconnectionstatechange = null;
      pc.close();
    }
    const stream = this.video.srcObject as MediaStream | null;
    stream?.getTracks().forEach((t) => t.stop());
    this.video.srcObject = null;
  }
}

/**
 * WebRTC publish over WHIP (RFC 9725): a MediaStream's tracks sent with sendonly transceivers,
 * H.264 preferred for video (the gateway's hub carries H.264, not VP8), Opus for audio; one
 * non-trickle offer POSTed as application/sdp; DELETE on the Location when it stops (with
 * keepalive, so it survives the page being closed).
 */
import { TypedEmitter } from '../utils/event-emitter.js';

/** Echo cancellation, noise suppression and gain control: what a talkback microphone needs. */
export const AUDIO_PROCESSING = { echoCancellation: true, noiseSuppression: true, autoGainControl: true } as const;

/** Non-trickle WHIP: the offer waits for ICE gathering, at most this long. */
const ICE_GATHERING_CAP_MS = 1500;

export interface OutgoingStats {
  /** Outgoing media bitrate (outbound-rtp bytesSent deltas, audio + video), kbit/s. */
  kbps: number;
  width: number | undefined;
  height: number | undefined;
  fps: number | undefined;
  /** e.g. `H264`, `opus` (from the codec stats). */
  videoCodec: string | undefined;
  audioCodec: string | undefined;
  /** Round trip of the selected candidate pair, ms. */
  rttMs: number | undefined;
}

export interface WhipPublisherEventMap {
  [key: string]: unknown[];
  /** `new`, `connecting`, `connected`, `disconnected`, `failed`, `closed` (RTCPeerConnectionState). */
  state: [RTCPeerConnectionState];
  stats: [OutgoingStats];
}

/** A refused WHIP POST: the gateway's `{ error: { code, message } }`. */
export class WhipRefusedError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'WhipRefusedError';
  }
}

export interface WhipPublisherOptions {
  /** The WHIP endpoint, `http://gw:8080/{app}/{name}/whip[?token=...]`. */
  url: string;
  /** Also sent as `Authorization: Bearer`. */
  token?: string | undefined;
  statsIntervalMs?: number;
}

/** Puts H.264 first among the offered video codecs, where the browser lets us order them. */
function preferH264(transceiver: RTCRtpTransceiver): void {
  const caps = typeof RTCRtpSender.getCapabilities === 'function' ? RTCRtpSender.getCapabilities('video') : null;
  if (!caps || typeof transceiver.setCodecPreferences !== 'function') return;
  const h264 = caps.codecs.filter((c) => c.mimeType.toLowerCase() === 'video/h264');
  // packetization-mode=1 first: the gateway needs it (RFC 6184 §6.3 non-interleaved mode).
  h264.sort((a, b) => Number(/packetization-mode=1/.test(b.sdpFmtpLine ?? '')) - Number(/packetization-mode=1/.test(a.sdpFmtpLine ?? '')));
  const rest = caps.codecs.filter((c) => /\/(rtx|red|ulpfec)$/i.test(c.mimeType));
  if (h264.length) transceiver.setCodecPreferences([...h264, ...rest]);
}

export class WhipPublisher extends TypedEmitter<WhipPublisherEventMap> {
  private pc: RTCPeerConnection | undefined;
  private location: string | undefined;
  private statsTimer: ReturnType<typeof setInterval> | undefined;
  private last: { at: number; bytes: number } | undefined;
  private readonly senders = new Map<'video' | 'audio', RTCRtpSender>();
  private readonly onPageHide = () => this.deleteSession();

  constructor(private readonly options: WhipPublisherOptions) {
    super();
  }

  get connectionState(): RTCPeerConnectionState {
    return this.pc?.connectionState ?? 'closed';
  }

  /** Offers `stream`'s tracks and POSTs the offer; rejects with WhipRefusedError when the gateway refuses. */
  async start(stream: MediaStream): Promise<void> {
    if (this.pc) throw new Error('already publishing');
    const pc = new RTCPeerConnection();
    this.pc = pc;
    pc.onconnectionstatechange = () => this.safeEmit('state', pc.connectionState);
    for (const track of stream.getTracks()) {
      const kind = track.kind === 'video' ? 'video' : 'audio';
      if (this.senders.has(kind)) continue;
      const t = pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
      if (kind === 'video') preferH264(t);
      this.senders.set(kind, t.sender);
    }
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await new Promise<void>((resolve) => {
        if (pc.iceGatheringState === 'complete') return resolve();
        const timer = setTimeout(resolve, ICE_GATHERING_CAP_MS);
        pc.addEventListener('icegatheringstatechange', () => {
          if (pc.iceGatheringState !== 'complete') return;
          clearTimeout(timer);
          resolve();
        });
      });
      const headers: Record<string, string> = { 'Content-Type': 'application/sdp' };
      if (this.options.token) headers.Authorization = `Bearer ${this.options.token}`;
      const res = await fetch(this.options.url, { method: 'POST', headers, body: pc.localDescription!.sdp, cache: 'no-store' });
      const body = await res.text();
      if (res.status !== 201) {
        let code: string | undefined;
        let message = body.trim().slice(0, 300) || `HTTP ${res.status}`;
        try {
          const parsed = JSON.parse(body) as { error?: { code?: string; message?: string } };
          code = parsed.error?.code;
          message = parsed.error?.message ?? message;
        } catch {
          /* not JSON */
        }
        throw new WhipRefusedError(res.status, code, `the gateway refused the publish (${res.status}${code ? ` ${code}` : ''}): ${message}`);
      }
      const location = res.headers.get('Location');
      if (location) this.location = new URL(location, this.options.url).href;
      window.addEventListener('pagehide', this.onPageHide);
      if (this.pc !== pc) return this.deleteSession(); // stopped while the POST was in flight
      await pc.setRemoteDescription({ type: 'answer', sdp: body });
      this.statsTimer = setInterval(() => void this.readStats(), this.options.statsIntervalMs ?? 1000);
    } catch (error) {
      if (this.pc === pc) this.stop();
      throw error;
    }
  }

  /** Swaps the camera or microphone while publishing (no renegotiation: same kind, same codec). */
  async replaceTrack(track: MediaStreamTrack): Promise<void> {
    await this.senders.get(track.kind === 'video' ? 'video' : 'audio')?.replaceTrack(track);
  }

  /** Ends the session (DELETE on the Location) and closes the connection; idempotent. */
  stop(): void {
    if (this.statsTimer !== undefined) clearInterval(this.statsTimer);
    this.statsTimer = undefined;
    this.last = undefined;
    this.deleteSession();
    const pc = this.pc;
    this.pc = undefined;
    this.senders.clear();
    if (!pc) return;
    pc.onconnectionstatechange = null;
    pc.close();
    this.safeEmit('state', 'closed');
  }

  private deleteSession(): void {
    const location = this.location;
    this.location = undefined;
    window.removeEventListener('pagehide', this.onPageHide);
    if (!location) return;
    const headers = this.options.token ? { Authorization: `Bearer ${this.options.token}` } : undefined;
    void fetch(location, { method: 'DELETE', keepalive: true, ...(headers ? { headers } : {}) }).catch(() => undefined);
  }

  private async readStats(): Promise<void> {
    const pc = this.pc;
    if (!pc) return;
    const report = await pc.getStats();
    if (this.pc !== pc) return;
    let bytes = 0;
    let width: number | undefined;
    let height: number | undefined;
    let fps: number | undefined;
    let videoCodecId: string | undefined;
    let audioCodecId: string | undefined;
    let rttMs: number | undefined;
    report.forEach((s: Record<string, unknown> & { type: string }) => {
      if (s.type === 'outbound-rtp') {
        bytes += Number(s.bytesSent ?? 0);
        if (s.kind === 'video') {
          width = typeof s.frameWidth === 'number' ? s.frameWidth : undefined;
          height = typeof s.frameHeight === 'number' ? s.frameHeight : undefined;
          fps = typeof s.framesPerSecond === 'number' ? s.framesPerSecond : undefined;
          videoCodecId = s.codecId as string | undefined;
        } else if (s.kind === 'audio') {
          audioCodecId = s.codecId as string | undefined;
        }
      } else if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded' && typeof s.currentRoundTripTime === 'number') {
        rttMs = s.currentRoundTripTime * 1000;
      }
    });
    const codec = (id: string | undefined) => (id ? (report.get(id) as { mimeType?: string } | undefined)?.mimeType?.split('/')[1] : undefined);
    const now = performance.now();
    const prev = this.last;
    this.last = { at: now, bytes };
    if (!prev || now <= prev.at) return;
    const kbps = ((bytes - prev.bytes) * 8) / (now - prev.at);
    this.safeEmit('stats', { kbps, width, height, fps, videoCodec: codec(videoCodecId), audioCodec: codec(audioCodecId), rttMs });
  }
}

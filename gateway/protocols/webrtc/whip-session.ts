/**
 * A WHIP publisher (RFC 9725): a browser or OBS offers H.264 and Opus, we answer receive-only,
 * and its RTP feeds the path like any publisher. Browsers send a keyframe only when asked, so
 * the session asks (RTCP PLI) on a timer, after packet loss, and whenever a reader needs one.
 */
import type { Logger } from 'pino';
import type { PublishSession } from '../../core/stream.js';
import type { MediaTrack, Peer } from './engine.js';
import { type SessionInfo, WebRtcSession } from './session.js';
import { WhipIngest, type WhipTrack } from './to-stream.js';

/** Loss is checked this often; a loss since the last check asks for a keyframe. */
const LOSS_CHECK_MS = 200;
/** Keyframe requests (PLI) go out at most this often, whatever asks for them. */
const MIN_PLI_INTERVAL_MS = 300;

export class WhipSession extends WebRtcSession {
  readonly kind = 'whip';
  readonly video: string | null;
  readonly audio: string | null;
  private session: PublishSession | undefined;
  private ingest: WhipIngest | undefined;
  private readonly mediaTracks: MediaTrack[];
  private videoTrack: MediaTrack | undefined;
  private keyframeTimer: NodeJS.Timeout | undefined;
  private lossTimer: NodeJS.Timeout | undefined;
  private lastPli = -Infinity;
  private lastLost = 0;

  constructor(
    path: string,
    peer: Peer,
    private readonly tracks: readonly (WhipTrack & { readonly mid: string })[],
    remoteAddress: string,
    log: Logger,
    connectTimeoutMs: number,
    peerTimeoutMs: number,
    private readonly keyframeIntervalMs: number,
  ) {
    super(path, remoteAddress, peer, log, connectTimeoutMs, peerTimeoutMs);
    this.video = tracks.find((t) => t.kind === 'video')?.codec ?? null;
    this.audio = tracks.find((t) => t.kind === 'audio')?.codec ?? null;
    this.mediaTracks = [];
  }

  /** Admission accepted the publish: wire the negotiated tracks into it. */
  attach(session: PublishSession): void {
    this.session = session;
    const ingest = new WhipIngest(session, this.tracks);
    this.ingest = ingest;
    this.tracks.forEach((t, index) => {
      const track = this.peer.tracks.get(t.mid);
      if (!track) return;
      this.mediaTracks.push(track);
      if (t.kind === 'video') this.videoTrack = track;
      track.onMessage((msg) => {
        if (this.state === 'closed') return;
        this.heardAt = Date.now();
        ingest.message(index, msg);
      });
    });
  }

  get packetsSent(): number {
    return 0;
  }

  get packetsReceived(): number {
    return this.ingest?.packetsReceived ?? 0;
  }

  get bytesSent(): number {
    return 0;
  }

  get bytesReceived(): number {
    return this.ingest?.bytesReceived ?? 0;
  }

  get lostPackets(): number {
    return this.ingest?.lostPackets ?? 0;
  }

  protected connected(): void {
    if (!this.videoTrack) return;
    this.requestKeyframe();
    this.keyframeTimer = setInterval(() => this.requestKeyframe(), this.keyframeIntervalMs);
    this.lossTimer = setInterval(() => {
      const lost = this.lostPackets;
      if (lost !== this.lastLost) {
        this.lastLost = lost;
        this.requestKeyframe();
      }
    }, LOSS_CHECK_MS);
  }

  /** Sends a PLI to the publisher (rate-limited); what PublisherInfo.requestKeyframe calls. */
  readonly requestKeyframe = (): void => {
    const now = Date.now();
    if (this.state !== 'connected' || !this.videoTrack || now - this.lastPli < MIN_PLI_INTERVAL_MS) return;
    this.lastPli = now;
    this.feedback.plis++;
    try {
      // isOpen first: libdatachannel throws from requestKeyframe() on a closed track, uncaught.
      if (this.videoTrack.isOpen()) this.videoTrack.requestKeyframe();
    } catch {
      // the track closed under us: the session is closing
    }
  };

  override info(): SessionInfo {
    return { ...super.info(), packetsLost: this.lostPackets };
  }

  protected released(reason: string): void {
    clearInterval(this.keyframeTimer);
    clearInterval(this.lossTimer);
    this.session?.close(reason);
  }
}

/**
 * A WHIP publisher (RFC 9725): a browser or OBS offers H.264 and Opus, we answer receive-only,
 * and its RTP feeds the path like any publisher. The receiver's RTCP is ours, written here in
 * JS (formats/rtp/rtcp-receiver.ts): a receiver report per sender report, with the loss and
 * jitter we saw; a NACK as soon as a video packet is missing (and again while it is), so the publisher sends it again
 * and the picture goes on without a keyframe; a PLI when a gap could not be filled, on a timer
 * (browsers send a keyframe only when asked), and whenever a reader needs one.
 */
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import type { PublishSession } from '../../core/stream.js';
import { buildRtcpNack, buildRtcpPli, buildRtcpReport, rttFromXr } from '../../formats/rtp/rtcp-receiver.js';
import type { WebRtcConfig } from './config.js';
import type { MediaTrack, Peer } from './engine.js';
import { type SessionInfo, WebRtcSession } from './session.js';
import { WhipIngest, type WhipTrack } from './to-stream.js';

/** Loss is checked this often; a loss since the last check asks for a keyframe. */
const LOSS_CHECK_MS = 200;
/** Transport-wide feedback goes out this often (libwebrtc's receivers: 50-250 ms). */
const TRANSPORT_FEEDBACK_MS = 50;
/**
 * Video packets still missing this long after their gap opened are NACKed again, at this
 * interval, until webrtc.whipRetransmitWaitMs gives them up (more than a LAN round trip; a
 * sender ignores a request repeated within its RTT).
 */
const NACK_AGAIN_MS = 40;
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
  private feedbackTimer: NodeJS.Timeout | undefined;
  private nackTimer: NodeJS.Timeout | undefined;
  private lastPli = -Infinity;
  private lastLost = 0;
  /** Our SSRC as the sender of receiver reports and feedback. */
  private readonly ssrc = randomInt(1, 0xffffffff);
  private readonly keyframeIntervalMs: number;
  private readonly retransmitWaitMs: number;

  constructor(
    path: string,
    peer: Peer,
    private readonly tracks: readonly (WhipTrack & { readonly mid: string })[],
    remoteAddress: string,
    log: Logger,
    config: WebRtcConfig,
    /** The transport-cc header extension id the answer negotiated, or -1. */
    private readonly transportCcId = -1,
  ) {
    super(path, remoteAddress, peer, log, config.connectTimeoutMs, config.peerTimeoutMs);
    this.keyframeIntervalMs = config.whipKeyframeIntervalMs;
    this.retransmitWaitMs = config.whipRetransmitWaitMs;
    this.video = tracks.find((t) => t.kind === 'video')?.codec ?? null;
    this.audio = tracks.find((t) => t.kind === 'audio')?.codec ?? null;
    this.mediaTracks = [];
  }

  /** Admission accepted the publish: wire the negotiated tracks into it. */
  attach(session: PublishSession): void {
    this.session = session;
    const ingest = new WhipIngest(session, this.tracks, { missing: this.nack, senderReport: this.report, extendedReport: this.extendedReport }, this.retransmitWaitMs, this.transportCcId);
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

  /** Missing video packets that came in time after our NACK (or reordered). */
  override get retransmitted(): number {
    return this.ingest?.recoveredPackets ?? 0;
  }

  /** RTCP to the publisher, on any of its tracks (one transport: the SSRCs inside say what it is about). */
  private sendRtcp(packet: Buffer): void {
    const track = this.videoTrack ?? this.mediaTracks[0];
    if (this.state !== 'connected' || !track) return;
    try {
      // Tracks without a media handler pass RTCP whatever their direction (ours are receive-only).
      if (track.isOpen()) track.sendMessageBinary(packet);
    } catch {
      // the track closed under us: the session is closing
    }
  }

  /** Video packets are missing: ask for them again (generic NACK). */
  private readonly nack = (ssrc: number, first: number, count: number): void => {
    this.feedback.nacks++;
    this.feedback.nackedPackets += count;
    this.sendRtcp(buildRtcpNack(this.ssrc, ssrc, first, count));
  };

  /** A sender report came: answer with a receiver report on every source (round trip, loss, jitter for its rate control). */
  private readonly report = (): void => {
    // With our reference time (XR RRTR): the publisher's DLRR answer gives the round trip (rttMs).
    if (this.ingest) this.sendRtcp(buildRtcpReport(this.ssrc, this.ingest.stats, Date.now(), true));
  };

  /** The publisher's answer to our reference time (XR DLRR, libwebrtc sends it): the round trip. */
  private readonly extendedReport = (buf: Buffer, offset: number, length: number, nowMs: number): void => {
    const rtt = rttFromXr(buf, offset, length, this.ssrc, nowMs);
    if (rtt >= 0) this.rttMs = rtt;
  };

  protected connected(): void {
    const feedback = this.ingest?.transportFeedback;
    if (feedback) {
      this.feedbackTimer = setInterval(() => {
        const media = this.ingest?.stats.find((s) => s.ssrc >= 0);
        const packet = media && feedback.build(this.ssrc, media.ssrc);
        if (packet) this.sendRtcp(packet);
      }, TRANSPORT_FEEDBACK_MS);
    }
    if (!this.videoTrack) return;
    this.nackTimer = setInterval(() => this.ingest?.nackAgain(Date.now(), NACK_AGAIN_MS), NACK_AGAIN_MS);
    this.requestKeyframe();
    this.keyframeTimer = setInterval(() => this.requestKeyframe(), this.keyframeIntervalMs);
    this.lossTimer = setInterval(() => {
      // Video only: a lost Opus packet is concealed by the decoder and needs no keyframe.
      const lost = this.ingest?.videoLostPackets ?? 0;
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
    const video = this.ingest?.stats[this.tracks.findIndex((t) => t.kind === 'video')];
    if (!video || video.ssrc < 0) return; // nothing came yet: its first frame is a keyframe
    this.lastPli = now;
    this.feedback.plis++;
    this.sendRtcp(buildRtcpPli(this.ssrc, video.ssrc));
  };

  override info(): SessionInfo {
    const video = this.ingest?.stats[this.tracks.findIndex((t) => t.kind === 'video')];
    return { ...super.info(), packetsLost: this.lostPackets, fractionLost: video && video.received > 0 ? Math.max(0, video.lost) / (video.received + Math.max(0, video.lost)) : 0 };
  }

  protected released(reason: string): void {
    clearInterval(this.keyframeTimer);
    clearInterval(this.lossTimer);
    clearInterval(this.feedbackTimer);
    clearInterval(this.nackTimer);
    this.session?.close(reason);
  }
}

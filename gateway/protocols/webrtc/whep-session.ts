/**
 * A WHEP reader (draft-ietf-wish-whep): the browser offers to receive, we answer with the
 * stream's codecs in the payload types it offered, and once ICE/DTLS connect it joins the hub
 * like every reader (GOP cache first, so the first picture is a keyframe at once). PLI/FIR from
 * the browser go to the publisher when it can make a keyframe (a WHIP browser); NACKs are
 * answered from the reader's send history.
 */
import type { Logger } from 'pino';
import type { PlayTicket } from '../../core/admission.js';
import { forEachRtcp, readRtcpFeedback } from '../../formats/rtp/rtp.js';
import type { Peer } from './engine.js';
import { type SendTrack, type WebRtcStreamFormat, WhepOutput } from './from-stream.js';
import { WebRtcSession } from './session.js';

/** A browser asking for keyframes (each PLI) reaches the publisher at most this often. */
const KEYFRAME_REQUEST_INTERVAL_MS = 500;

export class WhepSession extends WebRtcSession {
  readonly kind = 'whep';
  readonly video: string | null;
  readonly audio: string | null;
  private readonly output: WhepOutput;
  private lastKeyframeRequest = -Infinity;

  constructor(
    private readonly ticket: PlayTicket,
    peer: Peer,
    format: WebRtcStreamFormat,
    tracks: { video?: SendTrack; audio?: SendTrack },
    remoteAddress: string,
    log: Logger,
    connectTimeoutMs: number,
    peerTimeoutMs: number,
  ) {
    super(ticket.stream.path, remoteAddress, peer, log, connectTimeoutMs, peerTimeoutMs);
    this.video = tracks.video?.codec ?? null;
    this.audio = tracks.audio?.codec ?? null;
    this.output = new WhepOutput(format, remoteAddress, ticket.stream, tracks.video, tracks.audio, (error) => {
      this.close(error ? error.message : 'reader closed');
    });
    for (const t of [tracks.video, tracks.audio]) {
      t?.track.onMessage((msg) => this.rtcp(msg));
    }
  }

  get packetsSent(): number {
    return this.output.packetsSent;
  }

  get packetsReceived(): number {
    return 0;
  }

  override get retransmitted(): number {
    return this.output.retransmitted;
  }

  get bytesSent(): number {
    return this.output.bytesSent;
  }

  get bytesReceived(): number {
    return 0;
  }

  protected connected(): void {
    if (this.ticket.released) return;
    this.ticket.addReader(this.output);
  }

  protected released(): void {
    this.ticket.release();
  }

  /** RTCP from the browser (receiver reports, NACK, PLI/FIR): counters, RTT, keyframe requests. */
  private rtcp(msg: Buffer): void {
    if (this.state === 'closed' || msg.length < 8) return;
    const type = msg[1]!;
    if (type < 200 || type > 206) return;
    this.heardAt = Date.now();
    const fb = this.feedback;
    const reports = fb.reports;
    const nacks = fb.nacks;
    const wantsKeyframe = readRtcpFeedback(msg, fb);
    if (fb.nacks !== nacks) forEachRtcp(msg, (type, count, offset, length) => {
      if (type === 205 && count === 1) this.output.retransmit(msg, offset, length);
    });
    const now = Date.now();
    if (fb.reports !== reports) {
      const rtt = this.output.senderReports.rttMs(fb.lastSr, fb.delaySinceLastSr, now);
      if (rtt >= 0) this.rttMs = rtt;
    }
    if (wantsKeyframe && now - this.lastKeyframeRequest >= KEYFRAME_REQUEST_INTERVAL_MS) {
      this.lastKeyframeRequest = now;
      this.ticket.stream.publisher?.requestKeyframe?.();
    }
  }
}

/**
 * What WHEP and WHIP sessions share: the peer connection's life (connect timeout, failure,
 * close cascade), RTCP feedback counters and the API view. A session is the WHIP/WHEP
 * "resource" (RFC 9725 §4.3): `DELETE` on its Location ends it.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { emptyRtcpFeedback, type RtcpFeedback } from '../../formats/rtp/rtp.js';
import type { Peer } from './engine.js';
import { WebRtcFailedError } from './errors.js';

export type SessionKind = 'whep' | 'whip';
export type SessionState = 'connecting' | 'connected' | 'closed';

/**
 * How long the client has to read the answer before our side checks its candidates (browsers
 * check ours at once, so this only matters for clients that wait to be reached).
 */
const ANSWER_HEAD_START_MS = 250;

/** A session that lost ICE connectivity gets this long to come back before it is closed. */
const DISCONNECTED_GRACE_MS = 5000;

export interface SessionInfo {
  readonly id: string;
  readonly kind: SessionKind;
  readonly path: string;
  readonly state: SessionState;
  /** HTTP client address; `peer` is the ICE pair's remote end once connected. */
  readonly remoteAddress: string;
  readonly peer: string | undefined;
  readonly since: string;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly packetsSent: number;
  readonly packetsReceived: number;
  /**
   * WHEP: from the reader's receiver reports on our packets. WHIP: what we counted on the
   * publisher's (packetsLost: given up on after the retransmission wait; no RTT).
   */
  readonly rttMs: number | null;
  readonly fractionLost: number;
  readonly packetsLost: number;
  /** WHEP: NACKs and PLIs the reader sent us. WHIP: the ones we sent the publisher. */
  readonly nacks: number;
  readonly nackedPackets: number;
  readonly plis: number;
  readonly firs: number;
  /** WHEP: packets sent again on NACK. WHIP: missing packets that came in time (retransmitted). */
  readonly retransmitted: number;
  /** Video and audio codecs negotiated (hub names). */
  readonly video: string | null;
  readonly audio: string | null;
}

export abstract class WebRtcSession {
  readonly id = randomBytes(12).toString('base64url');
  readonly since = Date.now();
  state: SessionState = 'connecting';
  readonly feedback: RtcpFeedback = emptyRtcpFeedback();
  rttMs = -1;
  private connectTimer: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private readonly closedListeners: (() => void)[] = [];
  /** When the peer last sent anything (RTCP for a WHEP reader, RTP for a WHIP publisher). */
  heardAt = Date.now();
  private silenceTimer: NodeJS.Timeout | undefined;

  abstract readonly kind: SessionKind;
  abstract readonly video: string | null;
  abstract readonly audio: string | null;

  protected constructor(
    readonly path: string,
    readonly remoteAddress: string,
    protected readonly peer: Peer,
    protected readonly log: Logger,
    connectTimeoutMs: number,
    private readonly peerTimeoutMs: number,
  ) {
    this.connectTimer = setTimeout(() => {
      this.close(new WebRtcFailedError(`ICE/DTLS did not connect within ${connectTimeoutMs} ms (webrtc.connectTimeoutMs)`).message);
    }, connectTimeoutMs);
  }

  /** libdatachannel's peer connection state changed (called from the engine's callback). */
  peerState(state: string): void {
    if (this.state === 'closed') return;
    if (state === 'connected') {
      clearTimeout(this.connectTimer);
      clearTimeout(this.graceTimer);
      this.graceTimer = undefined;
      if (this.state !== 'connected') {
        this.state = 'connected';
        this.heardAt = Date.now();
        // ICE consent checks notice a vanished peer only after ~30 s: silence is quicker.
        this.silenceTimer = setInterval(() => {
          const silent = Date.now() - this.heardAt;
          if (silent > this.peerTimeoutMs) this.close(`the peer sent nothing for ${Math.round(silent / 1000)} s (webrtc.peerTimeoutMs)`);
        }, 1000);
        this.connected();
      }
    } else if (state === 'disconnected') {
      this.graceTimer ??= setTimeout(() => this.close('ICE connectivity lost'), DISCONNECTED_GRACE_MS);
    } else if (state === 'failed' || state === 'closed') {
      this.close(state === 'failed' ? 'ICE/DTLS failed' : 'peer closed the connection');
    }
  }

  /** ICE and DTLS are up: media may flow. */
  protected abstract connected(): void;
  /** Release what the session holds in the hub (reader ticket, publish session). */
  protected abstract released(reason: string): void;
  abstract get packetsSent(): number;
  get retransmitted(): number {
    return 0;
  }
  abstract get bytesSent(): number;
  abstract get bytesReceived(): number;
  abstract get packetsReceived(): number;

  /** The answer went out: ICE may use the offer's candidates after the client's head start. */
  answered(): void {
    setTimeout(() => this.peer.releaseCandidates(), ANSWER_HEAD_START_MS);
  }

  /** A trickled remote ICE candidate (PATCH). */
  addRemoteCandidate(candidate: string, mid: string): void {
    if (this.state !== 'closed') this.peer.addRemoteCandidate(candidate, mid);
  }

  onClosed(listener: () => void): void {
    this.closedListeners.push(listener);
  }

  /** Ends the session: the peer connection, then its hub side. Idempotent. */
  close(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.connectTimer);
    clearTimeout(this.graceTimer);
    clearInterval(this.silenceTimer);
    this.peer.close();
    this.released(reason);
    this.log.info({ session: this.id, path: this.path, reason }, `${this.kind.toUpperCase()} session ended: ${reason}`);
    for (const l of this.closedListeners) l();
  }

  info(): SessionInfo {
    const fb = this.feedback;
    return {
      id: this.id,
      kind: this.kind,
      path: this.path,
      state: this.state,
      remoteAddress: this.remoteAddress,
      peer: this.state === 'connected' ? this.peer.remoteAddress() : undefined,
      since: new Date(this.since).toISOString(),
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      packetsSent: this.packetsSent,
      packetsReceived: this.packetsReceived,
      rttMs: this.rttMs >= 0 ? Math.round(this.rttMs * 10) / 10 : null,
      fractionLost: fb.fractionLost,
      packetsLost: fb.packetsLost,
      nacks: fb.nacks,
      nackedPackets: fb.nackedPackets,
      plis: fb.plis,
      firs: fb.firs,
      retransmitted: this.retransmitted,
      video: this.video,
      audio: this.audio,
    };
  }
}

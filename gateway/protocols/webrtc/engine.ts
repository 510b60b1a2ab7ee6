/**
 * The one file that imports node-datachannel (libdatachannel: ICE by libjuice, DTLS-SRTP by
 * OpenSSL/libsrtp, shipped prebuilt per platform in optional packages, no install-time
 * download). Everything else in the protocol sees these narrow types.
 *
 * libdatachannel writes the SDP answer; we give it one media description per offered section
 * (same mid, our direction, the one payload type we chose) before it does, so the answer names
 * exactly the codecs we send or accept.
 */
import nodeDataChannel from 'node-datachannel';
import type { Track as NdTrack, PeerConnection as NdPeerConnection, RtcConfig } from 'node-datachannel';
import type { WebRtcConfig } from './config.js';
import { SdpInvalidError, WebRtcNoPortError } from './errors.js';

const { PeerConnection, Video, Audio, IceUdpMuxListener } = nodeDataChannel;

export type MediaTrack = NdTrack;

/** The bind address when it names one interface; undefined for any (0.0.0.0, ::, empty). */
function specificAddress(bindAddress: string): string | undefined {
  return bindAddress && bindAddress !== '0.0.0.0' && bindAddress !== '::' ? bindAddress : undefined;
}

/** One media section of our answer. */
export interface AnswerMedia {
  readonly kind: 'video' | 'audio';
  readonly mid: string;
  readonly direction: 'SendOnly' | 'RecvOnly' | 'Inactive';
  /** Absent for a section we decline (inactive). */
  readonly codec?: { readonly payloadType: number; readonly name: 'H264' | 'OPUS' | 'PCMA' | 'PCMU'; readonly fmtp: string };
  /** RTX payload type for the codec (RFC 4588): retransmissions and padding on their own SSRC. */
  readonly rtx?: number;
  /** SSRC we send with (SendOnly), announced so the browser maps the packets to the track. */
  readonly ssrc?: number;
  /** More attribute lines for the section (a=extmap, a=rtcp-fb), as libdatachannel parses SDP. */
  readonly lines?: readonly string[];
}

export interface PeerEvents {
  /** connected, disconnected, failed, closed (libdatachannel's peer connection states). */
  state(state: string): void;
}

/** A peer connection answering one offer: tracks by mid, the answer once ICE gathering is done. */
export class Peer {
  private readonly pc: NdPeerConnection;
  readonly tracks = new Map<string, NdTrack>();
  private closed = false;
  /** What a failed ICE gathering most likely means with this config. */
  private readonly where: string;

  constructor(name: string, config: WebRtcConfig, bindAddress: string, certificate: { certificatePemFile: string; keyPemFile: string }, events: PeerEvents) {
    const rtc: RtcConfig = {
      iceServers: config.iceServers,
      // Auto-negotiation on: setRemoteDescription writes the answer (see answer()).
      ...certificate,
      // 0.0.0.0 / :: gather every interface; a specific bind address only that one.
      ...(specificAddress(bindAddress) ? { bindAddress } : {}),
      ...(config.udpPort > 0
        ? { enableIceUdpMux: true, portRangeBegin: config.udpPort, portRangeEnd: config.udpPort }
        : config.portRange[0] > 0
          ? { portRangeBegin: config.portRange[0], portRangeEnd: config.portRange[1] }
          : {}),
    };
    this.where = config.udpPort > 0 ? `webrtc.udpPort ${config.udpPort} taken by another process?` : config.portRange[0] > 0 ? `webrtc.portRange ${config.portRange[0]}-${config.portRange[1]} used up?` : 'no ephemeral port free?';
    this.pc = new PeerConnection(name, rtc);
    this.pc.onStateChange((state) => {
      if (!this.closed) events.state(state);
    });
  }

  /**
   * Sets the remote offer, adds our media, and resolves with the answer SDP once candidates are
   * gathered (host candidates: immediate; STUN: up to `gatherMs`).
   */
  async answer(offer: string, media: readonly AnswerMedia[], gatherMs = 2000): Promise<string> {
    const gathered = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, gatherMs);
      this.pc.onGatheringStateChange((state) => {
        if (state === 'complete') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    for (const m of media) {
      const desc = m.kind === 'video' ? new Video(m.mid, m.direction) : new Audio(m.mid, m.direction);
      if (m.codec) {
        // An offer without parameters gets none back: libdatachannel would write an empty a=fmtp line.
        const fmtp = m.codec.fmtp === '' ? undefined : m.codec.fmtp;
        if (m.codec.name === 'H264' && desc instanceof Video) {
          if (fmtp === undefined) desc.addVideoCodec(m.codec.payloadType, 'H264/90000');
          else desc.addH264Codec(m.codec.payloadType, fmtp);
          if (m.rtx !== undefined) desc.addRTXCodec(m.rtx, m.codec.payloadType, 90000);
        }
        else if (m.codec.name === 'OPUS' && desc instanceof Audio) {
          if (fmtp === undefined) desc.addAudioCodec(m.codec.payloadType, 'opus/48000/2');
          else desc.addOpusCodec(m.codec.payloadType, fmtp);
        }
        else if (desc instanceof Audio) desc.addAudioCodec(m.codec.payloadType, `${m.codec.name}/8000/1`);
      }
      for (const line of m.lines ?? []) desc.parseSdpLine(line);
      if (m.ssrc !== undefined) desc.addSSRC(m.ssrc, 'streamgate', 'streamgate', `${m.kind}0`);
      // No native media handler either way: RTCP is ours in JS. Sent media: NACKs are answered
      // from each reader's history (WhepOutput), because a native handler that sends while the
      // track closes throws on a libdatachannel thread, which aborts the process. Received
      // media: receiver reports, NACKs and PLIs (WhipSession); a track without a handler passes
      // the RTCP we send whatever its direction, and hands us the sender's reports.
      this.tracks.set(m.mid, this.pc.addTrack(desc));
    }
    // Our tracks first, then the offer: libdatachannel answers it at once with them (same mids).
    // An answer written by an explicit setLocalDescription cannot fail safely: node-datachannel
    // does not catch there, and a failed ICE gathering (the UDP port taken by another process, the
    // port range used up) aborts the process. Inside setRemoteDescription it is a JS error.
    try {
      this.pc.setRemoteDescription(this.holdCandidates(offer), 'offer');
    } catch (error) {
      const message = (error as Error).message.replace(/^libdatachannel error while adding remote description: /, '');
      throw /gather|ICE agent|bind/i.test(message) ? new WebRtcNoPortError(message, this.where) : new SdpInvalidError(message);
    }
    await gathered;
    const local = this.pc.localDescription();
    if (!local) throw new Error('libdatachannel produced no answer');
    return local.sdp;
  }

  /** The offer's candidates, held back until the answer is on its way (see holdCandidates). */
  private heldCandidates: { candidate: string; mid: string }[] = [];

  /**
   * The offer without its candidates. With them, our connectivity checks could reach the client
   * before it has read the answer; a libdatachannel client (OBS) then starts DTLS without our
   * fingerprint and fails. Without them, the client connects to our candidates once it has the
   * answer (browsers at once), and ours follow (releaseCandidates, after the HTTP response).
   */
  private holdCandidates(offer: string): string {
    const kept: string[] = [];
    let mid = '';
    for (const line of offer.split(/\r?\n/)) {
      if (line.startsWith('m=')) mid = '';
      else if (line.startsWith('a=mid:')) mid = line.slice(6).trim();
      if (line.startsWith('a=candidate:')) {
        this.heldCandidates.push({ candidate: line.slice(2), mid });
        continue;
      }
      if (line.startsWith('a=end-of-candidates')) continue;
      kept.push(line);
    }
    return kept.join('\r\n');
  }

  /** Gives ICE the offer's candidates (call once the answer is sent). */
  releaseCandidates(): void {
    const held = this.heldCandidates;
    this.heldCandidates = [];
    for (const c of held) {
      if (this.closed) return;
      try {
        this.pc.addRemoteCandidate(c.candidate, c.mid);
      } catch {
        // a candidate libjuice cannot use (mDNS .local names, TCP): the others still work
      }
    }
  }

  /** Adds a trickled remote candidate (WHIP/WHEP PATCH). */
  addRemoteCandidate(candidate: string, mid: string): void {
    this.pc.addRemoteCandidate(candidate, mid);
  }

  /** The selected pair's remote address, once connected. */
  remoteAddress(): string | undefined {
    try {
      const pair = this.pc.getSelectedCandidatePair();
      return pair ? `${pair.remote.address}:${pair.remote.port}` : undefined;
    } catch {
      return undefined;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // The peer connection closes its tracks itself, transport first. Closing a track before its
    // transport lets a late NACK make libdatachannel send on a closed track, which aborts the process.
    this.pc.close();
  }
}

/**
 * Binds the ICE UDP mux port for as long as the gateway runs: libjuice shares this socket with
 * every session's agent. Without it the port is bound by the first session and freed with the
 * last, so another process could take it in between (and the next session would find it gone).
 * Throws when the port is taken now.
 */
export function reserveUdpMux(port: number, bindAddress: string): { close(): void } {
  // The same bind address as the agents' (Peer): libjuice shares a socket only with an equal one.
  const specific = specificAddress(bindAddress);
  let listener: InstanceType<typeof IceUdpMuxListener>;
  try {
    listener = specific ? new IceUdpMuxListener(port, specific) : new IceUdpMuxListener(port);
  } catch (error) {
    throw new Error(`WebRTC ICE UDP port ${port}${specific ? ` on ${specific}` : ''}: ${(error as Error).message} (in use by another process? webrtc.udpPort)`);
  }
  return { close: () => listener.stop() };
}

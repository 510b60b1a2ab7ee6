/**
 * Core frames to WebRTC (the only place that does): the shared RTP stream format in WebRTC's
 * cache slot, so a frame is packetized once for every WHEP reader of the stream. Each reader
 * walks the shared packets and hands them to its own tracks; libdatachannel copies each packet
 * synchronously before SRTP-encrypting it, so a reader may stamp its negotiated payload type
 * into the shared bytes right before sending (the next reader stamps its own).
 */
import type { Track } from '../../core/media.js';
import type { ReaderOutput } from '../../core/reader.js';
import type { Stream } from '../../core/stream.js';
import { RTP_HEADER_SIZE, senderReportLsr } from '../../formats/rtp/rtp.js';
import { RtpStreamFormat } from '../../formats/rtp/stream-format.js';
import type { MediaTrack } from './engine.js';

/** MediaFrame.wire slot of WebRTC (see WIRE_SLOTS in core/media.ts). */
export const WEBRTC_WIRE_SLOT = 6;

export class WebRtcStreamFormat extends RtpStreamFormat {
  constructor(stream: Stream, maxPayload: number) {
    // G.711 in 20 ms packets: what browsers send and NetEq expects (RTMP carries ~128 ms per frame).
    super(stream, 'webrtc', WEBRTC_WIRE_SLOT, maxPayload, 160);
  }
}

/** One negotiated outgoing track of a reader. */
export interface SendTrack {
  readonly track: MediaTrack;
  /** The payload type the browser's offer gave the codec. */
  readonly payloadType: number;
  /** Hub codec this track carries; packets of another codec (a publisher that switched) are not sent. */
  readonly codec: Track['codec'];
}

/** Times our sender reports went out, by LSR (RFC 3550 §6.4.1), for round-trip times from receiver reports. */
export class SenderReportClock {
  private readonly lsr = new Uint32Array(8);
  private readonly at = new Float64Array(8);
  private next = 0;

  sent(lsr: number, now: number): void {
    this.lsr[this.next] = lsr;
    this.at[this.next] = now;
    this.next = (this.next + 1) & 7;
  }

  /** Round trip in ms for a report block's LSR and DLSR (1/65536 s), or -1 when the LSR is unknown. */
  rttMs(lsr: number, dlsr: number, now: number): number {
    if (lsr === 0) return -1;
    for (let i = 0; i < 8; i++) {
      if (this.lsr[i] === lsr) return Math.max(0, now - this.at[i]! - (dlsr / 65536) * 1000);
    }
    return -1;
  }
}

/**
 * A WHEP reader's output: no container headers (the SDP carried the codecs; keyframes carry
 * SPS/PPS in band), and writes that never back up (UDP: congestion shows as loss and NACKs,
 * which libdatachannel answers from its retransmission buffer).
 */
/** RTP packets a reader keeps for retransmission (RFC 4585 §6.2.1 NACK), per track: ~2 s at 2 Mbps. */
const HISTORY = 512;

/** The last HISTORY packets sent on one track, by sequence number (views of the shared bytes). */
class SendHistory {
  private readonly packets: (Buffer | undefined)[] = new Array<Buffer | undefined>(HISTORY);

  keep(packet: Buffer): void {
    this.packets[packet.readUInt16BE(2) % HISTORY] = packet;
  }

  get(sequence: number): Buffer | undefined {
    const p = this.packets[sequence % HISTORY];
    return p !== undefined && p.readUInt16BE(2) === sequence ? p : undefined;
  }
}

export class WhepOutput implements ReaderOutput {
  readonly protocol = 'webrtc';
  packetsSent = 0;
  retransmitted = 0;
  private readonly videoHistory = new SendHistory();
  private readonly audioHistory = new SendHistory();
  bytesSent = 0;
  readonly senderReports = new SenderReportClock();

  constructor(
    readonly format: WebRtcStreamFormat,
    readonly remoteAddress: string,
    private readonly stream: Stream,
    private readonly video: SendTrack | undefined,
    private readonly audio: SendTrack | undefined,
    private readonly onClose: (error?: Error) => void,
  ) {}

  headers(): readonly Buffer[] {
    return [];
  }

  write(bytes: Buffer): boolean {
    // Channel 2i carries track i's RTP, 2i+1 its RTCP; track 0 is the video when there is one.
    const stream = this.stream;
    const hasVideo = stream.videoTrack !== undefined;
    // A publisher that came back with other codecs: what this session did not negotiate is not sent.
    const video = this.video && stream.videoTrack?.codec === this.video.codec ? this.video : undefined;
    const audio = this.audio && stream.audioTrack?.codec === this.audio.codec ? this.audio : undefined;
    let pos = 0;
    while (pos + 4 <= bytes.length) {
      const channel = bytes[pos + 1]!;
      const length = bytes.readUInt16BE(pos + 2);
      const start = pos + 4;
      pos = start + length;
      if (pos > bytes.length) break;
      const out = channel >> 1 === 0 && hasVideo ? video : audio;
      if (out === undefined) continue;
      if ((channel & 1) === 0) {
        if (length < RTP_HEADER_SIZE) continue;
        bytes[start + 1] = (bytes[start + 1]! & 0x80) | out.payloadType;
        this.packetsSent++;
      } else if (length >= 20) {
        this.senderReports.sent(senderReportLsr(bytes, start), Date.now());
      }
      const packet = bytes.subarray(start, pos);
      if ((channel & 1) === 0) (out === this.video ? this.videoHistory : this.audioHistory).keep(packet);
      try {
        out.track.sendMessageBinary(packet);
      } catch {
        continue; // the track is closed (node-datachannel throws): the session is ending
      }
      this.bytesSent += length;
    }
    return true;
  }

  /**
   * Sends again the packets a generic NACK lists (RFC 4585 §6.2.1: PID and a bitmask of the 16
   * after it), from what this reader sent; packets it no longer has are skipped (the browser asks
   * for a keyframe when the gap stays).
   */
  retransmit(rtcp: Buffer, offset: number, length: number): void {
    const ssrc = rtcp.readUInt32BE(offset + 8);
    const target = this.video && this.format.ssrcOf('video') === ssrc ? this.video : this.audio && this.format.ssrcOf('audio') === ssrc ? this.audio : undefined;
    if (!target) return;
    const history = target === this.video ? this.videoHistory : this.audioHistory;
    for (let f = offset + 12; f + 4 <= offset + length; f += 4) {
      const pid = rtcp.readUInt16BE(f);
      const blp = rtcp.readUInt16BE(f + 2);
      for (let i = 0; i <= 16; i++) {
        if (i > 0 && (blp & (1 << (i - 1))) === 0) continue;
        const packet = history.get((pid + i) & 0xffff);
        if (!packet || !target.track.isOpen()) continue;
        packet[1] = (packet[1]! & 0x80) | target.payloadType;
        try {
          target.track.sendMessageBinary(packet);
          this.retransmitted++;
        } catch {
          return;
        }
      }
    }
  }

  close(error?: Error): void {
    this.onClose(error);
  }
}

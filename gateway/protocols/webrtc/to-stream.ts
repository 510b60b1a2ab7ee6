/**
 * WHIP media to the hub (the only place that maps WebRTC in): the negotiated H.264 and Opus
 * tracks as RTP tracks of the shared RTP ingest (formats/rtp/to-stream.ts), which
 * depacketizes, reads in-band SPS/PPS, waits for a keyframe after a loss and puts both tracks
 * on one timeline. Packets are put back in order first (UDP reorders), and a video gap is
 * reported as it opens so the session NACKs it: the retransmission fills the gap while the
 * packets after it wait (webrtc.retransmitWaitMs), and no keyframe is needed. Reception
 * statistics per track feed the receiver reports the session sends.
 */
import type { AudioTrack } from '../../core/media.js';
import type { PublishSession } from '../../core/stream.js';
import { RtpReceiverStats } from '../../formats/rtp/rtcp-receiver.js';
import { forEachRtcp, parseRtp, RTCP_SR_SIZE, readSenderReport, RtpReorderer, senderReportLsr } from '../../formats/rtp/rtp.js';
import type { MediaTrack as RtpMediaTrack } from '../../formats/rtp/sdp.js';
import { RtpToStream } from '../../formats/rtp/to-stream.js';
import { rtpExtension16, TransportFeedback } from '../../formats/rtp/twcc.js';

export interface WhipTrack {
  readonly kind: 'video' | 'audio';
  readonly payloadType: number;
  readonly codec: 'H264' | 'OPUS';
  readonly channels: number;
  /** RTX payload type negotiated for the video (RFC 4588), or undefined. */
  readonly rtxPayloadType?: number;
}

function rtpTrack(t: WhipTrack): RtpMediaTrack {
  const clockRate = t.codec === 'H264' ? 90000 : 48000;
  const media = { type: t.kind, payloadType: t.payloadType, encoding: t.codec, clockRate, channels: t.channels, fmtp: new Map<string, string>(), control: '' };
  if (t.codec === 'H264') return { media, codec: 'H264', clockRate, track: undefined };
  const track: AudioTrack = { kind: 'audio', codec: 'OPUS', config: Buffer.alloc(0), sampleRate: 48000, channels: t.channels };
  return { media, codec: 'OPUS', clockRate, track };
}

export interface WhipIngestEvents {
  /** Video packets `first`..`first + count - 1` of the source `ssrc` are missing: NACK them. */
  missing(ssrc: number, first: number, count: number): void;
  /** A sender report arrived: time for a receiver report. */
  senderReport(): void;
  /** An extended report (RTCP XR) is at `offset` of `buf`: the answer to our reference time. */
  extendedReport(buf: Buffer, offset: number, length: number, nowMs: number): void;
}

/** Reorder window for WHIP video: a keyframe's packets, so a gap in one can wait for its NACK. */
const WHIP_REORDER_PACKETS = 512;

export class WhipIngest {
  private readonly to: RtpToStream;
  private readonly reorderers: RtpReorderer[];
  /** Reception statistics per track, in track order (the receiver report's blocks). */
  readonly stats: RtpReceiverStats[];
  /** Transport-wide arrival times, when the answer negotiated transport-cc (its extension id). */
  readonly transportFeedback: TransportFeedback | undefined;
  packetsReceived = 0;
  bytesReceived = 0;
  badPackets = 0;
  /** RTX packets: retransmissions and padding on the retransmission SSRC. */
  rtxPackets = 0;

  constructor(
    session: PublishSession,
    readonly tracks: readonly WhipTrack[],
    private readonly events: WhipIngestEvents,
    retransmitWaitMs: number,
    private readonly transportCcId = -1,
  ) {
    this.transportFeedback = transportCcId > 0 ? new TransportFeedback() : undefined;
    this.to = new RtpToStream(session, tracks.map(rtpTrack));
    this.stats = tracks.map((t) => new RtpReceiverStats(t.codec === 'H264' ? 90000 : 48000));
    this.reorderers = tracks.map((t, i) => {
      const stats = this.stats[i]!;
      // Browsers retransmit video on NACK; Opus has in-band FEC and is not asked again.
      return t.kind === 'video'
        ? new RtpReorderer((pkt) => this.to.push(i, pkt), { maxWaitMs: retransmitWaitMs, maxPackets: WHIP_REORDER_PACKETS, onMissing: (first, count) => events.missing(stats.ssrc, first, count) })
        : new RtpReorderer((pkt) => this.to.push(i, pkt));
    });
  }

  /**
   * NACKs again the video packets still missing once the oldest has waited `minAgeMs`: the first
   * NACK or its retransmission can be lost too (at 10 % loss, one gap in ten).
   */
  nackAgain(nowMs: number, minAgeMs: number): void {
    this.tracks.forEach((t, i) => {
      if (t.kind !== 'video') return;
      const ssrc = this.stats[i]!.ssrc;
      this.reorderers[i]!.forEachMissing(nowMs, minAgeMs, (first, count) => this.events.missing(ssrc, first, count));
    });
  }

  /** Missing video packets that arrived in time (retransmitted on our NACK, or reordered). */
  get recoveredPackets(): number {
    let n = 0;
    this.tracks.forEach((t, i) => {
      if (t.kind === 'video') n += this.reorderers[i]!.recovered;
    });
    return n;
  }

  /** RTP packets the depacketizers found missing, audio and video. */
  get lostPackets(): number {
    return this.to.stats.lostPackets;
  }

  /** Video packets given up on (not filled by a retransmission): a PLI gets the picture back. */
  get videoLostPackets(): number {
    const index = this.tracks.findIndex((t) => t.kind === 'video');
    return index < 0 ? 0 : this.to.lostPacketsOf(index);
  }

  /** A message of track `index` (RTP, or RTCP that libdatachannel passed up). */
  message(index: number, msg: Buffer): void {
    if (msg.length < 8) return;
    this.bytesReceived += msg.length;
    const type = msg[1]!;
    if (type >= 200 && type <= 207) {
      const now = Date.now();
      let senderReports = 0;
      forEachRtcp(msg, (t, _count, offset, length) => {
        if (t === 207) {
          this.events.extendedReport(msg, offset, length, now);
        } else if (t === 200 && length >= RTCP_SR_SIZE) {
          const sr = readSenderReport(msg, offset);
          this.to.senderReport(index, sr.ntpMs, sr.rtpTimestamp);
          for (const s of this.stats) if (s.ssrc === sr.ssrc) s.senderReport(senderReportLsr(msg, offset), now);
          senderReports++;
        }
      });
      if (senderReports > 0) this.events.senderReport();
      return;
    }
    this.packetsReceived++;
    if (this.transportFeedback) {
      const seq = rtpExtension16(msg, this.transportCcId);
      if (seq >= 0) this.transportFeedback.record(seq, performance.now() * 1000);
    }
    try {
      const pkt = parseRtp(msg);
      const now = Date.now();
      if (pkt.payloadType === this.tracks[index]?.rtxPayloadType) {
        // RTX (RFC 4588 §4): the original sequence number, then the original payload; padding
        // from the sender's rate control has no payload and is dropped here.
        this.rtxPackets++;
        if (pkt.payload.length > 2) {
          this.reorderers[index]?.push({ ...pkt, payloadType: this.tracks[index]!.payloadType, ssrc: this.stats[index]!.ssrc, sequence: pkt.payload.readUInt16BE(0), payload: pkt.payload.subarray(2) }, now);
        }
        return;
      }
      this.stats[index]?.packet(pkt.ssrc, pkt.sequence, pkt.timestamp, now);
      this.reorderers[index]?.push(pkt, now);
    } catch {
      // Not RTP: counted, never fatal (DTLS already authenticated the peer).
      this.badPackets++;
    }
  }
}

/**
 * WHIP media to the hub (the only place that maps WebRTC in): the negotiated H.264 and Opus
 * tracks as RTP tracks of the shared RTP ingest (formats/rtp/to-stream.ts), which
 * depacketizes, reads in-band SPS/PPS, waits for a keyframe after a loss and puts both tracks
 * on one timeline. Packets are put back in order first (UDP reorders; NACK retransmissions come
 * late).
 */
import type { AudioTrack } from '../../core/media.js';
import type { PublishSession } from '../../core/stream.js';
import { parseRtcpSenderReports, parseRtp, RtpReorderer } from '../../formats/rtp/rtp.js';
import type { MediaTrack as RtpMediaTrack } from '../../formats/rtp/sdp.js';
import { RtpToStream } from '../../formats/rtp/to-stream.js';

export interface WhipTrack {
  readonly kind: 'video' | 'audio';
  readonly payloadType: number;
  readonly codec: 'H264' | 'OPUS';
  readonly channels: number;
}

function rtpTrack(t: WhipTrack): RtpMediaTrack {
  const clockRate = t.codec === 'H264' ? 90000 : 48000;
  const media = { type: t.kind, payloadType: t.payloadType, encoding: t.codec, clockRate, channels: t.channels, fmtp: new Map<string, string>(), control: '' };
  if (t.codec === 'H264') return { media, codec: 'H264', clockRate, track: undefined };
  const track: AudioTrack = { kind: 'audio', codec: 'OPUS', config: Buffer.alloc(0), sampleRate: 48000, channels: t.channels };
  return { media, codec: 'OPUS', clockRate, track };
}

export class WhipIngest {
  private readonly to: RtpToStream;
  private readonly reorderers: RtpReorderer[];
  packetsReceived = 0;
  bytesReceived = 0;
  badPackets = 0;

  constructor(session: PublishSession, readonly tracks: readonly WhipTrack[]) {
    this.to = new RtpToStream(session, tracks.map(rtpTrack));
    this.reorderers = tracks.map((_, i) => new RtpReorderer((pkt) => this.to.push(i, pkt)));
  }

  /** RTP packets the depacketizers found missing (a PLI upstream gets the picture back). */
  get lostPackets(): number {
    return this.to.stats.lostPackets;
  }

  /** A message of track `index` (RTP, or RTCP that libdatachannel passed up). */
  message(index: number, msg: Buffer): void {
    if (msg.length < 8) return;
    this.bytesReceived += msg.length;
    const type = msg[1]!;
    if (type >= 200 && type <= 206) {
      for (const sr of parseRtcpSenderReports(msg)) this.to.senderReport(index, sr.ntpMs, sr.rtpTimestamp);
      return;
    }
    this.packetsReceived++;
    try {
      this.reorderers[index]?.push(parseRtp(msg), Date.now());
    } catch {
      // Not RTP: counted, never fatal (DTLS already authenticated the peer).
      this.badPackets++;
    }
  }
}

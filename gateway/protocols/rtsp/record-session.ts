/**
 * The record half of an RTSP server connection (ANNOUNCE, SETUP, RECORD): the announced tracks,
 * the publish session admitted for them, and RTP/RTCP from the pusher mapped into the hub by
 * RtpToStream, over TCP interleaved channels or UDP.
 */
import type { PublishSession } from '../../core/stream.js';
import { parseRtcpSenderReports, parseRtp, type RtpPacket } from '../../formats/rtp/rtp.js';
import type { MediaTrack } from '../../formats/rtp/sdp.js';
import { RtpToStream } from '../../formats/rtp/to-stream.js';

export class RecordSession {
  /** True after RECORD: media is accepted only then. */
  recording = false;
  private readonly toStream: RtpToStream;

  constructor(
    private readonly session: PublishSession,
    readonly tracks: readonly MediaTrack[],
  ) {
    this.toStream = new RtpToStream(session, tracks);
  }

  /** The SDP controls SETUP URLs are matched against. */
  get controls(): string[] {
    return this.tracks.map((t) => t.media.control);
  }

  /** `H264+MPEG4-GENERIC`, for the log line RECORD writes. */
  get kinds(): string {
    return this.tracks.map((t) => t.codec).join('+');
  }

  /** An RTP packet of track `index` (in order: UDP goes through a reorderer first). */
  push(index: number, packet: RtpPacket): void {
    if (this.recording) this.toStream.push(index, packet);
  }

  /** An interleaved TCP frame: RTP on the even channel of the track's pair, RTCP on the odd one. */
  interleaved(index: number, channel: number, payload: Buffer): void {
    if (!this.recording) return;
    if ((channel & 1) === 1) this.rtcp(index, payload);
    else this.toStream.push(index, parseRtp(payload));
  }

  /** A pusher's sender reports line its tracks up by its own clock. */
  rtcp(index: number, payload: Buffer): void {
    for (const report of parseRtcpSenderReports(payload)) this.toStream.senderReport(index, report.ntpMs, report.rtpTimestamp);
  }

  close(reason: string): void {
    this.recording = false;
    this.session.close(reason);
  }
}

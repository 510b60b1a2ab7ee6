/**
 * RTP media to core frames and tracks (the only place that does), for every RTP ingest: RTSP
 * RECORD, RTSP camera pulls and WebRTC (WHIP). Per track: depacketize, unwrap RTP timestamps, turn
 * them into milliseconds on one timeline, and for video derive dts in decode order, pick up
 * in-band parameter sets and hold back everything after a loss until the next keyframe.
 */
import { nalusToLengthPrefixed } from '../../codecs/annexb.js';
import { CodecError } from '../../codecs/errors.js';
import { AccessUnitScanner } from '../../codecs/access-unit.js';
import type { VideoCodec, VideoTrack } from '../../core/media.js';
import type { PublishSession } from '../../core/stream.js';
import { sameConfig } from '../tracks.js';
import { AAC_HBR, AacDepacketizer, G711Depacketizer, OpusDepacketizer } from './audio.js';
import { VideoDepacketizer } from './video.js';
import { type RtpPacket, TimestampUnwrapper } from './rtp.js';
import { type MediaTrack, parameterSetsOf, videoTrackFromParameterSets } from './sdp.js';

/** Counters for the API and tests; the per-packet path never logs. */
export interface IngestStats {
  packets: number;
  /** RTP packets missing from the sequence (the depacketizers' own count, all tracks). */
  readonly lostPackets: number;
  droppedFrames: number;
  badPackets: number;
  /** Times a track was moved to line up with the sender's clock after it started. */
  syncShifts: number;
}

/**
 * Decode timestamps for video whose RTP timestamps are presentation times (RFC 6184 §5.1).
 * Without reordering, dts = pts. Once a frame arrives with a pts below an earlier one
 * (B-frames), frames are spaced by the smallest pts step in decode order, re-anchored at each
 * keyframe to its pts minus the observed reorder depth, so dts is monotonic and <= pts.
 */
export class DtsExtractor {
  private prevPts: number | undefined;
  private maxPts = 0;
  private lastDts = 0;
  private step = 0;
  private depth = 0;

  next(pts: number, keyframe: boolean): number {
    if (this.prevPts === undefined) {
      this.prevPts = pts;
      this.maxPts = pts;
      this.lastDts = pts;
      return pts;
    }
    const d = pts - this.prevPts;
    this.prevPts = pts;
    if (d > 0 && (this.step === 0 || d < this.step)) this.step = d;
    if (pts < this.maxPts) this.depth = Math.max(this.depth, this.maxPts - pts);
    if (pts > this.maxPts) this.maxPts = pts;
    let dts: number;
    if (this.depth === 0) dts = pts;
    else if (keyframe) dts = Math.max(this.lastDts + 1, pts - this.depth);
    else dts = this.lastDts + (this.step || 1);
    if (dts > pts) dts = Math.max(this.lastDts, pts);
    if (dts < this.lastDts) dts = this.lastDts;
    this.lastDts = dts;
    return dts;
  }
}

interface TrackState {
  readonly media: MediaTrack;
  push(pkt: RtpPacket): void;
  readonly unwrap: TimestampUnwrapper;
  /** ms on the session timeline of this track's first packet. */
  baseMs: number | undefined;
  /** RTP timestamp of the first packet (the unwrapper's zero). */
  firstTimestamp: number;
  /** The latest RTCP sender report: the sender's wall clock for one RTP timestamp. */
  report: { ntpMs: number; rtpTimestamp: number } | undefined;
  /** Placed against the first track by sender reports (done once). */
  synced: boolean;
  /** Packets this track's depacketizer found missing. */
  lostPackets(): number;
}

/** Sync that would move a track by more than this is taken as bogus (a wrong clock) and ignored. */
const MAX_SYNC_SHIFT_MS = 5000;
/** Once flowing, a track is shifted only when the sender reports disagree by more than this. */
const LATE_SYNC_MIN_MS = 20;

/** Signed difference of two 32-bit RTP timestamps. */
function rtpDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/**
 * Maps the RTP tracks of one session (RTSP, WebRTC; in SDP order) to a PublishSession. Tracks without
 * SDP parameter sets are declared once in-band parameter sets arrive. `startMs` places the
 * first packet on the timeline (a pull that reconnects continues after its last frame).
 */
export class RtpToStream {
  readonly stats: IngestStats;
  private readonly tracks: TrackState[];
  /** The track whose first packet came first: the others are placed against it. */
  private first: TrackState | undefined;
  private readonly startWall = Date.now();
  /** Highest dts written (ms): where a follow-up session should continue. */
  lastDts = -1;
  private waitKeyframe = true;
  /** Keyframes and in-band parameter sets of the video track (one video track per session). */
  private scanner: AccessUnitScanner | undefined;
  private readonly dts = new DtsExtractor();
  private videoClock = 90000;

  constructor(
    private readonly session: PublishSession,
    mediaTracks: readonly MediaTrack[],
    private readonly startMs = 0,
  ) {
    this.tracks = mediaTracks.map((m) => this.trackState(m));
    const tracks = this.tracks;
    this.stats = {
      packets: 0,
      droppedFrames: 0,
      badPackets: 0,
      syncShifts: 0,
      get lostPackets() {
        let n = 0;
        for (const t of tracks) n += t.lostPackets();
        return n;
      },
    };
    for (const m of mediaTracks) {
      if (m.track?.kind === 'audio' && !sameConfig(session.stream.audioTrack, m.track.codec, m.track.config)) session.setAudioTrack(m.track);
      if (m.track?.kind === 'video' && !sameConfig(session.stream.videoTrack, m.track.codec, m.track.config)) session.setVideoTrack(m.track);
    }
  }
  /** Packets the depacketizer of track `index` (SDP order) found missing. */
  lostPacketsOf(index: number): number {
    return this.tracks[index]?.lostPackets() ?? 0;
  }


  /** An RTP packet for track `index` (SDP order). Throws ProtocolError for a packet that is not RTP. */
  push(index: number, pkt: RtpPacket): void {
    const t = this.tracks[index];
    if (!t) return;
    this.stats.packets++;
    if (pkt.payloadType !== t.media.media.payloadType) {
      this.stats.badPackets++;
      return;
    }
    t.push(pkt);
  }

  /**
   * An RTCP sender report for track `index` (RFC 3550 §6.4.1). Tracks start on the timeline when
   * their first packet arrives; with sender reports, a later track is placed against the first
   * by the sender's own clock instead, so audio and video captured together carry the same time
   * even when one of them reaches us later (an encoder's audio buffer, a camera's queue).
   */
  senderReport(index: number, ntpMs: number, rtpTimestamp: number): void {
    const t = this.tracks[index];
    if (!t) return;
    t.report = { ntpMs, rtpTimestamp: rtpTimestamp >>> 0 };
    if (this.first !== undefined) this.syncStarted();
  }

  /** True once every track that started after the first is placed by sender reports. */
  get syncedBySenderReports(): boolean {
    let others = 0;
    for (const t of this.tracks) {
      if (t === this.first || t.baseMs === undefined) continue;
      if (!t.synced) return false;
      others++;
    }
    return others > 0;
  }

  private toMs(t: TrackState, timestamp: number): number {
    const ticks = t.unwrap.unwrap(timestamp);
    if (t.baseMs === undefined) {
      t.firstTimestamp = timestamp >>> 0;
      const arrival = this.startMs + (Date.now() - this.startWall);
      if (this.first === undefined) {
        this.first = t;
        t.baseMs = arrival;
      } else {
        let synced = this.syncedBase(t);
        t.synced = synced !== undefined && Math.abs(synced - arrival) <= MAX_SYNC_SHIFT_MS;
        const start = this.first.baseMs!;
        if (t.synced && synced! < start) {
          // Captured before the first track's first frame: move the started tracks ahead rather
          // than put this one before the start of the timeline.
          for (const other of this.tracks) if (other.baseMs !== undefined) other.baseMs += start - synced!;
          synced = start;
        }
        t.baseMs = t.synced ? synced! : arrival;
      }
    }
    return Math.round(t.baseMs + (ticks * 1000) / t.media.clockRate);
  }

  /** Where track `t`'s first packet belongs relative to the first track, by sender reports. */
  private syncedBase(t: TrackState): number | undefined {
    const r = this.first!;
    if (!r.report || !t.report) return undefined;
    const msFromFirst = (x: TrackState, to: number) => (rtpDiff(to, x.firstTimestamp) * 1000) / x.media.clockRate;
    return r.baseMs! + msFromFirst(r, r.report.rtpTimestamp) - msFromFirst(t, t.report.rtpTimestamp) + (t.report.ntpMs - r.report.ntpMs);
  }

  /**
   * Sender reports came after the tracks started: line each track up with the first once. The
   * timeline only moves forward: a track that should move back moves the others ahead instead
   * (a one-time gap in them, never timestamps going back).
   */
  private syncStarted(): void {
    for (const t of this.tracks) {
      if (t === this.first || t.synced || t.baseMs === undefined) continue;
      const base = this.syncedBase(t);
      if (base === undefined) continue;
      const shift = base - t.baseMs;
      if (Math.abs(shift) > MAX_SYNC_SHIFT_MS) continue; // a wrong clock: stay by arrival
      t.synced = true;
      if (Math.abs(shift) <= LATE_SYNC_MIN_MS) continue;
      if (shift > 0) t.baseMs = base;
      else for (const other of this.tracks) if (other !== t && other.baseMs !== undefined) other.baseMs -= shift;
      this.stats.syncShifts++;
    }
  }

  private trackState(m: MediaTrack): TrackState {
    const unwrap = new TimestampUnwrapper();
    const state: TrackState = { media: m, unwrap, baseMs: undefined, firstTimestamp: 0, report: undefined, synced: false, push: () => {}, lostPackets: () => 0 };
    if (m.codec === 'H264' || m.codec === 'H265') {
      const codec = m.codec;
      this.videoClock = m.clockRate;
      this.scanner = new AccessUnitScanner(codec);
      if (m.track?.kind === 'video') this.seedParameterSets(this.scanner, m.track);
      const d = new VideoDepacketizer(codec, {
        accessUnit: (nalus, ts) => this.videoAccessUnit(state, codec, nalus, ts),
        lost: () => (this.waitKeyframe = true),
      });
      state.push = (pkt) => d.push(pkt);
      state.lostPackets = () => d.lostPackets;
    } else if (m.codec === 'AAC') {
      const d = new AacDepacketizer(m.aac ?? AAC_HBR, {
        frame: (payload, ts) => this.audioFrame(state, payload, ts),
        lost: () => {},
      });
      state.push = (pkt) => d.push(pkt);
      state.lostPackets = () => d.lostPackets;
    } else if (m.codec === 'OPUS') {
      const d = new OpusDepacketizer({
        frame: (payload, ts) => this.audioFrame(state, payload, ts),
        lost: () => this.stats.badPackets++,
      });
      state.push = (pkt) => d.push(pkt);
      state.lostPackets = () => d.lostPackets;
    } else {
      const d = new G711Depacketizer({ frame: (payload, ts) => this.audioFrame(state, payload, ts), lost: () => {} });
      state.push = (pkt) => d.push(pkt);
      state.lostPackets = () => d.lostPackets;
    }
    return state;
  }

  private seedParameterSets(scanner: AccessUnitScanner, track: VideoTrack): void {
    try {
      // Parameter sets from the SDP's track, so in-band repeats of the same sets change nothing.
      scanner.seed(parameterSetsOf(scanner.codec, track.config));
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
    }
  }

  private audioFrame(t: TrackState, payload: Buffer, timestamp: number): void {
    const ms = this.toMs(t, timestamp);
    if (ms > this.lastDts) this.lastDts = ms;
    this.session.writeAudio(ms, payload);
  }

  private videoAccessUnit(t: TrackState, codec: VideoCodec, nalus: Buffer[], timestamp: number): void {
    const scanner = this.scanner!;
    nalus = scanner.scan(nalus);
    const keyframe = scanner.keyframe;
    const ptsTicksMs = this.toMs(t, timestamp);
    if (scanner.paramsChanged || this.session.stream.videoTrack?.codec !== codec) {
      const track = videoTrackFromParameterSets(codec, scanner.vps, scanner.sps, scanner.pps);
      if (track && !sameConfig(this.session.stream.videoTrack, codec, track.config)) this.session.setVideoTrack(track);
    }
    if (this.session.stream.videoTrack?.codec !== codec) {
      this.stats.droppedFrames++; // no parameter sets yet
      return;
    }
    if (this.waitKeyframe) {
      if (!keyframe) {
        this.stats.droppedFrames++;
        return;
      }
      this.waitKeyframe = false;
    }
    // dts in clock ticks relative to this track's first packet, then to ms like pts.
    const ticks = ((ptsTicksMs - t.baseMs!) * this.videoClock) / 1000;
    const dtsTicks = this.dts.next(ticks, keyframe);
    const dts = Math.round(t.baseMs! + (dtsTicks * 1000) / this.videoClock);
    if (dts > this.lastDts) this.lastDts = dts;
    this.session.writeVideo(dts, ptsTicksMs, keyframe, nalusToLengthPrefixed(nalus));
  }
}

/**
 * Movie fragments (moof + mdat, ISO/IEC 14496-12 §8.8) from hub frames: one traf per track, a
 * trun listing every sample, tfdt v1 with the decode time, default-base-is-moof data offsets
 * (the CMAF fragment layout of ISO/IEC 23000-19 §7.3.2.2).
 */
import { FrameKind, type MediaFrame } from '../../core/media.js';
import { opusPacketSamples } from '../../codecs/opus.js';
import { AUDIO_TRACK_ID, audioTimescale, type Mp4Tracks, VIDEO_TRACK_ID } from './init.js';

/** sample_depends_on = 2 (an I-frame) — §8.8.3.1 sample flags. */
const FLAGS_SYNC = 0x02000000;
/** sample_depends_on = 1, sample_is_non_sync_sample = 1. */
const FLAGS_NON_SYNC = 0x01010000;
/** AAC access units are 1024 samples (ISO/IEC 14496-3 §4.5.2.1, frameLengthFlag 0). */
const AAC_FRAME_SAMPLES = 1024;
/** Audio that drifts further than this from its frames' timestamps is re-anchored (a gap or a jump). */
const AUDIO_RESYNC_SECONDS = 0.1;

const MFHD_SIZE = 16;
const TFHD_SIZE = 16;
const TFDT_SIZE = 20;
const TRUN_FIXED = 20;
const VIDEO_SAMPLE_BYTES = 16;
const AUDIO_SAMPLE_BYTES = 8;

export interface Fragment {
  /** moof + mdat header, then the sample payloads as they are (no copy). */
  readonly chunks: readonly Buffer[];
  readonly byteLength: number;
  /** Decode time (ms, on the writer's timeline) of the first and past the last video/audio sample. */
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * Writes the fragments of one fMP4 timeline. Times are `dts - baseDts` (ms) scaled to each track's
 * timescale: HLS uses the stream's own timeline (base 0), a recording file starts at 0.
 */
export class FragmentWriter {
  private sequence = 0;
  private nextAudioTime: number | undefined;
  private lastVideoDuration = 0;
  private readonly audioRate: number;
  /** Opus packets vary in length (2.5-120 ms): each sample's duration comes from its TOC (RFC 6716 §3.1). */
  private readonly opus: boolean;

  constructor(
    readonly tracks: Mp4Tracks,
    readonly baseDts = 0,
  ) {
    this.audioRate = tracks.audio ? audioTimescale(tracks.audio) : 48_000;
    this.opus = tracks.audio?.codec === 'OPUS';
  }

  /**
   * A fragment holding `frames` (arrival order; frames of tracks not in this timeline are left
   * out). `endDts` is where the fragment ends (the next fragment's first video dts): it gives the
   * last video sample its duration.
   */
  write(frames: readonly MediaFrame[], endDts: number): Fragment {
    const video: MediaFrame[] = [];
    const audio: MediaFrame[] = [];
    let videoBytes = 0;
    let audioBytes = 0;
    for (const f of frames) {
      if (f.kind === FrameKind.Video) {
        if (!this.tracks.video) continue;
        video.push(f);
        videoBytes += f.payload.length;
      } else {
        if (!this.tracks.audio) continue;
        audio.push(f);
        audioBytes += f.payload.length;
      }
    }
    const videoTrafSize = video.length ? 8 + TFHD_SIZE + TFDT_SIZE + TRUN_FIXED + video.length * VIDEO_SAMPLE_BYTES : 0;
    const audioTrafSize = audio.length ? 8 + TFHD_SIZE + TFDT_SIZE + TRUN_FIXED + audio.length * AUDIO_SAMPLE_BYTES : 0;
    const moofSize = 8 + MFHD_SIZE + videoTrafSize + audioTrafSize;
    const header = Buffer.allocUnsafe(moofSize + 8);
    let o = 0;
    o = writeBoxHeader(header, o, moofSize, 'moof');
    o = writeBoxHeader(header, o, MFHD_SIZE, 'mfhd');
    header.writeUInt32BE(0, o);
    header.writeUInt32BE(++this.sequence, o + 4);
    o += 8;

    const base = this.baseDts;
    let startMs = Infinity;
    let endMs = -Infinity;
    if (video.length) {
      const t0 = Math.round((video[0]!.dts - base) * 90);
      o = writeTrafHead(header, o, videoTrafSize, VIDEO_TRACK_ID, Math.max(0, t0), video.length, 0x000f01, moofSize + 8);
      for (let i = 0; i < video.length; i++) {
        const f = video[i]!;
        const t = Math.round((f.dts - base) * 90);
        const next = i + 1 < video.length ? video[i + 1]!.dts : endDts;
        let duration = Math.round((next - base) * 90) - t;
        if (duration <= 0) duration = this.lastVideoDuration > 0 ? this.lastVideoDuration : 3600;
        this.lastVideoDuration = duration;
        header.writeUInt32BE(duration, o);
        header.writeUInt32BE(f.payload.length, o + 4);
        header.writeUInt32BE(f.keyframe ? FLAGS_SYNC : FLAGS_NON_SYNC, o + 8);
        header.writeInt32BE(Math.round((f.pts - f.dts) * 90), o + 12);
        o += VIDEO_SAMPLE_BYTES;
      }
      startMs = video[0]!.dts - base;
      endMs = Math.max(endDts, video[video.length - 1]!.dts) - base;
    }
    if (audio.length) {
      const rate = this.audioRate;
      const times = new Array<number>(audio.length);
      for (let i = 0; i < audio.length; i++) {
        const expected = Math.round(((audio[i]!.dts - base) * rate) / 1000);
        if (this.nextAudioTime === undefined || Math.abs(expected - this.nextAudioTime) > rate * AUDIO_RESYNC_SECONDS) {
          this.nextAudioTime = Math.max(0, expected);
        }
        times[i] = this.nextAudioTime;
        this.nextAudioTime += this.opus ? opusPacketSamples(audio[i]!.payload) : AAC_FRAME_SAMPLES;
      }
      o = writeTrafHead(header, o, audioTrafSize, AUDIO_TRACK_ID, times[0]!, audio.length, 0x000301, moofSize + 8 + videoBytes);
      for (let i = 0; i < audio.length; i++) {
        const duration = i + 1 < audio.length ? Math.max(0, times[i + 1]! - times[i]!) : this.nextAudioTime! - times[i]!;
        header.writeUInt32BE(duration, o);
        header.writeUInt32BE(audio[i]!.payload.length, o + 4);
        o += AUDIO_SAMPLE_BYTES;
      }
      const aStart = (times[0]! * 1000) / rate;
      const aEnd = (this.nextAudioTime! * 1000) / rate;
      if (aStart < startMs) startMs = aStart;
      if (aEnd > endMs) endMs = aEnd;
    }
    o = writeBoxHeader(header, o, 8 + videoBytes + audioBytes, 'mdat');
    const chunks: Buffer[] = [header];
    for (const f of video) chunks.push(f.payload);
    for (const f of audio) chunks.push(f.payload);
    if (startMs === Infinity) startMs = endMs = endDts - base;
    return { chunks, byteLength: header.length + videoBytes + audioBytes, startMs, endMs };
  }
}

function writeBoxHeader(buf: Buffer, o: number, size: number, type: string): number {
  buf.writeUInt32BE(size, o);
  buf.write(type, o + 4, 4, 'latin1');
  return o + 8;
}

/** traf header, tfhd (default-base-is-moof), tfdt v1 and the fixed part of trun v1. */
function writeTrafHead(buf: Buffer, o: number, trafSize: number, trackId: number, baseTime: number, samples: number, trunFlags: number, dataOffset: number): number {
  o = writeBoxHeader(buf, o, trafSize, 'traf');
  o = writeBoxHeader(buf, o, TFHD_SIZE, 'tfhd');
  buf.writeUInt32BE(0x020000, o); // default-base-is-moof
  buf.writeUInt32BE(trackId, o + 4);
  o += 8;
  o = writeBoxHeader(buf, o, TFDT_SIZE, 'tfdt');
  buf.writeUInt32BE(0x01000000, o);
  buf.writeBigUInt64BE(BigInt(baseTime), o + 4);
  o += 12;
  o = writeBoxHeader(buf, o, TRUN_FIXED + samples * (trunFlags === 0x000f01 ? VIDEO_SAMPLE_BYTES : AUDIO_SAMPLE_BYTES), 'trun');
  buf.writeUInt32BE(0x01000000 | trunFlags, o);
  buf.writeUInt32BE(samples, o + 4);
  buf.writeInt32BE(dataOffset, o + 8);
  return o + 12;
}


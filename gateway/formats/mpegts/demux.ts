/**
 * MPEG-2 transport stream demuxing (ISO/IEC 13818-1) into core tracks and access units, for any
 * ingest that receives TS (SRT today; UDP multicast or an HLS pull next). The muxer beside it is
 * `formats/mpegts.ts`.
 *
 * - 188-byte packets; garbage and partial packets between chunks are skipped by resyncing on two
 *   sync bytes 188 apart (§2.4.3.2); resyncs are counted.
 * - PAT and PMT sections (§2.4.4.3, §2.4.4.8) are checked with their CRC-32 and may span packets.
 *   The first program is demuxed: its first H.264 (0x1B) or H.265 (0x24) and its first AAC ADTS
 *   (0x0F) elementary stream. MPEG-1/2 audio (0x03, 0x04), AAC LATM (0x11), AC-3, MPEG-2 and
 *   MPEG-4 Part 2 video, and Opus (0x06 with a registration descriptor 'Opus', ETSI TS 102 366 /
 *   the Opus-in-TS mapping) are refused with UnsupportedCodecError naming what is supported.
 * - PES packets (§2.4.3.7) are reassembled per PID: bounded ones when complete, unbounded video
 *   ones (PES_packet_length 0) at the packet padded with adaptation field stuffing that ends them
 *   (else at the next payload_unit_start_indicator, one frame later). PTS/DTS are 33-bit 90 kHz
 *   values unwrapped onto one timeline in milliseconds (0 = the first timestamp seen).
 * - Continuity counter gaps are counted; the PES they hit is dropped, and video then waits for
 *   the next keyframe. Nothing here logs: callers read `stats`.
 *
 * The per-packet path is synchronous and only throws UnsupportedCodecError (from a PMT).
 */
import { buildAudioSpecificConfig, parseAdtsHeader } from '../../codecs/aac.js';
import { AccessUnitScanner } from '../../codecs/access-unit.js';
import { nalusToLengthPrefixed, splitAnnexB } from '../../codecs/annexb.js';
import { CodecError } from '../../codecs/errors.js';
import { UnsupportedCodecError } from '../../core/errors.js';
import type { AudioTrack, VideoCodec, VideoTrack } from '../../core/media.js';
import { crc32Mpeg2 } from '../mpegts.js';
import { aacTrackFromConfig, videoTrackFromParameterSets } from '../tracks.js';

export const TS_PACKET_SIZE = 188;
const SYNC = 0x47;
const PID_PAT = 0;
const PID_NULL = 0x1fff;
/** 2^33: PTS/DTS wrap (a little over 26.5 hours at 90 kHz). */
const TS_WRAP = 2 ** 33;
/** A PES larger than this (a broken length or endless garbage) is dropped, not buffered. */
const MAX_PES_BYTES = 8 * 1024 * 1024;
/** A PSI section is at most 1021 + 3 bytes (§2.4.4.3); anything longer is broken. */
const MAX_SECTION_BYTES = 1024;

/** stream_type values, ISO/IEC 13818-1 Table 2-34 and the registered private ones. */
export const STREAM_TYPE = {
  MPEG1_VIDEO: 0x01,
  MPEG2_VIDEO: 0x02,
  MPEG1_AUDIO: 0x03,
  MPEG2_AUDIO: 0x04,
  PRIVATE_PES: 0x06,
  AAC_ADTS: 0x0f,
  MPEG4_VIDEO: 0x10,
  AAC_LATM: 0x11,
  H264: 0x1b,
  H265: 0x24,
  AC3: 0x81,
  EAC3: 0x87,
} as const;

export const SUPPORTED_TS_CODECS = ['H264 (stream_type 0x1B)', 'H265 (0x24)', 'AAC ADTS (0x0F)'] as const;

/** Stream types that carry audio or video the gateway cannot take: refused, not silently dropped. */
const REFUSED_TYPES: ReadonlyMap<number, string> = new Map([
  [STREAM_TYPE.MPEG1_VIDEO, 'MPEG-1 video'],
  [STREAM_TYPE.MPEG2_VIDEO, 'MPEG-2 video'],
  [STREAM_TYPE.MPEG1_AUDIO, 'MPEG-1 audio (MP2/MP3)'],
  [STREAM_TYPE.MPEG2_AUDIO, 'MPEG-2 audio (MP2/MP3)'],
  [STREAM_TYPE.MPEG4_VIDEO, 'MPEG-4 Part 2 video'],
  [STREAM_TYPE.AAC_LATM, 'AAC LATM'],
  [STREAM_TYPE.AC3, 'AC-3'],
  [STREAM_TYPE.EAC3, 'E-AC-3'],
]);

/** What the demuxer hands on; timestamps in ms on the demuxer's timeline. */
export interface TsDemuxHandler {
  /** A new or changed video track (from in-band parameter sets). */
  videoTrack(track: VideoTrack): void;
  /** A new or changed AAC track (from the ADTS header). */
  audioTrack(track: AudioTrack): void;
  /** One access unit as 4-byte length-prefixed NAL units, without AUDs. */
  video(dts: number, pts: number, keyframe: boolean, payload: Buffer): void;
  /** One raw AAC access unit (ADTS header removed). */
  audio(dts: number, payload: Buffer): void;
}

/** Counters for the API and tests. */
export interface TsDemuxStats {
  packets: number;
  /** Times the byte stream lost packet sync and the demuxer searched for it again. */
  resyncs: number;
  /** Bytes skipped while searching for sync. */
  skippedBytes: number;
  /** Continuity counter gaps (lost or reordered packets), §2.4.3.3. */
  continuityErrors: number;
  /** PSI sections with a bad CRC or a bad layout. */
  badSections: number;
  /** PES packets dropped: broken header, hit by a continuity gap, or oversized. */
  droppedPes: number;
  /** Video access units dropped while waiting for parameter sets or a keyframe. */
  droppedFrames: number;
  /** Unbounded video PES emitted at adaptation field stuffing that turned out not to be their end. */
  prematurePesEnds: number;
  /** ADTS bytes skipped looking for a frame header. */
  badAudioBytes: number;
  videoFrames: number;
  audioFrames: number;
}

interface PesState {
  readonly pid: number;
  readonly kind: 'video' | 'audio';
  chunks: Buffer[];
  size: number;
  /** PES_packet_length + 6 when bounded; 0 when unbounded. */
  expected: number;
  /** A continuity gap hit this PES: drop it when it completes. */
  broken: boolean;
  started: boolean;
  /** Emitted at adaptation field stuffing, before the next PES started (see pesPayload). */
  endedEarly: boolean;
}

interface SectionState {
  buf: Buffer[];
  size: number;
  active: boolean;
}

/** Parsed PMT entry, exposed for diagnostics. */
export interface TsElementaryStream {
  readonly pid: number;
  readonly streamType: number;
  /** format_identifier of a registration descriptor (tag 5), e.g. 'Opus', 'HEVC', 'AC-3'. */
  readonly registration: string | undefined;
}

export class TsDemuxer {
  readonly stats: TsDemuxStats = {
    packets: 0,
    resyncs: 0,
    skippedBytes: 0,
    continuityErrors: 0,
    badSections: 0,
    droppedPes: 0,
    droppedFrames: 0,
    prematurePesEnds: 0,
    badAudioBytes: 0,
    videoFrames: 0,
    audioFrames: 0,
  };
  /** The streams of the program's latest PMT. */
  streams: readonly TsElementaryStream[] = [];
  /** A partial packet carried over from the previous chunk. */
  private carry: Buffer | undefined;
  private inSync = true;
  private pmtPid = -1;
  private pmtVersion = -1;
  private readonly sections = new Map<number, SectionState>();
  private readonly cc = new Map<number, number>();
  private video: PesState | undefined;
  private audio: PesState | undefined;
  private videoCodec: VideoCodec | undefined;
  private scanner: AccessUnitScanner | undefined;
  private videoTrack: VideoTrack | undefined;
  private audioTrack: AudioTrack | undefined;
  private waitKeyframe = true;
  /** Timestamp unwrapping: the last extended 90 kHz value, and the first (the timeline's 0). */
  private lastTs: number | undefined;
  private firstTs = 0;
  /** ADTS bytes of a frame split across PES packets, and where the next frame's time is. */
  private adtsCarry: Buffer | undefined;
  private nextAudioMs = 0;

  constructor(private readonly handler: TsDemuxHandler) {}

  /**
   * Feeds bytes as they arrive (any chunking). Throws UnsupportedCodecError when the PMT
   * declares a codec the gateway cannot carry; the demuxer should then be dropped.
   */
  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.carry) {
      buf = Buffer.concat([this.carry, chunk]);
      this.carry = undefined;
    }
    let i = 0;
    const n = buf.length;
    while (i < n) {
      // In sync, a sync byte where the previous packet ended is enough; out of sync, the next
      // packet's sync byte must confirm it (when it has arrived).
      if (buf[i] !== SYNC || (!this.inSync && i + TS_PACKET_SIZE < n && buf[i + TS_PACKET_SIZE] !== SYNC)) {
        const next = this.findSync(buf, i + 1);
        if (this.inSync) this.stats.resyncs++;
        this.inSync = false;
        this.stats.skippedBytes += next - i;
        i = next;
        continue;
      }
      this.inSync = true;
      if (i + TS_PACKET_SIZE > n) {
        this.carry = Buffer.from(buf.subarray(i));
        return;
      }
      this.packet(buf.subarray(i, i + TS_PACKET_SIZE));
      i += TS_PACKET_SIZE;
    }
  }

  /** Emits a pending unbounded PES (end of input). */
  flush(): void {
    if (this.video?.started) this.finishPes(this.video);
  }

  /** The next offset from `from` that looks like a packet start (a sync byte with another 188 on when there is room). */
  private findSync(buf: Buffer, from: number): number {
    for (let j = from; j < buf.length; j++) {
      if (buf[j] !== SYNC) continue;
      if (j + TS_PACKET_SIZE < buf.length ? buf[j + TS_PACKET_SIZE] === SYNC : true) return j;
    }
    return buf.length;
  }

  private packet(p: Buffer): void {
    this.stats.packets++;
    const pusi = (p[1]! & 0x40) !== 0;
    const pid = ((p[1]! & 0x1f) << 8) | p[2]!;
    if (pid === PID_NULL) return;
    if (p[1]! & 0x80) return; // transport_error_indicator
    const afc = (p[3]! >> 4) & 3;
    const cc = p[3]! & 0x0f;
    let o = 4;
    let discontinuity = false;
    let stuffed = false;
    if (afc & 2) {
      const afl = p[4]!;
      if (afl > 0) discontinuity = (p[5]! & 0x80) !== 0;
      o = 5 + afl;
      if (o > TS_PACKET_SIZE) return;
      // Length 0 is itself one stuffing byte (§2.4.3.5).
      stuffed = afl === 0 || adaptationFieldStuffing(p, afl);
    }
    const hasPayload = (afc & 1) !== 0;
    if (!hasPayload) return;
    // §2.4.3.3: the counter increments per packet with payload; one duplicate is allowed.
    const last = this.cc.get(pid);
    this.cc.set(pid, cc);
    let gap = false;
    if (last !== undefined && !discontinuity) {
      if (cc === last) return; // a duplicate packet
      if (cc !== ((last + 1) & 0x0f)) {
        gap = true;
        this.stats.continuityErrors++;
      }
    }
    const payload = p.subarray(o);
    if (pid === PID_PAT || pid === this.pmtPid) {
      this.psi(pid, pusi, payload, gap);
      return;
    }
    const pes = pid === this.video?.pid ? this.video : pid === this.audio?.pid ? this.audio : undefined;
    if (pes) this.pesPayload(pes, pusi, payload, gap, stuffed);
  }

  // --- PSI ---------------------------------------------------------------------------------

  private psi(pid: number, pusi: boolean, payload: Buffer, gap: boolean): void {
    let s = this.sections.get(pid);
    if (!s) {
      s = { buf: [], size: 0, active: false };
      this.sections.set(pid, s);
    }
    if (gap) {
      s.active = false;
      s.buf = [];
      s.size = 0;
    }
    if (pusi) {
      const pointer = payload[0]!;
      if (1 + pointer > payload.length) {
        this.stats.badSections++;
        return;
      }
      if (s.active && pointer > 0) this.sectionBytes(pid, s, payload.subarray(1, 1 + pointer));
      s.active = true;
      s.buf = [];
      s.size = 0;
      this.sectionBytes(pid, s, payload.subarray(1 + pointer));
    } else if (s.active) {
      this.sectionBytes(pid, s, payload);
    }
  }

  private sectionBytes(pid: number, s: SectionState, bytes: Buffer): void {
    s.buf.push(bytes);
    s.size += bytes.length;
    for (;;) {
      if (!s.active || s.size < 3) return;
      const data = s.buf.length === 1 ? s.buf[0]! : Buffer.concat(s.buf);
      s.buf = [data];
      if (data[0] === 0xff) {
        s.active = false; // stuffing: no more sections in this packet
        s.buf = [];
        s.size = 0;
        return;
      }
      const length = 3 + (((data[1]! & 0x0f) << 8) | data[2]!);
      if (length > MAX_SECTION_BYTES || length < 12) {
        this.stats.badSections++;
        s.active = false;
        s.buf = [];
        s.size = 0;
        return;
      }
      if (data.length < length) return;
      const section = data.subarray(0, length);
      const rest = data.subarray(length);
      s.buf = rest.length > 0 ? [rest] : [];
      s.size = rest.length;
      if (crc32Mpeg2(section) !== 0) this.stats.badSections++;
      else if (pid === PID_PAT && section[0] === 0x00) this.pat(section);
      else if (pid === this.pmtPid && section[0] === 0x02) this.pmt(section);
    }
  }

  /** program_association_section: the first program that is not the network PID (program 0). */
  private pat(section: Buffer): void {
    const end = section.length - 4;
    for (let o = 8; o + 4 <= end; o += 4) {
      const program = section.readUInt16BE(o);
      const pid = ((section[o + 2]! & 0x1f) << 8) | section[o + 3]!;
      if (program === 0) continue;
      if (pid !== this.pmtPid) {
        this.pmtPid = pid;
        this.pmtVersion = -1;
        this.sections.delete(pid);
      }
      return;
    }
  }

  /** TS_program_map_section: picks the first supported video and audio; refuses unsupported media. */
  private pmt(section: Buffer): void {
    const version = (section[5]! >> 1) & 0x1f;
    if (!(section[5]! & 1)) return; // current_next_indicator 0: not yet applicable
    if (version === this.pmtVersion) return;
    const end = section.length - 4;
    const programInfoLength = ((section[10]! & 0x0f) << 8) | section[11]!;
    let o = 12 + programInfoLength;
    if (o > end) {
      this.stats.badSections++;
      return;
    }
    const streams: TsElementaryStream[] = [];
    while (o + 5 <= end) {
      const streamType = section[o]!;
      const pid = ((section[o + 1]! & 0x1f) << 8) | section[o + 2]!;
      const infoLength = ((section[o + 3]! & 0x0f) << 8) | section[o + 4]!;
      const descEnd = Math.min(o + 5 + infoLength, end);
      let registration: string | undefined;
      for (let d = o + 5; d + 2 <= descEnd; ) {
        const tag = section[d]!;
        const len = section[d + 1]!;
        if (tag === 0x05 && len >= 4 && d + 6 <= descEnd) registration = section.toString('latin1', d + 2, d + 6);
        d += 2 + len;
      }
      streams.push({ pid, streamType, registration });
      o += 5 + infoLength;
    }
    this.pmtVersion = version;
    this.streams = streams;
    let video: TsElementaryStream | undefined;
    let audio: TsElementaryStream | undefined;
    const refused: string[] = [];
    for (const es of streams) {
      if (es.streamType === STREAM_TYPE.H264 || es.streamType === STREAM_TYPE.H265) video ??= es;
      else if (es.streamType === STREAM_TYPE.AAC_ADTS) audio ??= es;
      else {
        const name = refusedName(es);
        if (name) refused.push(`${name} (stream_type 0x${hex2(es.streamType)} on PID ${es.pid})`);
      }
    }
    if (refused.length > 0) {
      throw new UnsupportedCodecError(`${refused.join(', ')} in MPEG-TS`, [...SUPPORTED_TS_CODECS, 'transcode the audio to AAC (ffmpeg -c:a aac)']);
    }
    if (!video && !audio) {
      throw new UnsupportedCodecError(
        `MPEG-TS program without audio or video the gateway carries (stream types ${streams.map((s) => '0x' + hex2(s.streamType)).join(', ') || 'none'})`,
        SUPPORTED_TS_CODECS,
      );
    }
    if (video && video.pid !== this.video?.pid) {
      this.video = newPes(video.pid, 'video');
      const codec: VideoCodec = video.streamType === STREAM_TYPE.H264 ? 'H264' : 'H265';
      if (codec !== this.videoCodec) {
        this.videoCodec = codec;
        this.scanner = new AccessUnitScanner(codec);
        this.videoTrack = undefined;
        this.waitKeyframe = true;
      }
    } else if (!video) this.video = undefined;
    if (audio && audio.pid !== this.audio?.pid) {
      this.audio = newPes(audio.pid, 'audio');
      this.adtsCarry = undefined;
    } else if (!audio) this.audio = undefined;
  }

  // --- PES ---------------------------------------------------------------------------------

  /**
   * `stuffed`: the packet is padded with adaptation field stuffing, which a muxer only needs when
   * a PES ends inside the packet (§2.4.3.5: the next PES must start a new packet). An unbounded
   * video PES (PES_packet_length 0) is then emitted at once instead of at the next
   * payload_unit_start_indicator, which would hold every frame back by one frame interval (40 ms
   * at 25 fps). Should payload continue without a new PES after all, the early end was wrong:
   * counted in `prematurePesEnds`, and video waits for the next keyframe.
   */
  private pesPayload(pes: PesState, pusi: boolean, payload: Buffer, gap: boolean, stuffed = false): void {
    if (gap) {
      pes.broken = true;
      if (pes.kind === 'video') this.waitKeyframe = true;
    }
    if (pusi) {
      if (pes.started) this.finishPes(pes);
      pes.started = true;
      pes.broken = false;
      pes.chunks = [];
      pes.size = 0;
      pes.expected = 0;
      if (payload.length >= 6 && payload[0] === 0 && payload[1] === 0 && payload[2] === 1) {
        const length = payload.readUInt16BE(4);
        pes.expected = length === 0 ? 0 : length + 6;
        // The timeline's zero is the first PES to start (an unbounded video PES completes late).
        if (this.lastTs === undefined && payload.length >= 14 && payload[7]! & 0x80) this.toMs(readTimestamp(payload, 9));
      }
    } else if (!pes.started) {
      if (pes.endedEarly) {
        pes.endedEarly = false;
        this.stats.prematurePesEnds++;
        if (pes.kind === 'video') this.waitKeyframe = true;
      }
      return; // joined in the middle of a PES
    }
    if (pes.size + payload.length > MAX_PES_BYTES) {
      this.stats.droppedPes++;
      pes.started = false;
      pes.chunks = [];
      pes.size = 0;
      return;
    }
    pes.chunks.push(payload);
    pes.size += payload.length;
    if (pes.expected > 0 ? pes.size >= pes.expected : stuffed && pes.kind === 'video') {
      this.finishPes(pes);
      pes.endedEarly = pes.expected === 0;
    } else {
      pes.endedEarly = false;
    }
  }

  private finishPes(pes: PesState): void {
    const data = pes.chunks.length === 1 ? pes.chunks[0]! : Buffer.concat(pes.chunks, pes.size);
    const broken = pes.broken;
    pes.started = false;
    pes.chunks = [];
    pes.size = 0;
    pes.broken = false;
    if (broken) {
      this.stats.droppedPes++;
      return;
    }
    // PES header, §2.4.3.6/§2.4.3.7: start code, stream_id, length, flags, header length.
    if (data.length < 9 || data[0] !== 0 || data[1] !== 0 || data[2] !== 1 || (data[6]! & 0xc0) !== 0x80) {
      this.stats.droppedPes++;
      return;
    }
    const flags = data[7]! >> 6;
    const headerEnd = 9 + data[8]!;
    if (headerEnd > data.length || flags === 1 || (flags >= 2 && headerEnd < 14) || (flags === 3 && headerEnd < 19)) {
      this.stats.droppedPes++;
      return;
    }
    const end = pes.expected > 0 ? Math.min(pes.expected, data.length) : data.length;
    const body = data.subarray(headerEnd, end);
    let pts: number | undefined;
    let dts: number | undefined;
    if (flags >= 2) {
      pts = this.toMs(readTimestamp(data, 9));
      dts = flags === 3 ? this.toMs(readTimestamp(data, 14)) : pts;
    }
    if (pes.kind === 'video') this.videoPes(body, pts, dts);
    else this.audioPes(body, pts);
  }

  /** 90 kHz 33-bit → ms on one timeline: the nearest unwrapping to the last value of any PID. */
  private toMs(ts: number): number {
    let ext = ts;
    if (this.lastTs === undefined) {
      this.firstTs = ts;
    } else {
      const base = this.lastTs - (((this.lastTs % TS_WRAP) + TS_WRAP) % TS_WRAP);
      ext = base + ts;
      if (ext - this.lastTs > TS_WRAP / 2) ext -= TS_WRAP;
      else if (this.lastTs - ext > TS_WRAP / 2) ext += TS_WRAP;
    }
    this.lastTs = ext;
    return (ext - this.firstTs) / 90;
  }

  private videoPes(body: Buffer, pts: number | undefined, dts: number | undefined): void {
    const scanner = this.scanner;
    if (!scanner || pts === undefined || dts === undefined || body.length === 0) {
      this.stats.droppedPes++;
      return;
    }
    let nalus: Buffer[];
    try {
      nalus = splitAnnexB(body);
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
      this.stats.droppedPes++;
      return;
    }
    nalus = scanner.scan(nalus);
    const keyframe = scanner.keyframe;
    if (scanner.paramsChanged || !this.videoTrack) {
      const track = videoTrackFromParameterSets(scanner.codec, scanner.vps, scanner.sps, scanner.pps);
      if (track && !(this.videoTrack && this.videoTrack.config.equals(track.config))) {
        this.videoTrack = track;
        this.handler.videoTrack(track);
      }
    }
    if (!this.videoTrack || nalus.length === 0) {
      this.stats.droppedFrames++;
      return;
    }
    if (this.waitKeyframe) {
      if (!keyframe) {
        this.stats.droppedFrames++;
        return;
      }
      this.waitKeyframe = false;
    }
    this.stats.videoFrames++;
    this.handler.video(dts, pts, keyframe, nalusToLengthPrefixed(nalus));
  }

  /** ADTS frames (ISO/IEC 14496-3 §1.A.2), possibly split across PES packets; 1024 samples each. */
  private audioPes(body: Buffer, pts: number | undefined): void {
    let data = body;
    if (this.adtsCarry) {
      data = Buffer.concat([this.adtsCarry, body]);
      this.adtsCarry = undefined;
    } else if (pts !== undefined) {
      this.nextAudioMs = pts;
    }
    let o = 0;
    while (o < data.length) {
      let header;
      try {
        header = parseAdtsHeader(data, o);
      } catch (error) {
        if (!(error instanceof CodecError)) throw error;
        header = undefined;
      }
      if (header === null && data.length - o < 7 && data[o] === 0xff) break; // a header split across PES
      if (!header) {
        this.stats.badAudioBytes++;
        o++;
        continue;
      }
      if (o + header.frameLength > data.length) break;
      const raw = data.subarray(o + header.headerLength, o + header.frameLength);
      o += header.frameLength;
      if ((data[o - header.frameLength + 6]! & 3) !== 0) {
        this.stats.badAudioBytes += header.frameLength; // several raw data blocks per frame: not carried
        continue;
      }
      const track = this.aacTrack(header);
      if (!track) {
        this.stats.badAudioBytes += header.frameLength;
        continue;
      }
      const ms = this.nextAudioMs;
      this.nextAudioMs += (1024 * 1000) / track.sampleRate;
      this.stats.audioFrames++;
      this.handler.audio(ms, raw);
    }
    if (o < data.length) {
      const rest = data.subarray(o);
      // Keep a partial frame for the next PES; more than one maximal frame is garbage.
      if (rest.length <= 0x1fff) this.adtsCarry = Buffer.from(rest);
      else this.stats.badAudioBytes += rest.length;
    }
  }

  private aacTrack(h: { objectType: number; sampleRate: number; channels: number }): AudioTrack | undefined {
    const t = this.audioTrack;
    if (t && t.sampleRate === h.sampleRate && t.channels === h.channels && this.audioObjectType === h.objectType) return t;
    try {
      const track = aacTrackFromConfig(buildAudioSpecificConfig(h));
      this.audioTrack = track;
      this.audioObjectType = h.objectType;
      this.handler.audioTrack(track);
      return track;
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
      return undefined; // channel configuration 0 (a PCE) or a rate ADTS cannot carry
    }
  }

  private audioObjectType = 0;
}

/**
 * True when the adaptation field (§2.4.3.4) of packet `p`, `afl` bytes long, ends in stuffing:
 * more bytes than its flags' optional fields take.
 */
function adaptationFieldStuffing(p: Buffer, afl: number): boolean {
  const flags = p[5]!;
  let used = 1;
  if (flags & 0x10) used += 6; // PCR
  if (flags & 0x08) used += 6; // OPCR
  if (flags & 0x04) used += 1; // splice_countdown
  if (flags & 0x02) {
    if (5 + used >= 5 + afl) return false;
    used += 1 + p[5 + used]!; // transport_private_data
  }
  if (flags & 0x01) {
    if (5 + used >= 5 + afl) return false;
    used += 1 + p[5 + used]!; // adaptation_field_extension
  }
  return afl > used;
}

function newPes(pid: number, kind: 'video' | 'audio'): PesState {
  return { pid, kind, chunks: [], size: 0, expected: 0, broken: false, started: false, endedEarly: false };
}

function refusedName(es: TsElementaryStream): string | undefined {
  const named = REFUSED_TYPES.get(es.streamType);
  if (named) return named;
  if (es.streamType === STREAM_TYPE.PRIVATE_PES) {
    if (es.registration === 'Opus') return 'Opus';
    if (es.registration === 'AC-3') return 'AC-3';
    if (es.registration === 'EAC3') return 'E-AC-3';
  }
  return undefined;
}

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}

/** A 33-bit PTS/DTS field (§2.4.3.7): 3 + 15 + 15 bits with marker bits between. */
function readTimestamp(b: Buffer, o: number): number {
  const hi = (b[o]! >> 1) & 0x07;
  const mid = (b[o + 1]! << 7) | (b[o + 2]! >> 1);
  const lo = (b[o + 3]! << 7) | (b[o + 4]! >> 1);
  return hi * 2 ** 30 + mid * 2 ** 15 + lo;
}

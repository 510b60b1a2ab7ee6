/**
 * The fMP4 initialization segment (ftyp + moov with an mvex), ISO/IEC 14496-12 §8 and the CMAF
 * header of ISO/IEC 23000-19 §7.3. Sample tables are empty: samples live in movie fragments.
 */
import type { AudioTrack, VideoTrack } from '../../core/media.js';
import { box, fullBox, LANGUAGE_UND, u, UNITY_MATRIX } from './boxes.js';

/** The tracks of one fMP4 timeline. AAC and Opus audio can be carried (G.711 is left out by callers). */
export interface Mp4Tracks {
  readonly video?: VideoTrack | undefined;
  readonly audio?: AudioTrack | undefined;
}

export const VIDEO_TRACK_ID = 1;
export const AUDIO_TRACK_ID = 2;
/** 90 kHz, as MPEG-TS: every common frame rate has an integer frame duration. */
export const VIDEO_TIMESCALE = 90_000;

export function audioTimescale(track: AudioTrack): number {
  if (track.codec === 'OPUS') return 48_000;
  return track.sampleRate > 0 ? track.sampleRate : 48_000;
}

/**
 * The decoder configuration record with lengthSizeMinusOne forced to 3: hub payloads always
 * carry 4-byte NAL unit lengths, whatever the publisher's record said.
 */
export function fourByteLengthConfig(track: VideoTrack): Buffer {
  const config = Buffer.from(track.config);
  if (track.codec === 'H264' && config.length > 4) config[4] = 0xff; // §5.3.3.1.2: reserved 6 bits + lengthSizeMinusOne
  if (track.codec === 'H265' && config.length > 21) config[21] = (config[21]! & 0xfc) | 3; // §8.3.3.1.2
  return config;
}

function ftyp(): Buffer {
  // iso6 (tfdt v1, default-base-is-moof), cmfc (CMAF), plus mp41/avc1 for older parsers.
  return box('ftyp', Buffer.from('iso6', 'latin1'), u([4, 1]), Buffer.from('iso6cmfcmp41isomdash', 'latin1'));
}

function mvhd(nextTrackId: number): Buffer {
  return fullBox(
    'mvhd',
    0,
    0,
    u([4, 0], [4, 0], [4, 1000], [4, 0], [4, 0x00010000], [2, 0x0100], [2, 0], [4, 0], [4, 0]),
    UNITY_MATRIX,
    Buffer.alloc(24),
    u([4, nextTrackId]),
  );
}

function tkhd(trackId: number, audio: boolean, width: number, height: number): Buffer {
  return fullBox(
    'tkhd',
    0,
    3, // track_enabled | track_in_movie
    u([4, 0], [4, 0], [4, trackId], [4, 0], [4, 0], [4, 0], [4, 0], [2, 0], [2, 0], [2, audio ? 0x0100 : 0], [2, 0]),
    UNITY_MATRIX,
    u([4, width * 65536], [4, height * 65536]),
  );
}

function mdhd(timescale: number): Buffer {
  return fullBox('mdhd', 0, 0, u([4, 0], [4, 0], [4, timescale], [4, 0], [2, LANGUAGE_UND], [2, 0]));
}

function hdlr(type: 'vide' | 'soun', name: string): Buffer {
  return fullBox('hdlr', 0, 0, u([4, 0]), Buffer.from(type, 'latin1'), Buffer.alloc(12), Buffer.from(`${name}\0`, 'latin1'));
}

function dinf(): Buffer {
  return box('dinf', fullBox('dref', 0, 0, u([4, 1]), fullBox('url ', 0, 1)));
}

function emptyTables(sampleEntry: Buffer): Buffer[] {
  return [
    fullBox('stsd', 0, 0, u([4, 1]), sampleEntry),
    fullBox('stts', 0, 0, u([4, 0])),
    fullBox('stsc', 0, 0, u([4, 0])),
    fullBox('stsz', 0, 0, u([4, 0], [4, 0])),
    fullBox('stco', 0, 0, u([4, 0])),
  ];
}

/** VisualSampleEntry (§12.1.3) with the codec's configuration box. */
function visualSampleEntry(track: VideoTrack): Buffer {
  const name = Buffer.alloc(32);
  const fields = u(
    [4, 0], [2, 0], [2, 1], // reserved(6) + data_reference_index
    [2, 0], [2, 0], [4, 0], [4, 0], [4, 0], // pre_defined, reserved, pre_defined[3]
    [2, track.width], [2, track.height],
    [4, 0x00480000], [4, 0x00480000], [4, 0], [2, 1], // 72 dpi, reserved, frame_count
  );
  const tail = u([2, 0x0018], [2, 0xffff]); // depth, pre_defined = -1
  const config = fourByteLengthConfig(track);
  if (track.codec === 'H264') return box('avc1', fields, name, tail, box('avcC', config));
  return box('hvc1', fields, name, tail, box('hvcC', config));
}

/** An MPEG-4 descriptor (ISO/IEC 14496-1 §8.3.3) with a 4-byte expandable size. */
function descriptor(tag: number, ...payload: readonly Buffer[]): Buffer {
  let size = 0;
  for (const p of payload) size += p.length;
  return Buffer.concat([Buffer.from([tag, 0x80 | ((size >> 21) & 0x7f), 0x80 | ((size >> 14) & 0x7f), 0x80 | ((size >> 7) & 0x7f), size & 0x7f]), ...payload]);
}

/** AudioSampleEntry 'mp4a' (§12.2.3) with an esds (ISO/IEC 14496-14 §5.6) carrying the ASC. */
function mp4aSampleEntry(track: AudioTrack): Buffer {
  const rate = audioTimescale(track);
  const fields = u(
    [4, 0], [2, 0], [2, 1],
    [4, 0], [4, 0],
    [2, track.channels || 2], [2, 16], [2, 0], [2, 0],
    [4, (rate > 0xffff ? 0 : rate) * 65536],
  );
  const esds = fullBox(
    'esds',
    0,
    0,
    descriptor(
      0x03, // ES_Descriptor
      u([2, 0], [1, 0]),
      descriptor(0x04, u([1, 0x40], [1, 0x15], [3, 0], [4, 0], [4, 0]), descriptor(0x05, track.config)), // Audio ISO/IEC 14496-3, AudioStream
      descriptor(0x06, Buffer.from([0x02])), // SLConfigDescriptor, predefined MP4
    ),
  );
  return box('mp4a', fields, esds);
}

/**
 * Pre-skip written in dOps: 312 samples (6.5 ms at 48 kHz), what libopus reports for its encoder
 * lookahead. The hub has no OpusHead, so the real value is unknown; decoders only use it to trim
 * the first samples, and live streams join mid-way anyway.
 */
const OPUS_PRE_SKIP = 312;

/**
 * AudioSampleEntry 'Opus' with its OpusSpecificBox 'dOps' ("Encapsulation of Opus in ISO Base
 * Media File Format" §4.3.1-4.3.2, as adopted in ISO/IEC 23003-5): Version 0, OutputChannelCount,
 * PreSkip, InputSampleRate, OutputGain 0, ChannelMappingFamily 0 (mono/stereo, no mapping table).
 * The entry's samplerate is 48000 and the track's timescale too (§4.3.1).
 */
function opusSampleEntry(track: AudioTrack): Buffer {
  const channels = track.channels === 1 ? 1 : 2;
  const fields = u(
    [4, 0], [2, 0], [2, 1],
    [4, 0], [4, 0],
    [2, channels], [2, 16], [2, 0], [2, 0],
    [4, 48000 * 65536],
  );
  const dOps = box('dOps', u([1, 0], [1, channels], [2, OPUS_PRE_SKIP], [4, 48000], [2, 0], [1, 0]));
  return box('Opus', fields, dOps);
}

function videoTrak(track: VideoTrack): Buffer {
  return box(
    'trak',
    tkhd(VIDEO_TRACK_ID, false, track.width, track.height),
    box(
      'mdia',
      mdhd(VIDEO_TIMESCALE),
      hdlr('vide', 'VideoHandler'),
      box('minf', fullBox('vmhd', 0, 1, u([2, 0], [2, 0], [2, 0], [2, 0])), dinf(), box('stbl', ...emptyTables(visualSampleEntry(track)))),
    ),
  );
}

function audioTrak(track: AudioTrack): Buffer {
  return box(
    'trak',
    tkhd(AUDIO_TRACK_ID, true, 0, 0),
    box(
      'mdia',
      mdhd(audioTimescale(track)),
      hdlr('soun', 'SoundHandler'),
      box('minf', fullBox('smhd', 0, 0, u([2, 0], [2, 0])), dinf(), box('stbl', ...emptyTables(track.codec === 'OPUS' ? opusSampleEntry(track) : mp4aSampleEntry(track)))),
    ),
  );
}

function trex(trackId: number): Buffer {
  return fullBox('trex', 0, 0, u([4, trackId], [4, 1], [4, 0], [4, 0], [4, 0]));
}

/** ftyp + moov for `tracks`; throws when there is nothing to carry. */
export function initSegment(tracks: Mp4Tracks): Buffer {
  const traks: Buffer[] = [];
  const trexes: Buffer[] = [];
  if (tracks.video) {
    traks.push(videoTrak(tracks.video));
    trexes.push(trex(VIDEO_TRACK_ID));
  }
  if (tracks.audio) {
    if (tracks.audio.codec !== 'AAC' && tracks.audio.codec !== 'OPUS') throw new Error(`fMP4: audio codec ${tracks.audio.codec} is not carried; supported: AAC, OPUS`);
    traks.push(audioTrak(tracks.audio));
    trexes.push(trex(AUDIO_TRACK_ID));
  }
  if (traks.length === 0) throw new Error('fMP4: no track to carry');
  return Buffer.concat([ftyp(), box('moov', mvhd(AUDIO_TRACK_ID + 1), ...traks, box('mvex', ...trexes))]);
}

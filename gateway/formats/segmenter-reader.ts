/**
 * How in-process consumers (the HLS muxers, the recorder) read a stream through the hub's normal
 * Reader machinery: they need frames, not wire bytes. The `frame` wire format "serializes" a frame
 * into an empty Buffer that carries the frame itself; the hub caches that one carrier on the frame
 * (slot 3) and hands it to every frame reader, so each frame costs one small allocation however
 * many HLS muxers and recorders read it. These readers never report congestion: they run
 * synchronously and bound their own memory.
 */
import { type MediaFrame, type WireFormat } from '../core/media.js';
import type { Reader, ReaderOutput } from '../core/reader.js';
import type { Stream } from '../core/stream.js';
import type { SegmentTracks } from './segmenter.js';

interface FrameCarrier extends Buffer {
  frame?: MediaFrame;
}

/** Slot 3: the first slot free after FLV (0) and the RTMP/RTSP play formats (1, 2). */
export const frameFormat: WireFormat = {
  name: 'frame',
  slot: 3,
  serialize(frame: MediaFrame): Buffer {
    const carrier = Buffer.alloc(0) as FrameCarrier;
    carrier.frame = frame;
    return carrier;
  },
};

export interface CarriedTracks extends SegmentTracks {
  /** Why the stream's audio is not carried, when it is not. */
  readonly audioOmitted?: string | undefined;
}

export interface FrameSink {
  /** The stream's tracks are known or changed (join, publisher reconnect with new headers). */
  tracks(tracks: CarriedTracks): void;
  frame(frame: MediaFrame): void;
  /** The hub closed this reader (stream ended) or the consumer did. */
  closed(error?: Error): void;
}

/** The segment container of a frame reader: fMP4 (HLS CMAF, recordings) or MPEG-TS (HLS ts). */
export type SegmentContainer = 'fmp4' | 'ts';

/**
 * The tracks a segment can carry: H.264/H.265 video and AAC audio, and Opus in fMP4 ("Opus in
 * ISOBMFF", ISO/IEC 23003-5). G.711 (and Opus in TS) is left out (`audioOmitted` says why) until
 * a rendition provides AAC.
 */
export function carriedTracks(stream: Pick<Stream, 'videoTrack' | 'audioTrack'>, container: SegmentContainer = 'fmp4'): CarriedTracks {
  const audio = stream.audioTrack;
  if (audio && audio.codec !== 'AAC' && !(audio.codec === 'OPUS' && container === 'fmp4')) {
    const supported = container === 'fmp4' ? 'AAC, OPUS' : 'AAC';
    return { video: stream.videoTrack, audioOmitted: `audio codec ${audio.codec} cannot be carried in ${container === 'ts' ? 'HLS (MPEG-TS)' : 'HLS/MP4'}; supported: ${supported}` };
  }
  return { video: stream.videoTrack, audio };
}

/** Adds a frame reader to `stream`; the sink gets tracks first, then the GOP cache, then live frames. */
export function readFrames(stream: Stream, protocol: string, sink: FrameSink, container: SegmentContainer = 'fmp4'): Reader {
  const output: ReaderOutput = {
    protocol,
    remoteAddress: 'internal',
    format: frameFormat,
    headers: () => {
      sink.tracks(carriedTracks(stream, container));
      return [];
    },
    write: (bytes) => {
      const frame = (bytes as FrameCarrier).frame;
      if (frame !== undefined) sink.frame(frame);
      return true;
    },
    close: (error) => sink.closed(error),
  };
  return stream.addReader(output);
}

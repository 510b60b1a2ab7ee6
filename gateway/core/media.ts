/**
 * The codec-neutral media model every protocol maps to and from.
 *
 * Video payloads are always length-prefixed NAL units (4-byte big-endian lengths, the
 * "AVCC"/"HVCC" layout of ISO/IEC 14496-15), whatever the wire carried (Annex-B from RTP,
 * AVCC from RTMP). Audio payloads are one raw access unit (an AAC raw_data_block without
 * ADTS, G.711 samples, or one Opus packet of RFC 6716 at 48 kHz). Decoder configuration travels
 * on the Track, not in frames (Opus has none: its config is empty).
 */

export type VideoCodec = 'H264' | 'H265';
export type AudioCodec = 'AAC' | 'PCMA' | 'PCMU' | 'OPUS';
export type Codec = VideoCodec | AudioCodec;

export interface VideoTrack {
  readonly kind: 'video';
  readonly codec: VideoCodec;
  /** AVCDecoderConfigurationRecord (H.264) or HEVCDecoderConfigurationRecord (H.265). */
  readonly config: Buffer;
  /** From the SPS, never from publisher metadata. 0 when unknown. */
  readonly width: number;
  readonly height: number;
  /** From the SPS VUI timing info when present, else measured from frame timestamps. 0 when unknown. */
  readonly fps: number;
}

export interface AudioTrack {
  readonly kind: 'audio';
  readonly codec: AudioCodec;
  /** AudioSpecificConfig for AAC; empty for G.711 and Opus. */
  readonly config: Buffer;
  readonly sampleRate: number;
  readonly channels: number;
}

export type Track = VideoTrack | AudioTrack;

export const enum FrameKind {
  Video = 0,
  Audio = 1,
}

/**
 * Number of wire formats that can cache serialized bytes on a frame. Each protocol that
 * serializes frames claims one slot (see WireFormat) so a frame is serialized once per
 * format and the same Buffer is written to every reader of that format. Taken: 0 FLV,
 * 1 RTMP, 2 RTSP/RTP, 3 the fMP4/TS segmenter (HLS, recording), 4 WS-FLV frames, 5 MPEG-TS
 * packets of SRT play; 6-7 free.
 */
export const WIRE_SLOTS = 8;

/** One access unit in the hub. Immutable once written to a Stream (the wire cache aside). */
export class MediaFrame {
  /** Serialized bytes per wire format slot; filled lazily by WireFormat.bytes(). */
  readonly wire: (Buffer | undefined)[] = new Array(WIRE_SLOTS);

  constructor(
    readonly kind: FrameKind,
    /** Decode timestamp in milliseconds on the stream's timeline (rebased per publish). */
    public dts: number,
    /** Presentation timestamp in milliseconds. */
    public pts: number,
    readonly keyframe: boolean,
    readonly payload: Buffer,
    /** Date.now() when the gateway received the frame: used for latency stamps. */
    readonly ingestTime: number,
    /** The track this frame belongs to (codec, config) as it was when the frame was written. */
    readonly track: Track,
  ) {}
}

/**
 * A wire format that serializes frames. `slot` is the index in MediaFrame.wire; `serialize`
 * must be pure with respect to the frame so the result can be shared by every reader. A frame
 * the format cannot carry (Opus audio in FLV, RTMP or MPEG-TS) serializes to NOT_CARRIED:
 * readers skip it and count it (Reader.framesNotCarried), never writing a mislabeled tag.
 */
export interface WireFormat {
  readonly name: string;
  readonly slot: number;
  serialize(frame: MediaFrame): Buffer;
}

/**
 * What `serialize` returns for a frame its format cannot carry. Compared by identity (other
 * empty Buffers, such as the in-process frame carrier, are real serializations); zero-length,
 * so nothing can ever be written into it.
 */
export const NOT_CARRIED: Buffer = Buffer.alloc(0);

/** Bytes of `frame` in `format`, serialized on first use and cached on the frame. */
export function wireBytes(frame: MediaFrame, format: WireFormat): Buffer {
  let bytes = frame.wire[format.slot];
  if (bytes === undefined) {
    bytes = format.serialize(frame);
    frame.wire[format.slot] = bytes;
  }
  return bytes;
}

/**
 * Stream-level metadata a publisher may send (RTMP onMetaData), as plain values so any
 * protocol can re-encode it. Passed through to readers that have a place for it.
 */
export type StreamMetadata = Readonly<Record<string, string | number | boolean | null>>;

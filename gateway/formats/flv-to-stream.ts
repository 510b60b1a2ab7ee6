/**
 * FLV tag bodies to core frames and tracks: RTMP messages (protocols/rtmp) and FLV files pulled
 * over HTTP (cluster edge relays) share the tag body layout. Data tags carry AMF0
 * `@setDataFrame onMetaData`; our own `onCuePoint` latency stamps are ignored.
 */
import { nalusToLengthPrefixed, splitLengthPrefixed } from '../codecs/annexb.js';
import { CodecError } from '../codecs/errors.js';
import { parseAvcDecoderConfig } from '../codecs/h264.js';
import { parseHevcDecoderConfig } from '../codecs/h265.js';
import { ProtocolError } from '../core/errors.js';
import type { StreamMetadata } from '../core/media.js';
import type { PublishSession } from '../core/stream.js';
import { Amf0Error, decodeAmf0 } from './amf0.js';
import { parseAudioTagBody, parseVideoTagBody } from './flv-tag.js';
import { aacTrackFromConfig, g711Track, sameConfig, videoTrackFromConfig } from './tracks.js';

const WRAP = 2 ** 32;

export class FlvTagsToStream {
  private nalLengthSize = 4;

  /** The last unwrapped timestamp; -1 before the first message. */
  private lastTime = -1;

  constructor(
    private readonly session: PublishSession,
    /** Names the peer in errors: rtmp, edge-pull... */
    private readonly protocol = 'rtmp',
  ) {}

  /**
   * RTMP timestamps are 32-bit milliseconds and wrap to 0. Each one is placed in the 2^32 epoch
   * nearest the previous message, so time runs on across the wrap, and a late message from just
   * before it (audio after video) stays before it.
   */
  private unwrap(timestamp: number): number {
    if (this.lastTime < 0) return (this.lastTime = timestamp);
    let t = this.lastTime - (this.lastTime % WRAP) + timestamp;
    if (t - this.lastTime > WRAP / 2) t -= WRAP;
    else if (this.lastTime - t > WRAP / 2) t += WRAP;
    this.lastTime = t;
    return t;
  }

  video(raw: number, body: Buffer): void {
    const timestamp = this.unwrap(raw);
    if (body.length === 0) return;
    const tag = parseVideoTagBody(body);
    if (tag.type === 'ignore') return;
    const current = this.session.stream.videoTrack;
    if (tag.type === 'config') {
      if (sameConfig(current, tag.codec, tag.config)) return;
      try {
        this.nalLengthSize =
          tag.codec === 'H264' ? parseAvcDecoderConfig(tag.config).lengthSize : parseHevcDecoderConfig(tag.config).lengthSize;
        this.session.setVideoTrack(videoTrackFromConfig(tag.codec, tag.config));
      } catch (error) {
        if (error instanceof CodecError) throw new ProtocolError(this.protocol, `bad ${tag.codec} sequence header: ${error.message}`);
        throw error;
      }
      return;
    }
    if (current === undefined || current.codec !== tag.codec) return;
    let data = tag.data;
    if (this.nalLengthSize !== 4) data = nalusToLengthPrefixed(splitLengthPrefixed(data, this.nalLengthSize));
    this.session.writeVideo(timestamp, timestamp + tag.cts, tag.keyframe, data);
  }

  audio(raw: number, body: Buffer): void {
    const timestamp = this.unwrap(raw);
    if (body.length === 0) return;
    const tag = parseAudioTagBody(body);
    if (tag.type === 'ignore') return;
    const current = this.session.stream.audioTrack;
    if (tag.type === 'config') {
      if (sameConfig(current, 'AAC', tag.config)) return;
      try {
        this.session.setAudioTrack(aacTrackFromConfig(tag.config));
      } catch (error) {
        if (error instanceof CodecError) throw new ProtocolError(this.protocol, `bad AAC sequence header: ${error.message}`);
        throw error;
      }
      return;
    }
    if (tag.codec !== 'AAC' && (current === undefined || current.codec !== tag.codec || current.channels !== tag.channels)) {
      // G.711 has no sequence header: the first frame declares the track.
      this.session.setAudioTrack(g711Track(tag.codec, tag.channels));
    } else if (current === undefined || current.codec !== tag.codec) {
      return;
    }
    this.session.writeAudio(timestamp, tag.data);
  }

  /** `@setDataFrame onMetaData {...}` (or a bare `onMetaData`); other data messages are ignored. */
  data(body: Buffer): void {
    let values;
    try {
      values = decodeAmf0(body);
    } catch (error) {
      // A malformed data message is not worth dropping a camera for: ignore it and go on.
      if (!(error instanceof Amf0Error)) throw error;
      return;
    }
    let i = 0;
    if (values[i] === '@setDataFrame') i++;
    if (values[i] !== 'onMetaData') return;
    const obj = values[i + 1];
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj) || obj instanceof Date) return;
    const metadata: Record<string, string | number | boolean | null> = {};
    for (const [k, v] of Object.entries(obj)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null) metadata[k] = v;
    }
    this.session.setMetadata(metadata as StreamMetadata);
  }
}

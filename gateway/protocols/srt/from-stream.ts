/**
 * Core frames to MPEG-TS for SRT players (the only place that does). A frame's transport packets
 * are built once per stream (wire slot 5, with the shared TsMuxer of formats/mpegts.ts) and every
 * SRT reader renumbers the continuity counters of its own copy: counters run per connection
 * (ISO/IEC 13818-1 §2.4.3.3), so the one per-reader cost is a copy of the frame's packets.
 * PAT and PMT go first and again before every keyframe, so a player that dropped to a keyframe
 * (or joined late) finds its tables there.
 */
import { type MediaFrame, NOT_CARRIED, type Track, type WireFormat } from '../../core/media.js';
import type { Stream } from '../../core/stream.js';
import { TsMuxer } from '../../formats/mpegts.js';

const PACKET = 188;
const PID_VIDEO = 0x100;
/** Wire slot 5 of MediaFrame.wire (see WIRE_SLOTS). */
export const SRT_TS_SLOT = 5;

/** One per server: muxers per track (they hold its parameter sets and ADTS header), not per reader. */
export function tsWireFormat(): WireFormat {
  const muxers = new WeakMap<Track, TsMuxer>();
  return {
    name: 'mpegts',
    slot: SRT_TS_SLOT,
    serialize(frame: MediaFrame): Buffer {
      // Our TS carries AAC audio only (G.711 and Opus have no stream_type here): skipped and counted.
      if (frame.track.kind === 'audio' && frame.track.codec !== 'AAC') return NOT_CARRIED;
      let muxer = muxers.get(frame.track);
      if (!muxer) {
        muxer = new TsMuxer(frame.track.kind === 'video' ? { video: frame.track } : { audio: frame.track });
        muxers.set(frame.track, muxer);
      }
      return muxer.mux([frame]);
    },
  };
}

/** PAT and PMT for the stream's current tracks. */
export function tsTables(stream: Stream): Buffer {
  return new TsMuxer({ video: stream.videoTrack, audio: stream.audioTrack }).tables();
}

/** One reader's continuity counters; `tables` is written before each keyframe's first packet. */
export class TsContinuity {
  private readonly cc = new Map<number, number>();

  constructor(private readonly tables: () => Buffer) {}

  /** A renumbered copy of `bytes` (whole 188-byte packets), with tables before a random access point. */
  apply(bytes: Buffer): Buffer {
    const first = bytes.length >= PACKET ? bytes : undefined;
    const randomAccess =
      first !== undefined && (((first[1]! & 0x1f) << 8) | first[2]!) === PID_VIDEO && (first[3]! & 0x20) !== 0 && first[4]! > 0 && (first[5]! & 0x40) !== 0;
    const out = randomAccess ? Buffer.concat([this.tables(), bytes]) : Buffer.from(bytes);
    for (let o = 0; o + PACKET <= out.length; o += PACKET) {
      if (out[o] !== 0x47) continue;
      const pid = ((out[o + 1]! & 0x1f) << 8) | out[o + 2]!;
      if (!(out[o + 3]! & 0x10)) continue; // no payload: the counter does not move
      const cc = ((this.cc.get(pid) ?? -1) + 1) & 0x0f;
      this.cc.set(pid, cc);
      out[o + 3] = (out[o + 3]! & 0xf0) | cc;
    }
    return out;
  }
}

/**
 * JPEG snapshots of a stream's latest keyframe, for any codec: the keyframe and its parameter
 * sets go to ffmpeg as an Annex-B elementary stream on stdin (no network round trip, no waiting
 * for the next GOP). Results are cached per stream and width for cacheMs, and concurrent
 * requests share one decode, so a wall of tiles polling every second starts one decoder.
 */
import { PassThrough, Readable } from 'node:stream';
import type { Logger } from 'pino';
import { lengthPrefixedToAnnexB } from '../gateway/codecs/annexb.js';
import { parseAvcDecoderConfig } from '../gateway/codecs/h264.js';
import { parseHevcDecoderConfig } from '../gateway/codecs/h265.js';
import { StreamNotFoundError } from '../gateway/core/errors.js';
import { FrameKind, type MediaFrame, type VideoTrack } from '../gateway/core/media.js';
import type { Stream } from '../gateway/core/stream.js';
import type { TranscodeConfig } from './config.js';
import { SnapshotError } from './errors.js';
import { type FfmpegBinary, ffmpegReason, runFfmpeg } from './ffmpeg.js';

const START_CODE = Buffer.from([0, 0, 0, 1]);

/** Parameter sets in Annex-B, then the keyframe: a stream a decoder can start on. */
export function keyframeElementaryStream(track: VideoTrack, keyframe: MediaFrame): Buffer {
  const parts: Buffer[] = [];
  if (track.codec === 'H264') {
    const c = parseAvcDecoderConfig(track.config);
    for (const nal of [...c.sps, ...c.pps]) parts.push(START_CODE, nal);
  } else {
    const c = parseHevcDecoderConfig(track.config);
    for (const nal of [...c.vps, ...c.sps, ...c.pps]) parts.push(START_CODE, nal);
  }
  // Core frames are 4-byte length-prefixed whatever the decoder config says (see media.ts).
  parts.push(lengthPrefixedToAnnexB(keyframe.payload, 4));
  return Buffer.concat(parts);
}

interface Cached {
  readonly promise: Promise<Buffer>;
  at: number;
  pending: boolean;
}

export interface SnapshotsOptions {
  readonly streams: { get(path: string): Stream | undefined };
  readonly config: TranscodeConfig['snapshot'];
  readonly binary: () => FfmpegBinary;
  readonly log: Logger;
}

export class Snapshots {
  private readonly cache = new Map<string, Cached>();
  /** Decoders started (a test and the metrics of the wall read it). */
  decodes = 0;

  constructor(private readonly options: SnapshotsOptions) {}

  /** JPEG of the latest keyframe of `path`, `width` pixels wide (0: the source's size). */
  get(path: string, width = 0): { jpeg: Promise<Buffer>; cached: boolean } {
    const stream = this.options.streams.get(path);
    if (!stream || !stream.ready) throw new StreamNotFoundError(path);
    const track = stream.videoTrack;
    if (!track) throw new SnapshotError(path, 'the stream has no video', 404);
    const key = `${path}|${width}`;
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && (hit.pending || now - hit.at < this.options.config.cacheMs)) return { jpeg: hit.promise, cached: true };
    this.prune(now);
    const keyframe = latestKeyframe(stream.gopCache.snapshot());
    if (!keyframe) throw new SnapshotError(path, 'no keyframe received yet', 503);
    const entry: Cached = { promise: this.decode(path, keyframe.track as VideoTrack, keyframe, width), at: now, pending: true };
    this.cache.set(key, entry);
    entry.promise.then(
      () => {
        entry.pending = false;
        entry.at = Date.now();
      },
      () => {
        if (this.cache.get(key) === entry) this.cache.delete(key);
      },
    );
    return { jpeg: entry.promise, cached: false };
  }

  private prune(now: number): void {
    for (const [key, entry] of this.cache) {
      if (!entry.pending && now - entry.at >= this.options.config.cacheMs) this.cache.delete(key);
    }
  }

  private decode(path: string, track: VideoTrack, keyframe: MediaFrame, width: number): Promise<Buffer> {
    const binary = this.options.binary();
    const input = Readable.from([keyframeElementaryStream(track, keyframe)]);
    const output = new PassThrough();
    const chunks: Buffer[] = [];
    output.on('data', (d: Buffer) => chunks.push(d));
    this.decodes++;
    const { timeoutMs, quality } = this.options.config;
    return new Promise<Buffer>((resolve, reject) => {
      const proc = runFfmpeg(
        binary,
        {
          input,
          inputOptions: ['-hide_banner', '-loglevel', 'error', '-f', track.codec === 'H264' ? 'h264' : 'hevc'],
          output,
          outputOptions: ['-frames:v', '1', ...(width > 0 ? ['-vf', `scale=${width}:-2`] : []), '-q:v', String(quality), '-c:v', 'mjpeg', '-f', 'image2pipe'],
        },
        {
          onExit: (error) => {
            clearTimeout(timer);
            const jpeg = Buffer.concat(chunks);
            if (error || jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) {
              reject(new SnapshotError(path, error ? ffmpegReason(error) : 'ffmpeg produced no image'));
            } else resolve(jpeg);
          },
        },
      );
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new SnapshotError(path, `decoding took longer than ${timeoutMs} ms`, 504));
      }, timeoutMs);
      timer.unref();
    });
  }
}

function latestKeyframe(frames: readonly MediaFrame[]): MediaFrame | undefined {
  for (let i = frames.length - 1; i >= 0; i--) {
    const f = frames[i]!;
    if (f.kind === FrameKind.Video && f.keyframe) return f;
  }
  return undefined;
}

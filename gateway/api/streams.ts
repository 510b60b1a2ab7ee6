import { Router, type Request, type Response } from 'express';
import { StreamEndedError, StreamNotFoundError } from '../core/errors.js';
import { sendError } from '../http/errors.js';
import { isValidPath } from '../core/path.js';
import type { Stream } from '../core/stream.js';

/** What the streams API needs from the hub. */
export interface StreamDirectory {
  get(path: string): Stream | undefined;
  list(): Stream[];
}

function g711Note(path: string): string {
  return `G.711 is carried as FLV sound format 7/8 (browser FLV players cannot decode it) and left out of HLS and recordings; the ${path}_h264 rendition carries it as AAC`;
}

function opusNote(path: string): string {
  return `Opus is carried by RTSP play, fMP4 HLS and recordings (and WebRTC); HTTP-FLV, WS-FLV, RTMP play, MPEG-TS HLS and SRT play get the video only; the ${path}_aac rendition carries it as AAC`;
}

/**
 * Readers (by protocol) that get no audio for a codec: they get the video only. `hls` is HLS in
 * either container, `hls-ts` HLS with `hls.container: ts` only (fMP4 carries Opus).
 */
const AUDIO_NOT_CARRIED: Partial<Record<string, readonly string[]>> = {
  PCMA: ['hls', 'record', 'srt'],
  PCMU: ['hls', 'record', 'srt'],
  OPUS: ['flv', 'ws-flv', 'rtmp', 'hls-ts', 'srt'],
};

/** The API's view of a stream: the fields of the contract in DESIGN.md, plus a few extras. */
export function streamEntry(stream: Stream, withReaders = false) {
  const v = stream.videoTrack;
  const a = stream.audioTrack;
  const byProtocol = stream.readersByProtocol();
  let count = 0;
  for (const n of Object.values(byProtocol)) count += n;
  return {
    path: stream.path,
    app: stream.app,
    name: stream.name,
    state: stream.state,
    ready: stream.ready,
    publisher: stream.publisher
      ? {
          protocol: stream.publisher.protocol,
          remoteAddress: stream.publisher.remoteAddress,
          since: new Date(stream.publishedAt).toISOString(),
        }
      : null,
    video: v ? { codec: v.codec, width: v.width, height: v.height, fps: v.fps || stream.rate.fps } : null,
    audio: a
      ? {
          codec: a.codec,
          sampleRate: a.sampleRate,
          channels: a.channels,
          ...(a.codec === 'AAC'
            ? {}
            : { note: a.codec === 'OPUS' ? opusNote(stream.path) : g711Note(stream.path), notCarriedBy: AUDIO_NOT_CARRIED[a.codec] ?? [] }),
        }
      : null,
    readers: { count, ...byProtocol },
    bitrateKbps: { in: stream.rate.inKbps, out: stream.rate.outKbps },
    droppedFrames: stream.droppedFrames,
    gopCache: { frames: stream.gopCache.frameCount, bytes: stream.gopCache.byteSize },
    createdAt: new Date(stream.createdAt).toISOString(),
    publishCount: stream.publishCount,
    ...(withReaders ? { readerList: stream.readerStats() } : {}),
  };
}

function notFound(res: Response, path: string): void {
  sendError(res, new StreamNotFoundError(path));
}

function pathParam(req: Request): string {
  const parts = (req.params as Record<string, string[] | string>).path;
  return Array.isArray(parts) ? parts.join('/') : String(parts ?? '');
}

/** `GET /api/v1/streams`, `GET/DELETE /api/v1/streams/{app}/{name}`; `extras` adds fields to each entry (transcode: browserUrl). */
export function streamsRouter(streams: StreamDirectory, extras: (stream: Stream) => object = () => ({})): Router {
  const router = Router();
  router.get('/api/v1/streams', (_req, res) => {
    res.json({ streams: streams.list().map((s) => ({ ...streamEntry(s), ...extras(s) })) });
  });
  router.get('/api/v1/streams/*path', (req, res, next) => {
    const path = pathParam(req);
    if (!isValidPath(path)) return next();
    const stream = streams.get(path);
    if (!stream) return notFound(res, path);
    res.json({ ...streamEntry(stream, true), ...extras(stream) });
  });
  router.delete('/api/v1/streams/*path', (req, res, next) => {
    const path = pathParam(req);
    if (!isValidPath(path)) return next();
    const stream = streams.get(path);
    if (!stream) return notFound(res, path);
    stream.end(new StreamEndedError(path, 'stopped through the API'));
    res.status(204).end();
  });
  return router;
}

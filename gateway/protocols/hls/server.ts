/**
 * HLS and LL-HLS output: `GET /{app}/{name}/index.m3u8` (multivariant), `stream.m3u8` (media
 * playlist, blocking reload with `_HLS_msn`/`_HLS_part`), `init{n}.mp4`, `seg{msn}.m4s|ts` and
 * `part{msn}.{i}.m4s|ts`. Muxers start on the first playlist request and close when idle.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import type { Admission } from '../../core/admission.js';
import { httpStatusOf, InvalidPathError, NotFoundError, StreamNotFoundError } from '../../core/errors.js';
import { sendError } from '../../http/errors.js';
import { validatePath } from '../../core/path.js';
import type { Stream } from '../../core/stream.js';
import type { HlsConfig } from './config.js';
import { HlsBadRequestError, HlsTimeoutError } from './errors.js';
import { HlsMuxer, type HlsSegment } from './muxer.js';
import { carriedQuery, mediaPlaylist, multivariantPlaylist, nextPart } from './playlist.js';
import { HlsSessions, SESSION_PARAM } from './sessions.js';
import { peerAddress } from '../../net/listen.js';
import { maskSecrets } from '../../log.js';

/** What the HLS server needs from the hub. */
export interface HlsPathManager {
  waitReady(path: string): Promise<Stream>;
}

export interface HlsDeps {
  readonly registry: HlsPathManager;
  readonly config: HlsConfig;
  readonly log: Logger;
  /**
   * Who may play, and the reader limit: a viewer's first playlist request opens a session through
   * admission; playlists carry `?token=` and the session id onto every URI.
   */
  readonly admission: Admission;
}

const FILE = /^\/(.+)\/(index\.m3u8|stream\.m3u8|init(\d{1,6})\.mp4|seg(\d{1,15})\.(m4s|ts)|part(\d{1,15})\.(\d{1,5})\.(m4s|ts))$/;

type HlsRequest =
  | { kind: 'index' | 'media' }
  | { kind: 'init'; id: number }
  | { kind: 'segment'; msn: number; ext: string }
  | { kind: 'part'; msn: number; part: number; ext: string };

function parseFile(m: RegExpExecArray): HlsRequest {
  if (m[2] === 'index.m3u8') return { kind: 'index' };
  if (m[2] === 'stream.m3u8') return { kind: 'media' };
  if (m[3] !== undefined) return { kind: 'init', id: Number(m[3]) };
  if (m[4] !== undefined) return { kind: 'segment', msn: Number(m[4]), ext: m[5]! };
  return { kind: 'part', msn: Number(m[6]), part: Number(m[7]), ext: m[8]! };
}

function sendNotFound(res: Response, message: string): void {
  sendError(res, new NotFoundError(message));
}

const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';

export class HlsServer {
  private readonly muxers = new Map<string, Promise<HlsMuxer>>();
  private closed = false;
  readonly sessions: HlsSessions;

  constructor(readonly deps: HlsDeps) {
    this.sessions = new HlsSessions(deps.config.sessionTimeoutMs);
  }

  /** Routes for /{app}/{name}/index.m3u8 and its segments. */
  router(): Router {
    const router = express.Router();
    router.use((req: Request, res: Response, next: NextFunction) => {
      if (!this.deps.config.enabled || (req.method !== 'GET' && req.method !== 'HEAD')) return next();
      const m = FILE.exec(req.path);
      if (!m) return next();
      let path: string;
      try {
        path = validatePath(decodeURIComponent(m[1]!));
      } catch {
        return sendError(res, new InvalidPathError(m[1]!));
      }
      this.handle(req, res, path, parseFile(m)).catch((error: unknown) => this.fail(req, res, error));
    });
    return router;
  }

  /** The muxers running now (for the API and tests). */
  async active(): Promise<HlsMuxer[]> {
    const out: HlsMuxer[] = [];
    for (const p of this.muxers.values()) {
      try {
        out.push(await p);
      } catch {
        /* failed to start */
      }
    }
    return out;
  }

  private fail(req: Request, res: Response, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    const status = httpStatusOf(error);
    if (status === 500) this.deps.log.error({ err: error, url: maskSecrets(req.originalUrl.slice(0, 256)) }, 'HLS request failed');
    else this.deps.log.debug({ url: maskSecrets(req.originalUrl.slice(0, 256)), status }, `HLS request refused: ${message}`);
    sendError(res, error);
  }

  private muxerFor(path: string, create: boolean): Promise<HlsMuxer> | undefined {
    let entry = this.muxers.get(path);
    if (!entry && create && !this.closed) {
      entry = this.startMuxer(path);
      this.muxers.set(path, entry);
      entry.catch(() => {
        if (this.muxers.get(path) === entry) this.muxers.delete(path);
      });
    }
    return entry;
  }

  private async startMuxer(path: string): Promise<HlsMuxer> {
    const stream = await this.deps.registry.waitReady(path);
    const log = this.deps.log.child({ path });
    let entry: Promise<HlsMuxer> | undefined;
    const muxer = new HlsMuxer(stream, this.deps.config, log, () => {
      if (entry && this.muxers.get(path) === entry) this.muxers.delete(path);
    });
    entry = this.muxers.get(path);
    if (this.closed) muxer.close();
    log.debug({ container: this.deps.config.container, lowLatency: this.deps.config.lowLatency }, 'HLS muxer started');
    const timeout = this.deps.config.startTimeoutMs;
    if (!(await muxer.waitUntil(() => muxer.started, timeout))) {
      muxer.close();
      throw new HlsTimeoutError(`stream ${path} produced no HLS segment within ${timeout} ms (it needs video keyframes, or audio for audio-only streams)`);
    }
    return muxer;
  }

  private async handle(req: Request, res: Response, path: string, r: HlsRequest): Promise<void> {
    const query: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.query)) if (typeof v === 'string' && k !== SESSION_PARAM) query[k] = v;
    const isPlaylist = r.kind === 'index' || r.kind === 'media';
    let session = this.sessions.touch(typeof req.query[SESSION_PARAM] === 'string' ? req.query[SESSION_PARAM] : undefined, path);
    if (!session) {
      const request = { path, protocol: 'hls', remoteAddress: peerAddress(req.socket), query };
      // A viewer's first playlist opens its session (access, reader limit, readiness); a segment
      // fetched outside a session is checked for access only.
      if (isPlaylist) session = this.sessions.open(path, await this.deps.admission.play(request));
      else await this.deps.admission.authorize(request, 'play');
    }
    const pending = this.muxerFor(path, isPlaylist);
    if (!pending) return sendNotFound(res, `no HLS muxer for ${path}; request index.m3u8 first`);
    const muxer = await pending;
    muxer.idle.hold();
    try {
      await this.answer(req, res, muxer, r, carriedQuery(session ? { ...query, [SESSION_PARAM]: session } : query));
    } finally {
      muxer.idle.release();
    }
  }

  private async answer(req: Request, res: Response, muxer: HlsMuxer, r: HlsRequest, query: string): Promise<void> {
    const path = muxer.path;
    switch (r.kind) {
      case 'index':
        return this.sendText(res, multivariantPlaylist(muxer, query));
      case 'media':
        return this.media(req, res, muxer, query);
      case 'init': {
        const init = muxer.inits.get(r.id);
        if (!init || muxer.config.container !== 'fmp4') return sendNotFound(res, `no init segment ${r.id} for ${path}`);
        return this.sendMedia(res, muxer, 'video/mp4', [init]);
      }
      case 'segment':
        return this.segment(res, muxer, r.msn, r.ext);
      case 'part':
        return this.part(res, muxer, r.msn, r.part, r.ext);
    }
  }

  private sendText(res: Response, text: string): void {
    res.status(200).set({ 'Content-Type': PLAYLIST_TYPE, 'Cache-Control': 'no-cache' }).end(text);
  }

  private sendMedia(res: Response, muxer: HlsMuxer, type: string, chunks: readonly Buffer[]): void {
    let length = 0;
    for (const c of chunks) length += c.length;
    res.status(200).set({ 'Content-Type': type, 'Content-Length': String(length), 'Cache-Control': 'max-age=10' });
    for (const c of chunks) res.write(c);
    res.end();
    muxer.stream.countBytesOut(length);
  }

  private blockTimeout(muxer: HlsMuxer): number {
    // RFC 8216bis §6.2.5.2: a server that cannot answer within three target durations answers 503.
    return 3 * Math.max(muxer.config.segmentMs, muxer.maxSegmentMs);
  }

  private async media(req: Request, res: Response, muxer: HlsMuxer, query: string): Promise<void> {
    const msnParam = req.query._HLS_msn;
    const partParam = req.query._HLS_part;
    if (msnParam !== undefined && muxer.config.lowLatency) {
      const msn = Number(msnParam);
      const part = partParam === undefined ? undefined : Number(partParam);
      if (!Number.isInteger(msn) || msn < 0 || (part !== undefined && (!Number.isInteger(part) || part < 0))) {
        throw new HlsBadRequestError('_HLS_msn and _HLS_part must be non-negative integers');
      }
      const next = nextPart(muxer);
      if (msn > next.msn + 2) throw new HlsBadRequestError(`_HLS_msn=${msn} is more than two segments ahead of the live edge (${next.msn})`);
      const ok = await muxer.waitUntil(() => this.satisfied(muxer, msn, part), this.blockTimeout(muxer));
      if (muxer.closed) throw new StreamNotFoundError(muxer.path);
      if (!ok) throw new HlsTimeoutError(`segment ${msn}${part === undefined ? '' : ` part ${part}`} of ${muxer.path} did not appear in time`);
    }
    this.sendText(res, mediaPlaylist(muxer, query));
  }

  /** Whether the playlist now holds segment `msn` (complete), or its part `part`, or anything later. */
  private satisfied(muxer: HlsMuxer, msn: number, part: number | undefined): boolean {
    const segments = muxer.segments;
    const last = segments[segments.length - 1];
    if (!last) return false;
    if (last.msn > msn) return true;
    const s = muxer.segment(msn);
    if (!s) return segments[0]!.msn > msn;
    if (s.complete) return true;
    return part !== undefined && s.parts.length > part;
  }

  private async segment(res: Response, muxer: HlsMuxer, msn: number, ext: string): Promise<void> {
    if (ext !== muxer.extension) return sendNotFound(res, `this stream's segments are .${muxer.extension}`);
    let s: HlsSegment | undefined = muxer.segment(msn);
    if (s && !s.complete) {
      await muxer.waitUntil(() => s!.complete, this.blockTimeout(muxer));
      s = muxer.segment(msn);
    }
    if (!s || !s.complete) return sendNotFound(res, `segment ${msn} of ${muxer.path} is not in the playlist window`);
    this.sendMedia(res, muxer, ext === 'ts' ? 'video/mp2t' : 'video/mp4', s.parts.map((p) => p.bytes));
  }

  private async part(res: Response, muxer: HlsMuxer, msn: number, index: number, ext: string): Promise<void> {
    if (ext !== muxer.extension) return sendNotFound(res, `this stream's parts are .${muxer.extension}`);
    const find = () => muxer.segment(msn)?.parts[index];
    if (!find()) {
      // A preload hint: hold the request until the part exists (§6.2.6), or its segment ended without it.
      const next = nextPart(muxer);
      const ahead = msn > next.msn || (msn === next.msn && index >= next.part);
      if (!ahead || msn > next.msn + 1) return sendNotFound(res, `part ${msn}.${index} of ${muxer.path} is not available`);
      await muxer.waitUntil(() => find() !== undefined || (muxer.segment(msn)?.complete ?? false) || nextPart(muxer).msn > msn + 1, this.blockTimeout(muxer));
    }
    const p = find();
    if (!p) return sendNotFound(res, `part ${msn}.${index} of ${muxer.path} is not available`);
    this.sendMedia(res, muxer, ext === 'ts' ? 'video/mp2t' : 'video/mp4', [p.bytes]);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.sessions.close();
    for (const entry of this.muxers.values()) entry.then((muxer) => muxer.close(), () => {});
    this.muxers.clear();
  }
}

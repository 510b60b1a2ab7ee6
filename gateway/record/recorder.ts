/**
 * Crash-safe fMP4 recording: paths matching `record.rules` are recorded whenever they are
 * published, others through `POST/DELETE /api/v1/streams/{app}/{name}/record`. Files are indexed
 * (`GET /api/v1/recordings`), downloadable with range requests, deleted by retention, and
 * recording stops with SG_ERR_RECORD_DISK_FULL when the disk or the quota is full — the live
 * stream is not affected.
 */
import { statfs, unlink } from 'node:fs/promises';
import { isAbsolute, resolve, sep } from 'node:path';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import { InvalidPathError, InvalidRequestError } from '../core/errors.js';
import { isValidPath, matchPathPattern } from '../core/path.js';
import { sendError as sendHttpError } from '../http/errors.js';
import type { StreamRegistry } from '../core/registry.js';
import type { Stream } from '../core/stream.js';
import type { RecordConfig, ResolvedRule } from './config.js';
import { RecordingNotFoundError } from './errors.js';
import { parseId, type RecordingEntry, scanRecordings } from './files.js';
import { filesToDelete } from './retention.js';
import { RecordingSession, type SessionHost } from './session.js';

export interface RecorderDeps {
  readonly registry: StreamRegistry;
  readonly config: RecordConfig;
  readonly dataDir: string;
  readonly log: Logger;
}

/** How often free space is checked against record.minFreeBytes. */
const SPACE_CHECK_MS = 10_000;

/** A literal answer where the code's own status or class message does not fit (recording disabled: 409). */
function sendError(res: Response, status: number, code: string, message: string): void {
  if (!res.headersSent) res.status(status).json({ error: { code, message } });
}

/** ISO 8601 or Unix ms; undefined when absent, NaN when unreadable. */
function timeParam(v: unknown): number | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  return /^\d+$/.test(v) ? Number(v) : Date.parse(v);
}

export class Recorder implements SessionHost {
  readonly dir: string;
  readonly fsync: boolean;
  readonly log: Logger;
  /** Every recording file known, by id. */
  private readonly entries = new Map<string, RecordingEntry>();
  private readonly sessions = new Map<string, RecordingSession>();
  /** Paths started through the API: recorded again whenever they are published. */
  private readonly manual = new Set<string>();
  private totalBytes = 0;
  private freeBytes = Infinity;
  private timers: NodeJS.Timeout[] = [];
  private started = false;
  private closed = false;

  constructor(readonly deps: RecorderDeps) {
    const dir = deps.config.dir;
    this.dir = isAbsolute(dir) ? dir : resolve(deps.dataDir, dir);
    this.fsync = deps.config.fsync;
    this.log = deps.log;
  }

  /** The rule for `path` with defaults filled in; undefined when no rule matches. */
  ruleFor(path: string): ResolvedRule | undefined {
    const c = this.deps.config;
    for (const [pattern, rule] of Object.entries(c.rules)) {
      if (matchPathPattern(pattern, path)) {
        return { segmentMs: rule.segment ?? c.segment, retentionMs: rule.retention ?? c.retention, maxBytes: rule.maxBytes ?? c.maxBytes };
      }
    }
    return undefined;
  }

  private defaultRule(): ResolvedRule {
    const c = this.deps.config;
    return { segmentMs: c.segment, retentionMs: c.retention, maxBytes: c.maxBytes };
  }

  async start(): Promise<void> {
    if (this.started || !this.deps.config.enabled) return;
    this.started = true;
    for (const entry of await scanRecordings(this.dir, this.log)) {
      this.entries.set(entry.id, entry);
      this.totalBytes += entry.size;
    }
    if (this.closed) return;
    await this.checkSpace();
    this.deps.registry.on('publish', this.onPublish);
    this.deps.registry.on('unpublish', this.onUnpublish);
    for (const stream of this.deps.registry.list()) if (stream.publisher) this.onPublish(stream);
    const space = setInterval(() => void this.checkSpace(), SPACE_CHECK_MS);
    const retention = setInterval(() => void this.applyRetention(), this.deps.config.retentionCheckMs);
    space.unref();
    retention.unref();
    this.timers.push(space, retention);
    void this.applyRetention();
    this.log.info({ dir: this.dir, files: this.entries.size, bytes: this.totalBytes, rules: Object.keys(this.deps.config.rules) }, 'recorder ready');
  }

  private readonly onPublish = (stream: Stream): void => {
    if (this.closed) return;
    const rule = this.ruleFor(stream.path) ?? (this.manual.has(stream.path) ? this.defaultRule() : undefined);
    if (rule) this.begin(stream, rule, this.manual.has(stream.path));
  };

  private readonly onUnpublish = (stream: Stream): void => {
    const session = this.sessions.get(stream.path);
    if (session?.active && session.stream === stream) void session.stop();
  };

  private begin(stream: Stream, rule: ResolvedRule, manual: boolean): RecordingSession {
    const current = this.sessions.get(stream.path);
    if (current?.active && current.stream === stream) return current;
    if (current?.active) void current.stop();
    const session = new RecordingSession(stream, rule, manual, this);
    this.sessions.set(stream.path, session);
    this.log.info({ path: stream.path, segmentMs: rule.segmentMs, retentionMs: rule.retentionMs, maxBytes: rule.maxBytes }, 'recording');
    session.start();
    return session;
  }

  // SessionHost

  spaceProblem(bytes: number): string | undefined {
    const quota = this.deps.config.diskQuota;
    if (quota > 0 && this.totalBytes + bytes > quota) return `record.diskQuota of ${quota} bytes reached (${this.totalBytes} bytes recorded)`;
    const min = this.deps.config.minFreeBytes;
    if (this.freeBytes - bytes < min) return `less than record.minFreeBytes (${min} bytes) free on the disk (${this.freeBytes} left)`;
    return undefined;
  }

  fileOpened(entry: RecordingEntry): void {
    this.entries.set(entry.id, entry);
  }

  bytesAdded(bytes: number): void {
    this.totalBytes += bytes;
    if (this.freeBytes !== Infinity) this.freeBytes -= bytes;
  }

  fileClosed(entry: RecordingEntry): void {
    if (entry.size === 0) {
      // Nothing reached the disk (the file could not be opened or written): not a recording.
      this.entries.delete(entry.id);
      unlink(entry.file).catch(() => {});
      return;
    }
    if (!this.closed) void this.applyRetention(entry.path);
  }

  sessionStopped(session: RecordingSession): void {
    if (!session.error) this.log.info({ path: session.path, files: session.filesWritten }, 'recording stopped');
  }

  private async checkSpace(): Promise<void> {
    try {
      const s = await statfs(this.dir).catch(() => statfs(this.deps.dataDir));
      this.freeBytes = s.bavail * s.bsize;
    } catch {
      this.freeBytes = Infinity; // no data dir yet: nothing to measure
    }
  }

  /** Deletes what retention says for `path` (or every path), oldest first. */
  async applyRetention(path?: string): Promise<string[]> {
    const byPath = new Map<string, RecordingEntry[]>();
    for (const e of this.entries.values()) {
      if (path !== undefined && e.path !== path) continue;
      let list = byPath.get(e.path);
      if (!list) byPath.set(e.path, (list = []));
      list.push(e);
    }
    const deleted: string[] = [];
    const now = Date.now();
    for (const [p, list] of byPath) {
      const rule = this.sessions.get(p)?.rule ?? this.ruleFor(p) ?? this.defaultRule();
      const files = list.map((e) => ({ ...e, end: e.start + e.durationMs }));
      for (const f of filesToDelete(files, rule.retentionMs, rule.maxBytes, now)) {
        try {
          await unlink(f.file);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
            this.log.warn({ file: f.id, err: error }, 'retention could not delete a recording');
            continue;
          }
        }
        if (this.entries.delete(f.id)) {
          this.totalBytes -= f.size;
          if (this.freeBytes !== Infinity) this.freeBytes += f.size;
        }
        deleted.push(f.id);
      }
    }
    if (deleted.length) this.log.info({ files: deleted }, `retention deleted ${deleted.length} recording(s)`);
    return deleted;
  }

  /** Recordings overlapping [from, to], oldest first. */
  list(filter: { path?: string | undefined; from?: number | undefined; to?: number | undefined } = {}): RecordingEntry[] {
    const out: RecordingEntry[] = [];
    for (const e of this.entries.values()) {
      if (filter.path !== undefined && e.path !== filter.path && !e.path.startsWith(`${filter.path}/`)) continue;
      if (filter.from !== undefined && e.start + e.durationMs < filter.from) continue;
      if (filter.to !== undefined && e.start > filter.to) continue;
      out.push(e);
    }
    return out.sort((a, b) => a.start - b.start || a.id.localeCompare(b.id));
  }

  /** Recording state of a path, as the API shows it. */
  status(path: string) {
    const s = this.sessions.get(path);
    return {
      path,
      recording: s?.state === 'recording',
      // 'waiting': for a publisher (started through the API) or for its first keyframe.
      state: s?.state ?? (this.manual.has(path) ? 'waiting' : 'idle'),
      manual: this.manual.has(path),
      rule: this.ruleFor(path) !== undefined,
      since: s ? new Date(s.since).toISOString() : null,
      file: s?.state === 'recording' && s.entry ? s.entry.id : null,
      error: s?.error ? { code: s.error.code, message: s.error.message } : null,
    };
  }

  /** Starts recording `path` (now if it is published, else when it is). */
  startRecording(path: string): ReturnType<Recorder['status']> {
    this.manual.add(path);
    const stream = this.deps.registry.get(path);
    if (stream?.publisher && this.started) this.begin(stream, this.ruleFor(path) ?? this.defaultRule(), true);
    return this.status(path);
  }

  /** Stops recording `path`; false when it was not being recorded. */
  async stopRecording(path: string): Promise<boolean> {
    const wasManual = this.manual.delete(path);
    const session = this.sessions.get(path);
    if (!session?.active) return wasManual;
    await session.stop();
    return true;
  }

  private entryJson(e: RecordingEntry) {
    return {
      id: e.id,
      path: e.path,
      start: new Date(e.start).toISOString(),
      end: new Date(e.start + e.durationMs).toISOString(),
      durationMs: e.durationMs,
      size: e.size,
      codecs: e.codecs,
      recording: e.recording,
      url: `/api/v1/recordings/${e.id.split('/').map(encodeURIComponent).join('/')}`,
    };
  }

  /** Routes for /api/v1/recordings and /api/v1/streams/{app}/{name}/record. */
  router(): Router {
    const router = express.Router();
    router.get('/api/v1/recordings', (req, res) => {
      const from = timeParam(req.query.from);
      const to = timeParam(req.query.to);
      if (Number.isNaN(from) || Number.isNaN(to)) {
        return sendHttpError(res, new InvalidRequestError('from and to must be ISO 8601 times or Unix milliseconds'));
      }
      const path = typeof req.query.path === 'string' && req.query.path !== '' ? req.query.path : undefined;
      res.json({
        recordings: this.list({ path, from, to }).map((e) => this.entryJson(e)),
        sessions: [...this.sessions.keys()].filter((p) => path === undefined || p === path).map((p) => this.status(p)),
      });
    });
    router.get('/api/v1/recordings/*file', (req, res, next) => this.download(req, res, next));
    router.use((req: Request, res: Response, next: NextFunction) => {
      const m = /^\/api\/v1\/streams\/(.+)\/record$/.exec(req.path);
      if (!m) return next();
      let path: string;
      try {
        path = decodeURIComponent(m[1]!);
      } catch {
        path = '';
      }
      if (!isValidPath(path)) return sendHttpError(res, new InvalidPathError(m[1]!));
      if (req.method === 'GET') return void res.json(this.status(path));
      if (req.method === 'POST') {
        if (!this.deps.config.enabled) return sendError(res, 409, 'SG_ERR_RECORD_WRITE', 'recording is disabled (record.enabled: false)');
        const before = this.sessions.get(path);
        const status = this.startRecording(path);
        // 200: already recording; 201: recording (from the next keyframe); 202: when the path is published.
        return void res.status(before?.active ? 200 : this.sessions.get(path)?.active ? 201 : 202).json(status);
      }
      if (req.method === 'DELETE') {
        this.stopRecording(path).then(
          (stopped) => (stopped ? res.status(204).end() : sendError(res, 404, 'SG_ERR_RECORDING_NOT_FOUND', `${path} is not being recorded`)),
          next,
        );
        return;
      }
      next();
    });
    return router;
  }

  private download(req: Request, res: Response, next: NextFunction): void {
    const parts = (req.params as Record<string, string[] | string>).file;
    const id = Array.isArray(parts) ? parts.join('/') : String(parts ?? '');
    const entry = this.entries.get(id);
    if (!entry || !parseId(id)) {
      return sendHttpError(res, new RecordingNotFoundError(id));
    }
    const file = resolve(entry.file);
    if (!file.startsWith(this.dir + sep)) return next(new RecordingNotFoundError(id));
    // send handles Range (206, 416), HEAD and Last-Modified; a file being written is served as far as it is.
    // Dot-directories are allowed: the file is one the index holds, inside the recordings directory
    // (a data dir like /home/op/.streamgate made every download 403).
    res.sendFile(file, { acceptRanges: true, cacheControl: false, headers: { 'Content-Type': 'video/mp4' }, dotfiles: 'allow' }, (error?: Error) => {
      if (error && !res.headersSent) {
        const status = (error as { status?: number }).status ?? 500;
        if (status === 404) {
          sendHttpError(res, new RecordingNotFoundError(id));
        } else if (status === 416) {
          res.setHeader('Content-Range', `bytes */${entry.size}`);
          sendHttpError(res, new InvalidRequestError(`range not satisfiable: the recording has ${entry.size} bytes`, { status: 416 }));
        } else if (status >= 500) {
          next(error);
        } else {
          sendHttpError(res, new InvalidRequestError(error.message, { status }));
        }
      }
    });
  }

  /** Stops every recording and writes out open files. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.deps.registry.off('publish', this.onPublish);
    this.deps.registry.off('unpublish', this.onUnpublish);
    await Promise.all([...this.sessions.values()].map((s) => s.stop()));
  }
}


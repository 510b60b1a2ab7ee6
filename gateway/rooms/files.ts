/**
 * Files shared in a room (issue #15), uploaded resumably over REST:
 *   POST .../files        {"name","size","type"}  creates the entry (`file` event)
 *   PUT  .../files/{id}   Content-Range: bytes a-b/size; a must be the Upload-Offset
 *   HEAD .../files/{id}   Upload-Offset: the bytes on disk, where the next chunk starts
 * Bytes stream straight to `{dataDir}/rooms/{room, / as %2F}/files/{id}` (never a whole file in
 * memory); `{id}.json` beside it holds the entry, so entries survive a restart with
 * `rooms.persist`. The Upload-Offset is the data file's size: a chunk cut off half-way keeps what
 * reached the disk, and the client continues from there.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Response } from 'express';
import type { Logger } from 'pino';
import { StreamgateError } from '../core/errors.js';
import type { RoomsConfig } from './config.js';
import { RoomError } from './errors.js';
import type { ParticipantRef } from './protocol.js';

/** Progress events per file at most every this many ms (about 4 per second). */
export const PROGRESS_INTERVAL_MS = 250;

export const FILE_ID = /^[0-9a-f]{16}$/;

const MAX_FILE_NAME = 255;
const MIME = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$/;

export interface RoomFile {
  readonly id: string;
  readonly name: string;
  readonly size: number;
  readonly contentType: string;
  readonly from: ParticipantRef;
  readonly ts: number;
  complete: boolean;
}

/** What the entry list and the API show of a file. */
export function fileEntry(f: RoomFile, received: number) {
  return { id: f.id, name: f.name, size: f.size, contentType: f.contentType, from: f.from, ts: f.ts, complete: f.complete, received };
}

function invalid(message: string): RoomError {
  return new RoomError('SG_ERR_ROOM_INVALID_MESSAGE', message);
}

function notFound(room: string, id: string): RoomError {
  return new RoomError('SG_ERR_ROOM_FILE_NOT_FOUND', `no file ${id} in room ${room}; list them with GET /api/v1/rooms/${room}/files`);
}

/** `attachment; filename="..."` with an ASCII fallback and the RFC 6266 §4.3 / RFC 8187 UTF-8 form. */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** One `bytes=` range (RFC 9110 §14.1.2) of a `size`-byte file: [start, end], 'unsatisfiable', or undefined (whole file). */
export function parseRange(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  // Several ranges or another unit: RFC 9110 lets a server ignore Range and send the whole file.
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return [start, end];
}

interface Upload {
  readonly file: RoomFile;
  /** Bytes of the data file: on disk when idle, counted as they stream during a PUT. */
  received: number;
  busy: boolean;
  lastProgressAt: number;
  /** Fails the upload after rooms.fileIdleTimeoutMs without a chunk. */
  idleTimer?: NodeJS.Timeout;
}

/** The files of one room, on disk. `announce` sends a frame to every participant of the room. */
export class RoomFiles {
  private readonly uploads = new Map<string, Upload>();

  constructor(
    readonly room: string,
    readonly dir: string,
    private readonly config: RoomsConfig,
    private readonly announce: (frame: Record<string, unknown>) => void,
    private readonly log: Logger,
  ) {
    if (!config.persist) {
      // Without persistence nothing of a room outlives the process: leftovers of a past run go.
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    for (const name of names) {
      if (!name.endsWith('.json') || !FILE_ID.test(name.slice(0, -5))) continue;
      try {
        const file = JSON.parse(readFileSync(join(dir, name), 'utf8')) as RoomFile;
        const received = this.sizeOnDisk(file.id);
        const u: Upload = { file, received, busy: false, lastProgressAt: 0 };
        this.uploads.set(file.id, u);
        if (!file.complete) this.armIdle(u, this.lastWriteAt(file.id));
      } catch (error) {
        log.warn({ file: join(dir, name), err: (error as Error).message }, 'room files: skipped an unreadable entry');
      }
    }
    const list = [...this.uploads.values()].sort((a, b) => a.file.ts - b.file.ts);
    this.uploads.clear();
    for (const u of list) this.uploads.set(u.file.id, u);
  }

  private dataPath(id: string): string {
    return join(this.dir, id);
  }

  private lastWriteAt(id: string): number {
    try {
      return statSync(this.dataPath(id)).mtimeMs;
    } catch {
      return Date.now();
    }
  }

  /** (Re)starts the idle timer of an unfinished upload, counting from `since`. */
  private armIdle(u: Upload, since = Date.now()): void {
    if (u.idleTimer) clearTimeout(u.idleTimer);
    u.idleTimer = undefined;
    const timeout = this.config.fileIdleTimeoutMs;
    if (timeout === 0 || u.file.complete) return;
    u.idleTimer = setTimeout(() => {
      u.idleTimer = undefined;
      if (this.uploads.get(u.file.id) !== u || u.busy) return;
      this.log.info({ room: this.room, id: u.file.id, received: u.received, size: u.file.size }, 'room file: upload idle too long; deleted');
      this.discard(u, { type: 'file-failed', id: u.file.id, reason: 'timeout' });
    }, Math.max(0, since + timeout - Date.now()));
    u.idleTimer.unref();
  }

  /** Stops the idle timers (gateway stop); the files stay on disk. */
  close(): void {
    for (const u of this.uploads.values()) if (u.idleTimer) clearTimeout(u.idleTimer);
  }

  private sizeOnDisk(id: string): number {
    try {
      return statSync(this.dataPath(id)).size;
    } catch {
      return 0;
    }
  }

  private writeEntry(file: RoomFile): void {
    writeFileSync(join(this.dir, `${file.id}.json`), JSON.stringify(file));
  }

  private get(id: string): Upload {
    const u = this.uploads.get(id);
    if (!u) throw notFound(this.room, id);
    return u;
  }

  list() {
    return [...this.uploads.values()].map((u) => fileEntry(u.file, u.received));
  }

  entry(id: string) {
    const u = this.get(id);
    return fileEntry(u.file, u.received);
  }

  /** Creates an entry from `{"name","size","type"}`; everyone in the room gets `file`. */
  create(from: ParticipantRef, body: Record<string, unknown>) {
    const { name, size, type } = body;
    // eslint-disable-next-line no-control-regex
    if (typeof name !== 'string' || name.length === 0 || name.length > MAX_FILE_NAME || /[\u0000-\u001f\u007f/\\]/.test(name)) {
      throw invalid(`file: "name" must be 1 to ${MAX_FILE_NAME} characters, without control characters, / or \\`);
    }
    if (!Number.isSafeInteger(size) || (size as number) < 0) throw invalid('file: "size" must be the file size in bytes (an integer >= 0)');
    if (type !== undefined && (typeof type !== 'string' || !MIME.test(type.split(';')[0]!.trim()) || type.length > 200)) {
      throw invalid('file: "type" must be a media type such as "image/png" (or left out: application/octet-stream)');
    }
    const max = this.config.maxFileBytes;
    if ((size as number) > max) {
      throw new RoomError('SG_ERR_ROOM_FILE_TOO_LARGE', `file of ${size} bytes refused; the limit is ${max} bytes (rooms.maxFileBytes)`);
    }
    if (this.uploads.size >= this.config.maxFilesPerRoom) {
      throw new RoomError('SG_ERR_ROOM_FILE_LIMIT', `room ${this.room} holds its maximum of ${this.config.maxFilesPerRoom} files (rooms.maxFilesPerRoom); delete one first`);
    }
    const file: RoomFile = {
      id: randomBytes(8).toString('hex'),
      name,
      size: size as number,
      contentType: typeof type === 'string' ? type : 'application/octet-stream',
      from,
      ts: Date.now(),
      complete: size === 0,
    };
    try {
      mkdirSync(this.dir, { recursive: true });
      writeFileSync(this.dataPath(file.id), '');
      this.writeEntry(file);
    } catch (error) {
      this.log.error({ room: this.room, err: error }, 'room files: cannot create the file');
      throw new RoomError('SG_ERR_ROOM_STORAGE', 'the gateway could not store the file; see the gateway log', 503);
    }
    const upload: Upload = { file, received: 0, busy: false, lastProgressAt: 0 };
    this.uploads.set(file.id, upload);
    this.armIdle(upload);
    this.announce({ type: 'file', id: file.id, from, name: file.name, size: file.size, contentType: file.contentType, ts: file.ts });
    if (file.complete) this.announce({ type: 'file-done', id: file.id, size: 0 });
    this.log.info({ room: this.room, id: file.id, name: file.name, size: file.size, from: from.name }, 'room file created');
    return fileEntry(file, 0);
  }

  /** Upload-Offset: where the next chunk must start. */
  offset(id: string): { received: number; size: number; complete: boolean } {
    const u = this.get(id);
    return { received: u.received, size: u.file.size, complete: u.file.complete };
  }

  /**
   * Appends one chunk, streamed from `req` to the data file. Throws RoomError for a refused
   * chunk (nothing written); resolves with the new offset, also when the client went away
   * mid-chunk (what reached the disk counts).
   */
  async put(id: string, req: IncomingMessage, res: Response): Promise<void> {
    const u = this.get(id);
    res.setHeader('Upload-Offset', String(u.received));
    if (u.file.complete) throw new RoomError('SG_ERR_ROOM_FILE_OFFSET', `file ${id} is already complete`);
    if (u.busy) throw new RoomError('SG_ERR_ROOM_FILE_OFFSET', `a chunk of file ${id} is being received; HEAD it for the Upload-Offset once that ends`);
    const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(req.headers['content-range'] ?? '');
    if (!m) throw invalid(`send each chunk with Content-Range: bytes {first}-{last}/${u.file.size}`);
    const [start, end, total] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (total !== u.file.size) throw invalid(`Content-Range total ${total} is not the file's size ${u.file.size}`);
    if (end < start || end >= total) throw invalid(`Content-Range bytes ${start}-${end} is outside the file's ${total} bytes`);
    if (start !== u.received) {
      throw new RoomError('SG_ERR_ROOM_FILE_OFFSET', `this chunk starts at ${start}, the upload is at ${u.received}; send from Upload-Offset`);
    }
    const expected = end - start + 1;
    const length = req.headers['content-length'];
    if (length !== undefined && Number(length) !== expected) throw invalid(`Content-Length ${length} does not match Content-Range (${expected} bytes)`);

    u.busy = true;
    if (u.idleTimer) clearTimeout(u.idleTimer);
    let got = 0;
    const counter = new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        if (got + chunk.length > expected) {
          done(invalid(`the body is longer than Content-Range says (${expected} bytes)`));
          return;
        }
        got += chunk.length;
        u.received = start + got;
        this.progress(u);
        done(null, chunk);
      },
    });
    let failure: unknown;
    try {
      await pipeline(req, counter, createWriteStream(this.dataPath(id), { flags: 'a' }));
    } catch (error) {
      failure = error;
    } finally {
      // The truth is on disk: a cut-off chunk keeps the bytes that were written.
      u.received = this.sizeOnDisk(id);
      u.busy = false;
      this.armIdle(u);
    }
    res.setHeader('Upload-Offset', String(u.received));
    if (failure instanceof StreamgateError) throw failure;
    if (failure !== undefined) {
      this.log.info({ room: this.room, id, received: u.received, err: (failure as Error).message }, 'room file: chunk cut off; the upload can resume');
      if (!res.headersSent && !req.destroyed) res.status(400).end();
      return;
    }
    if (u.received === u.file.size) {
      u.file.complete = true;
      try {
        this.writeEntry(u.file);
      } catch (error) {
        this.log.error({ room: this.room, err: error }, 'room files: cannot update the entry');
      }
      this.announce({ type: 'file-done', id, size: u.file.size });
      this.log.info({ room: this.room, id, size: u.file.size }, 'room file complete');
    } else {
      this.announce({ type: 'file-progress', id, received: u.received, size: u.file.size });
      u.lastProgressAt = Date.now();
    }
    res.status(200).json(fileEntry(u.file, u.received));
  }

  private progress(u: Upload): void {
    const now = Date.now();
    if (now - u.lastProgressAt < PROGRESS_INTERVAL_MS) return;
    u.lastProgressAt = now;
    this.announce({ type: 'file-progress', id: u.file.id, received: u.received, size: u.file.size });
  }

  /** Removes a file; an unfinished upload is announced as `file-failed`. */
  remove(id: string): void {
    const u = this.get(id);
    if (u.busy) throw new RoomError('SG_ERR_ROOM_FILE_OFFSET', `a chunk of file ${id} is being received; try again once it ends`);
    this.discard(u, u.file.complete ? { type: 'file-removed', id } : { type: 'file-failed', id, reason: 'aborted' });
  }

  private discard(u: Upload, frame: Record<string, unknown>): void {
    const id = u.file.id;
    if (u.idleTimer) clearTimeout(u.idleTimer);
    this.uploads.delete(id);
    for (const p of [this.dataPath(id), join(this.dir, `${id}.json`)]) {
      try {
        unlinkSync(p);
      } catch {
        /* already gone */
      }
    }
    this.announce(frame);
  }

  /** Sends a complete file, or the one `Range` of it (206), with the uploader's type and name. */
  download(id: string, range: string | undefined, head: boolean, res: Response): void {
    const u = this.get(id);
    if (!u.file.complete) {
      throw new RoomError('SG_ERR_ROOM_FILE_INCOMPLETE', `file ${id} is still uploading (${u.received} of ${u.file.size} bytes); wait for file-done`);
    }
    const size = u.file.size;
    res.setHeader('Content-Type', u.file.contentType);
    res.setHeader('Content-Disposition', contentDisposition(u.file.name));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Upload-Offset', String(u.received));
    const r = parseRange(range, size);
    if (r === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${size}`);
      throw new StreamgateError('SG_ERR_INVALID_REQUEST', `Range ${range} is outside the file's ${size} bytes`, { status: 416 });
    }
    const [start, end] = r ?? [0, size - 1];
    if (r) {
      res.status(206);
      res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
    }
    res.setHeader('Content-Length', String(Math.max(0, end - start + 1)));
    if (head || size === 0) {
      res.end();
      return;
    }
    const stream = createReadStream(this.dataPath(id), { start, end });
    stream.on('error', (error) => {
      this.log.error({ room: this.room, id, err: error }, 'room files: cannot read the file');
      res.destroy();
    });
    stream.pipe(res);
  }
}

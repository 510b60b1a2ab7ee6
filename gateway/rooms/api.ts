/**
 * The rooms REST API, for operators and integrations (alarms, dispatch systems):
 *   GET    /api/v1/rooms                                   every room in memory
 *   GET    /api/v1/rooms/{room}                            one room, its participants and streams
 *   DELETE /api/v1/rooms/{room}                            close it for everyone
 *   GET    /api/v1/rooms/{room}/messages?after=ID&limit=N  history
 *   POST   /api/v1/rooms/{room}/messages                   post a chat or data message
 *   DELETE /api/v1/rooms/{room}/participants/{id}?banMs=&reason=   kick
 *   PATCH  /api/v1/rooms/{room}/participants/{id}          {"muted":..,"audioMuted":..,"floor":"granted"|"revoked"}
 *   GET    /api/v1/rooms/{room}/files                      file entries
 *   POST   /api/v1/rooms/{room}/files                      {"name","size","type"}: a new upload
 *   PUT    /api/v1/rooms/{room}/files/{id}                 one chunk (Content-Range)
 *   HEAD   /api/v1/rooms/{room}/files/{id}                 Upload-Offset
 *   GET    /api/v1/rooms/{room}/files/{id}                 download (Range)
 *   DELETE /api/v1/rooms/{room}/files/{id}                 remove (an unfinished upload fails)
 */
import express, { type NextFunction, type Request, type Response, Router } from 'express';
import { StreamgateError } from '../core/errors.js';
import { sendError as sendHttpError } from '../http/errors.js';
import { isValidPath } from '../core/path.js';
import type { Stream } from '../core/stream.js';
import { streamEntry } from '../api/streams.js';
import type { RoomsConfig } from './config.js';
import { RoomError } from './errors.js';
import { parseTarget, type ParticipantRef, validateName } from './protocol.js';
import { FILE_ID, type RoomFiles } from './files.js';
import type { Room } from './room.js';

/** What the API needs from the rooms service. */
export interface RoomDirectory {
  readonly config: RoomsConfig;
  list(): Room[];
  /** The room in memory or on disk, or a new one when streams belong to it; undefined otherwise. */
  find(path: string): Room | undefined;
  /** The room, created when it does not exist (POST creates the room it posts to). */
  open(path: string): Room;
  streamsOf(path: string): Stream[];
  filesOf(room: Room): RoomFiles;
}

export function roomEntry(room: Room, streams: Stream[], detailed: boolean) {
  return {
    room: room.path,
    participants: room.participants.size,
    hosts: room.hosts,
    lastMessageId: room.lastMessageId,
    historySize: room.history.size,
    persisted: room.persisted,
    createdAt: new Date(room.createdAt).toISOString(),
    lastActivityAt: new Date(room.lastActivityAt).toISOString(),
    streams: streams.map((s) => s.path),
    ...(detailed ? { participantList: room.participantList(), streamList: streams.map((s) => streamEntry(s)), live: room.streamList() } : {}),
  };
}

/** Answers a refusal; anything not ours is rethrown to the HTTP server's error handler. */
function sendError(res: Response, error: unknown): void {
  if (!(error instanceof StreamgateError)) throw error;
  sendHttpError(res, error);
}

function notFound(path: string): RoomError {
  return new RoomError('SG_ERR_ROOM_NOT_FOUND', `no room ${path}: nobody joined it, nothing was posted to it and no stream belongs to it`, 404);
}

function integer(v: unknown, what: string, min = 0): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new RoomError('SG_ERR_ROOM_INVALID_MESSAGE', `${what} must be an integer >= ${min}`);
  return n;
}

export function roomsRouter(rooms: RoomDirectory): Router {
  const router = Router();
  // File chunks (PUT) are file bytes whatever their Content-Type: never parsed, streamed to disk.
  const json = express.json({
    limit: rooms.config.maxMessageBytes,
    type: (req) => req.method !== 'PUT' && (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json',
  });

  router.get('/api/v1/rooms', (_req, res) => {
    res.json({ rooms: rooms.list().map((r) => roomEntry(r, rooms.streamsOf(r.path), false)) });
  });

  const getRoom = (path: string): Room => {
    const room = rooms.find(path);
    if (!room) throw notFound(path);
    return room;
  };

  const messages = (req: Request, res: Response, path: string): void => {
    if (req.method !== 'POST') {
      const room = getRoom(path);
      const after = integer(req.query.after, 'after') ?? 0;
      const limit = integer(req.query.limit, 'limit', 1) ?? rooms.config.historySize;
      res.json({ room: path, lastMessageId: room.lastMessageId, messages: room.history.list(after, limit).map((e) => e.message) });
      return;
    }
    // POST
    const body: unknown = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new RoomError('SG_ERR_ROOM_INVALID_MESSAGE', 'send a JSON object: {"text":"..."} or {"type":"data","to":"all","payload":{...}}, with an optional "from" name');
    }
    const b = body as Record<string, unknown>;
    const from: ParticipantRef = { id: 0, name: validateName(typeof b.from === 'string' ? b.from : 'api', rooms.config.maxNameLength), role: 'system' };
    const type = b.type ?? 'chat';
    if (type === 'chat') {
      if (typeof b.text !== 'string' || b.text.length === 0) throw new RoomError('SG_ERR_ROOM_INVALID_MESSAGE', 'chat: "text" must be a non-empty string');
      res.status(201).json(rooms.open(path).appendChat(from, b.text));
    } else if (type === 'data') {
      if (b.payload === undefined) throw new RoomError('SG_ERR_ROOM_INVALID_MESSAGE', 'data: "payload" is required (any JSON value)');
      res.status(201).json(rooms.open(path).relayData(from, parseTarget(b.to), { payload: b.payload }, undefined));
    } else {
      throw new RoomError('SG_ERR_ROOM_INVALID_MESSAGE', 'type must be "chat" or "data"');
    }
  };

  const files = (req: Request, res: Response, path: string): void => {
    if (req.method !== 'POST') {
      res.json({ room: path, files: rooms.filesOf(getRoom(path)).list() });
      return;
    }
    const body: unknown = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new RoomError('SG_ERR_ROOM_INVALID_MESSAGE', 'send a JSON object: {"name":"plan.pdf","size":123456,"type":"application/pdf"}, with an optional "from" name');
    }
    const b = body as Record<string, unknown>;
    const from: ParticipantRef = { id: 0, name: validateName(typeof b.from === 'string' ? b.from : 'api', rooms.config.maxNameLength), role: 'system' };
    const entry = rooms.filesOf(rooms.open(path)).create(from, b);
    const uploadUrl = `/api/v1/rooms/${path}/files/${entry.id}`;
    res.status(201).location(uploadUrl).json({ ...entry, uploadUrl });
  };

  const file = (req: Request, res: Response, path: string, id: string): void | Promise<void> => {
    const store = rooms.filesOf(getRoom(path));
    const m = req.method;
    if (m === 'PUT') return store.put(id, req, res);
    if (m === 'DELETE') {
      store.remove(id);
      res.status(204).end();
      return;
    }
    const state = store.offset(id);
    if (m === 'HEAD') {
      res.setHeader('Upload-Offset', String(state.received));
      res.setHeader('Upload-Length', String(state.size));
      res.setHeader('Cache-Control', 'no-store');
    }
    if (m === 'HEAD' && !state.complete) {
      res.status(200).end();
      return;
    }
    store.download(id, req.headers.range, m === 'HEAD', res);
  };

  const participant = (req: Request, res: Response, path: string, id: number): void => {
    const room = getRoom(path);
    const by: ParticipantRef = { id: 0, name: 'api', role: 'system' };
    if (req.method === 'DELETE') {
      const reason = typeof req.query.reason === 'string' ? req.query.reason.slice(0, 200) : undefined;
      room.kick(id, by, reason, integer(req.query.banMs, 'banMs'));
      res.status(204).end();
      return;
    }
    const body = (req.body as Record<string, unknown> | undefined) ?? {};
    const { muted, audioMuted, floor } = body;
    const usage = 'send any of {"muted":true|false} (chat), {"audioMuted":true|false} (left out of the mixes), {"floor":"granted"|"revoked"}';
    if (muted === undefined && audioMuted === undefined && floor === undefined) throw new RoomError('SG_ERR_ROOM_INVALID_MESSAGE', usage);
    if ((muted !== undefined && typeof muted !== 'boolean') || (audioMuted !== undefined && typeof audioMuted !== 'boolean') || (floor !== undefined && floor !== 'granted' && floor !== 'revoked')) {
      throw new RoomError('SG_ERR_ROOM_INVALID_MESSAGE', usage);
    }
    if (typeof muted === 'boolean') room.setMuted(id, muted, by);
    if (typeof audioMuted === 'boolean') room.setAudioMuted(id, audioMuted, by);
    if (floor !== undefined) room.setFloor(id, floor === 'granted', by, typeof body.reason === 'string' ? body.reason.slice(0, 200) : undefined);
    res.json(room.participantList().find((p) => p.id === id));
  };

  // One wildcard route, split by hand: a room path has any number of components, and a suffix
  // (`messages`, `participants/{id}`) only counts when what is before it is a valid room path.
  router.all('/api/v1/rooms/*rest', json, (req: Request, res: Response, next: NextFunction) => {
    const rest = (req.params as Record<string, string[] | string>).rest;
    const parts = Array.isArray(rest) ? rest : String(rest ?? '').split('/');
    const m = req.method;
    try {
      const last = parts.length - 1;
      if (parts[last] === 'files' && isValidPath(parts.slice(0, last).join('/'))) {
        if (m === 'GET' || m === 'HEAD' || m === 'POST') return files(req, res, parts.slice(0, last).join('/'));
      } else if (parts[last - 1] === 'files' && FILE_ID.test(parts[last]!) && isValidPath(parts.slice(0, last - 1).join('/'))) {
        if (m === 'GET' || m === 'HEAD' || m === 'PUT' || m === 'DELETE') {
          const done = file(req, res, parts.slice(0, last - 1).join('/'), parts[last]!);
          if (done) done.catch((error: unknown) => (error instanceof StreamgateError ? sendError(res, error) : next(error)));
          return;
        }
      } else if (parts[last] === 'messages' && isValidPath(parts.slice(0, last).join('/'))) {
        if (m === 'GET' || m === 'HEAD' || m === 'POST') return messages(req, res, parts.slice(0, last).join('/'));
      } else if (parts[last - 1] === 'participants' && /^[1-9][0-9]{0,15}$/.test(parts[last]!) && isValidPath(parts.slice(0, last - 1).join('/'))) {
        if (m === 'DELETE' || m === 'PATCH') return participant(req, res, parts.slice(0, last - 1).join('/'), Number(parts[last]));
      } else if (isValidPath(parts.join('/'))) {
        const path = parts.join('/');
        if (m === 'GET' || m === 'HEAD') {
          res.json(roomEntry(getRoom(path), rooms.streamsOf(path), true));
          return;
        }
        if (m === 'DELETE') {
          getRoom(path).close('closed through the API');
          res.status(204).end();
          return;
        }
      }
    } catch (error) {
      sendError(res, error);
      return;
    }
    next();
  });

  // Body parser refusals, in the rooms API's own codes.
  router.use('/api/v1/rooms', (error: Error & { type?: string; status?: number }, _req: Request, res: Response, next: NextFunction) => {
    if (error.type === 'entity.too.large') {
      sendError(res, new RoomError('SG_ERR_ROOM_MESSAGE_TOO_LARGE', `request body over ${rooms.config.maxMessageBytes} bytes`, 413));
    } else if (error.type === 'entity.parse.failed') {
      sendError(res, new RoomError('SG_ERR_ROOM_INVALID_MESSAGE', 'request body is not valid JSON'));
    } else {
      next(error);
    }
  });
  return router;
}

/**
 * Rooms: chat, a transparent data channel and presence over WebSocket
 * (`ws://HOST:8080/api/v1/rooms/{room}/ws?name=alice`), history with optional JSON Lines
 * persistence, moderation and limits, plus the REST API in api.ts. the README's Rooms section is the contract.
 */
import { existsSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { Router } from 'express';
import type { Logger } from 'pino';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import type { z } from 'zod';
import { errorCode, InvalidPathError, StreamgateError, wsCloseCodeOf } from '../core/errors.js';
import { validatePath } from '../core/path.js';
import type { AccessControl } from '../auth/index.js';
import type { StreamRegistry } from '../core/registry.js';
import type { Stream } from '../core/stream.js';
import { rejectUpgrade } from '../http/errors.js';
import { type RoomDirectory, roomsRouter } from './api.js';
import type { roomsConfigSchema } from './config.js';
import { RoomError } from './errors.js';
import { RoomFiles } from './files.js';
import { HistoryFile, historyFileName } from './history.js';
import { validateName } from './protocol.js';
import { BUS_ALIVE_MS, BUS_PEER_TIMEOUT_MS, type BusEvent, type RoomBus } from './bus.js';
import { type Connection, type LiveStream, type Participant, Room, type RoomHost } from './room.js';
import { participantStream } from './floor.js';
import type { AdmissionGrant, AdmissionRequest } from '../core/admission.js';
import { StreamEndedError } from '../core/errors.js';
import type { PublisherInfo } from '../core/stream.js';
import { peerAddress } from '../net/listen.js';

export interface RoomsDeps {
  readonly registry: Pick<StreamRegistry, 'list' | 'get' | 'on' | 'off'>;
  /** Streams the gateway derives from a participant's (renditions such as room/42/alice_aac): not participants. */
  readonly derived?: (path: string) => boolean;
  /** An audio mute changed in `room`: its mixes follow (transcode/room-mix.ts). */
  readonly onFloorChanged?: (room: string) => void;
  readonly config: z.infer<typeof roomsConfigSchema>;
  readonly dataDir: string;
  readonly log: Logger;
  /** Access control: who may join, and as host or viewer. Absent: everyone, roles by config. */
  readonly access?: AccessControl;
  /** Shares rooms with other nodes (cluster/bus.ts over Redis); absent: rooms are this node's. */
  readonly bus?: RoomBus;
}

const WS_PATH = /^\/api\/v1\/rooms\/(.+)\/ws$/;

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export class Rooms implements RoomHost, RoomDirectory {
  private readonly rooms = new Map<string, Room>();
  /** Files by room path: they outlive an evicted or reopened Room object (uploads in flight). */
  private readonly files = new Map<string, RoomFiles>();
  private readonly wss: WebSocketServer;
  /** Sockets that answered the last ping (heartbeat). */
  private readonly alive = new WeakMap<WebSocket, boolean>();
  private readonly pingTimer: NodeJS.Timeout | undefined;
  /** Room bus presence: says this node is alive in its rooms, forgets silent nodes' participants. */
  private readonly aliveTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly log: Logger;
  readonly config: z.infer<typeof roomsConfigSchema>;

  constructor(readonly deps: RoomsDeps) {
    this.config = deps.config;
    this.log = deps.log;
    // Frames over 4x the message limit are not worth reading into memory to refuse politely:
    // `ws` closes those connections with 1009 (RFC 6455 §7.4.1).
    this.wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: this.config.maxMessageBytes * 4 });
    const bus = deps.bus;
    if (bus) {
      this.aliveTimer = setInterval(() => {
        const before = Date.now() - BUS_PEER_TIMEOUT_MS;
        for (const room of this.rooms.values()) {
          if (room.participants.size > 0) bus.publish(room.path, { t: 'alive', node: bus.node });
          room.expirePeers(before);
        }
      }, BUS_ALIVE_MS);
      this.aliveTimer.unref();
    }
    deps.registry.on('publish', this.onPublish);
    deps.registry.on('unpublish', this.onUnpublish);
    if (this.config.enabled && this.config.pingIntervalMs > 0) {
      this.pingTimer = setInterval(() => this.heartbeat(), this.config.pingIntervalMs);
      this.pingTimer.unref();
    }
  }

  private get historyDir(): string {
    return join(this.deps.dataDir, 'rooms');
  }

  list(): Room[] {
    return [...this.rooms.values()];
  }

  streamsOf(path: string): Stream[] {
    const prefix = `${path}/`;
    return this.deps.registry.list().filter((s) => s.path === path || s.path.startsWith(prefix));
  }

  find(path: string): Room | undefined {
    const room = this.rooms.get(path);
    if (room) return room;
    const onDisk = this.config.persist && existsSync(join(this.historyDir, historyFileName(path)));
    return onDisk || this.streamsOf(path).length > 0 ? this.open(path) : undefined;
  }

  open(path: string): Room {
    validatePath(path);
    const existing = this.rooms.get(path);
    if (existing) return existing;
    if (this.closed) throw new RoomError('SG_ERR_ROOM_CLOSED', 'the gateway is stopping', 503);
    if (this.rooms.size >= this.config.maxRooms) this.evictIdleRoom();
    const log = this.log.child({ room: path });
    let file: HistoryFile | undefined;
    let entries: ConstructorParameters<typeof Room>[3] = [];
    let lastId = 0;
    if (this.config.persist) {
      try {
        const opened = HistoryFile.open(this.historyDir, path, this.config.historySize, this.config.fsync, log);
        file = opened.file;
        entries = opened.loaded.entries;
        lastId = opened.loaded.lastId;
      } catch (error) {
        log.error({ err: error }, 'room history: cannot open the file');
        throw new RoomError('SG_ERR_ROOM_STORAGE', `cannot open the history of room ${path}; see the gateway log`, 503);
      }
    }
    const room = new Room(path, this.config, file, entries, lastId, this, log);
    this.rooms.set(path, room);
    const bus = this.deps.bus;
    if (bus) {
      // Once subscribed, the other nodes announce their participants to us.
      void bus
        .subscribe(path, (event) => {
          if (this.rooms.get(path) === room) room.applyRemote(event, bus.node);
        })
        .then(() => bus.publish(path, { t: 'sync', node: bus.node }));
    }
    return room;
  }

  /** Makes space for a new room: forgets the empty room idle longest (its file stays on disk). */
  private evictIdleRoom(): void {
    let oldest: Room | undefined;
    for (const room of this.rooms.values()) {
      if (room.participants.size === 0 && (!oldest || room.lastActivityAt < oldest.lastActivityAt)) oldest = room;
    }
    if (!oldest) {
      throw new RoomError('SG_ERR_ROOM_LIMIT', `the gateway holds its maximum of ${this.config.maxRooms} rooms, all in use; try again later`, 503);
    }
    oldest.shutdown();
    this.rooms.delete(oldest.path);
    this.deps.bus?.unsubscribe(oldest.path);
  }

  /** The participant stream a path is (room and stream name), unless the gateway derives it from another. */
  private participantPath(path: string): { room: string; name: string } | undefined {
    const target = participantStream(path);
    if (!target || this.deps.derived?.(path)) return undefined;
    return target;
  }

  liveStreams(room: Room): Map<string, LiveStream> {
    const live = new Map<string, LiveStream>();
    for (const s of this.streamsOf(room.path)) {
      const target = s.publisher ? this.participantPath(s.path) : undefined;
      if (target?.room === room.path) live.set(target.name, { path: s.path, name: target.name, protocol: s.publisher!.protocol, since: s.publishedAt || s.createdAt });
    }
    return live;
  }

  cutStream(room: Room, name: string, reason: string): void {
    const path = `${room.path}/${name}`;
    const stream = this.deps.registry.get(path);
    if (!stream || stream.state === 'ended') return;
    this.log.info({ room: room.path, path }, `cutting ${path}: ${reason}`);
    stream.end(new StreamEndedError(path, reason));
  }

  floorChanged(room: Room): void {
    this.deps.onFloorChanged?.(room.path);
  }

  /** Is `path`'s audio kept out of its room's mixes (a host's audio mute)? */
  audioMuted(path: string): boolean {
    const target = participantStream(path);
    return target ? (this.rooms.get(target.room)?.floor.isAudioMuted(target.name) ?? false) : false;
  }

  /**
   * The admission rule for publishing into a room's path space (`rooms.publish`,
   * `rooms.maxPublishers`, revokes): throws SG_ERR_ROOM_NOT_GRANTED or SG_ERR_ROOM_PUBLISHER_LIMIT.
   * Configured camera sources and credentials that allow the path publish without a grant, but
   * not after a host revoked the floor.
   */
  readonly checkPublish = (req: AdmissionRequest, grant: AdmissionGrant): void => {
    if (!this.config.enabled) return;
    const target = this.participantPath(req.path);
    if (!target) return;
    const room = this.rooms.get(target.room);
    const floor = room?.floor;
    if (floor?.isRevoked(target.name)) {
      throw new RoomError('SG_ERR_ROOM_NOT_GRANTED', `a host of room ${target.room} took the floor back from ${target.name}; ask a host to grant it again`);
    }
    const credentialed = !grant.open || this.deps.access?.allowsPublish?.(req.path, req.credential ?? req.query.token) === true;
    if (this.config.publish === 'granted' && !credentialed && !floor?.keyMatches(target.name, req.query.grant)) {
      throw new RoomError(
        'SG_ERR_ROOM_NOT_GRANTED',
        `publishing into room ${target.room} needs the floor: join the room as ${target.name} and ask a host to grant it (then publish with ?grant=KEY), or use a publish token`,
      );
    }
    let live = 0;
    for (const s of this.streamsOf(target.room)) {
      if (s.path !== req.path && s.publisher && this.participantPath(s.path)?.room === target.room) live++;
    }
    if (live >= this.config.maxPublishers) {
      throw new RoomError('SG_ERR_ROOM_PUBLISHER_LIMIT', `room ${target.room} has its maximum of ${this.config.maxPublishers} live publishers (rooms.maxPublishers); try again when one stops`);
    }
  };

  private readonly onPublish = (stream: Stream, info: PublisherInfo): void => this.streamChanged(stream, info, true);
  private readonly onUnpublish = (stream: Stream, info: PublisherInfo): void => this.streamChanged(stream, info, false);

  private streamChanged(stream: Stream, info: PublisherInfo, live: boolean): void {
    const target = this.participantPath(stream.path);
    const room = target && this.rooms.get(target.room);
    if (!room) return;
    room.streamChanged({ path: stream.path, name: target.name, protocol: info.protocol, since: Date.now() }, live);
  }

  roomClosed(room: Room): void {
    if (this.rooms.get(room.path) === room) {
      this.rooms.delete(room.path);
      this.deps.bus?.unsubscribe(room.path);
    }
  }

  publish(room: Room, event: BusEvent): void {
    const bus = this.deps.bus;
    if (bus && this.rooms.get(room.path) === room) bus.publish(room.path, { ...event, node: bus.node });
  }

  /** The files of a room that exists (find), loaded from disk the first time. */
  filesOf(room: Room): RoomFiles {
    let files = this.files.get(room.path);
    if (!files) {
      const path = room.path;
      const dir = join(this.historyDir, encodeURIComponent(path), 'files');
      files = new RoomFiles(path, dir, this.config, (frame) => this.rooms.get(path)?.announce(frame), this.log.child({ room: path }));
      this.files.set(path, files);
    }
    return files;
  }

  router(): Router {
    return roomsRouter(this);
  }

  /** Claims `/api/v1/rooms/{room}/ws`; any refusal after that is an error frame and a close code. */
  handleUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer, pathname: string): boolean => {
    const match = WS_PATH.exec(pathname);
    if (!match || !this.config.enabled) return false;
    if (this.closed) {
      rejectUpgrade(socket, new RoomError('SG_ERR_ROOM_CLOSED', 'the gateway is stopping', 503));
      return true;
    }
    const access = this.deps.access;
    if (!access) {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req, socket, match[1]!));
      return true;
    }
    let path: string;
    try {
      path = decodeURIComponent(match[1]!);
    } catch {
      path = match[1]!;
    }
    const query: Record<string, string> = {};
    for (const [k, v] of new URL(req.url ?? '/', 'http://x').searchParams) query[k] = v;
    access.check({ action: 'room', path, protocol: 'room', remoteAddress: peerAddress(socket), query }).then(
      (grant) => {
        if (socket.destroyed) return;
        this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req, socket, match[1]!, grant.via === 'open' ? undefined : grant.role));
      },
      (error: unknown) => {
        if (socket.destroyed) return;
        // Browsers cannot read a refused handshake's status: accept, say why, close with 4401/4403.
        const code = errorCode(error, 'SG_ERR_FORBIDDEN');
        this.wss.handleUpgrade(req, socket, head, (ws) => {
          ws.send(JSON.stringify({ type: 'error', code, message: (error as Error).message }));
          ws.close(wsCloseCodeOf(error), code);
        });
      },
    );
    return true;
  };

  private accept(ws: WebSocket, req: IncomingMessage, socket: Socket, rawPath: string, grantedRole?: 'host' | 'viewer'): void {
    socket.setNoDelay(true);
    const conn = peerAddress(socket);
    const connection: Connection = {
      send: (data, binary) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(data, { binary });
      },
      get bufferedAmount() {
        return ws.bufferedAmount;
      },
      close: (code, reason) => {
        if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
      },
    };
    let room: Room;
    let participant: Participant;
    try {
      let path: string;
      try {
        path = decodeURIComponent(rawPath);
      } catch {
        throw new InvalidPathError(rawPath);
      }
      validatePath(path);
      const query = new URL(req.url ?? '/', 'http://x').searchParams;
      const name = validateName(query.get('name'), this.config.maxNameLength);
      room = this.open(path);
      participant = room.join(connection, name, query.get('role'), grantedRole);
    } catch (error) {
      if (!(error instanceof StreamgateError)) {
        this.log.error({ err: error, conn }, 'room join failed');
        ws.close(1011, 'internal error');
        return;
      }
      this.log.info({ conn, url: (req.url ?? '').slice(0, 256), code: error.code }, `room join refused: ${error.message}`);
      ws.send(JSON.stringify({ type: 'error', code: error.code, message: error.message }));
      ws.close(error.wsCloseCode, error.code);
      return;
    }
    this.alive.set(ws, true);
    ws.on('pong', () => this.alive.set(ws, true));
    ws.on('message', (data, isBinary) => {
      try {
        if (isBinary) room.handleBinary(participant, toBuffer(data));
        else room.handleText(participant, toBuffer(data));
      } catch (error) {
        this.log.error({ err: error, conn, room: room.path }, 'room message handling failed');
        ws.close(1011, 'internal error');
      }
    });
    ws.on('close', () => room.leave(participant, 'left'));
    ws.on('error', (error) => this.log.debug({ conn, room: room.path, err: error.message }, 'room socket error'));
  }

  private heartbeat(): void {
    for (const ws of this.wss.clients) {
      if (this.alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      this.alive.set(ws, false);
      ws.ping();
    }
  }

  /** Closes every socket (1001) and flushes and closes every history file. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.deps.registry.off('publish', this.onPublish);
    this.deps.registry.off('unpublish', this.onUnpublish);
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.aliveTimer) clearInterval(this.aliveTimer);
    for (const room of this.rooms.values()) {
      room.shutdown();
      this.deps.bus?.unsubscribe(room.path);
    }
    this.rooms.clear();
    for (const files of this.files.values()) files.close();
    const open = [...this.wss.clients];
    await Promise.race([
      Promise.all(open.map((ws) => (ws.readyState === WebSocket.CLOSED ? undefined : new Promise((r) => ws.once('close', r))))),
      new Promise((r) => setTimeout(r, 500).unref()),
    ]);
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

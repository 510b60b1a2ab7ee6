/**
 * One room: its participants, ordered message log, moderation state and history. Everything a
 * room does for one incoming frame is synchronous: an id is assigned, the line is persisted,
 * then every recipient's socket gets the same bytes, so order is the same for everyone.
 */
import type { Logger } from 'pino';
import type { RoomsConfig } from './config.js';
import { CloseCode, RoomError } from './errors.js';
import { History, type HistoryEntry, type HistoryFile } from './history.js';
import {
  type ChatMessage,
  type DataMessage,
  type DataTarget,
  parseClientMessage,
  type ParticipantRef,
  type Ref,
  refOf,
  type Role,
} from './protocol.js';
import { TokenBucket } from './token-bucket.js';
import type { BusEvent, BusTarget } from './bus.js';
import { Floor, streamNameOf } from './floor.js';

/** What a room needs from a participant's transport (a `ws` WebSocket in production, fakes in tests). */
export interface Connection {
  send(data: Buffer, binary: boolean): void;
  /** Bytes queued but not yet written to the network. */
  readonly bufferedAmount: number;
  close(code: number, reason: string): void;
}

export type LeaveReason = 'left' | 'kicked' | 'closed' | 'too slow' | 'abuse' | 'gateway stopping';

export class Participant {
  readonly ref: ParticipantRef;
  readonly joinedAt = Date.now();
  readonly bucket: TokenBucket;
  /** A `{"type":"data","binary":true}` waiting for its binary frame. */
  pendingBinary: { to: DataTarget; ref: Ref | undefined } | undefined;
  refusals = 0;
  refusalWindowStart = 0;
  left = false;
  /** The path component this participant publishes under (`room/42/{streamName}`). */
  readonly streamName: string;

  constructor(
    readonly id: number,
    readonly name: string,
    readonly role: Role,
    readonly connection: Connection,
    config: RoomsConfig,
  ) {
    this.ref = { id, name, role };
    this.streamName = streamNameOf(name);
    this.bucket = new TokenBucket(config.ratePerSecond, config.rateBurst);
  }
}

export interface RoomHost {
  /** Called once when the room closed itself (host `close`, API DELETE). */
  roomClosed(room: Room): void;
  /** Tells the other nodes (the room bus); absent on a single box. */
  publish?(room: Room, event: BusEvent): void;
  /** Talkback: the room's live participant streams (the hub knows), by stream name. */
  liveStreams?(room: Room): Map<string, LiveStream>;
  /** Ends the participant stream `{room}/{name}` (revoke, kick). */
  cutStream?(room: Room, name: string, reason: string): void;
  /** An audio mute changed: the room's mixes follow. */
  floorChanged?(room: Room): void;
}

/** A live stream in the room's path space, as presence shows it. */
export interface LiveStream {
  readonly path: string;
  readonly name: string;
  readonly protocol: string;
  readonly since: number;
}

/** A participant connected to another node, as this node shows it (its own local id). */
interface RemoteParticipant {
  readonly ref: ParticipantRef;
  readonly node: string;
  readonly remoteId: number;
  readonly joinedAt: number;
}

const encode = (frame: unknown): Buffer => Buffer.from(JSON.stringify(frame));

export type FloorState = 'granted' | 'revoked' | 'open' | 'none';

export class Room {
  readonly createdAt = Date.now();
  lastActivityAt = Date.now();
  readonly participants = new Map<number, Participant>();
  /** Participants of other nodes (room bus), by the local id this node gave them. */
  private readonly remote = new Map<number, RemoteParticipant>();
  /** `{node}/{their id}` -> local id. */
  private readonly remoteIds = new Map<string, number>();
  /** Nodes heard from on the room bus, with when they were last heard. */
  private readonly peers = new Map<string, number>();
  private nextParticipantId = 1;
  private lastId: number;
  readonly history: History;
  /** Muted and banned by name: the credential until access control exists, so a reconnect keeps them. */
  private readonly muted = new Set<string>();
  private readonly bans = new Map<string, number>();
  private hostCount = 0;
  private closed = false;
  /** Talkback: grants, revokes and audio mutes by stream name. */
  readonly floor = new Floor();
  /** Participants to disconnect once the current fan-out finished (never mid-loop). */
  private slow: Participant[] = [];

  constructor(
    readonly path: string,
    private readonly config: RoomsConfig,
    private readonly file: HistoryFile | undefined,
    loaded: HistoryEntry[],
    lastId: number,
    private readonly host: RoomHost,
    private readonly log: Logger,
  ) {
    this.history = new History(config.historySize);
    for (const entry of loaded) this.history.add(entry);
    this.lastId = lastId;
  }

  get lastMessageId(): number {
    return this.lastId;
  }

  get hosts(): number {
    return this.hostCount;
  }

  get persisted(): boolean {
    return this.file !== undefined;
  }

  private roleFor(name: string, requested: string | null): Role {
    const c = this.config;
    if (c.hostNames.includes(name)) return 'host';
    if (c.hostRule === 'first' && this.hostCount === 0) return 'host';
    if (c.hostRule === 'query' && requested === 'host') return 'host';
    return 'viewer';
  }

  /**
   * Admits a participant: throws RoomError (full, banned, closed) or sends it `welcome`,
   * `participants` and `history`, and tells everyone else with `join`.
   */
  join(connection: Connection, name: string, requestedRole: string | null, grantedRole?: Role): Participant {
    if (this.closed) throw new RoomError('SG_ERR_ROOM_CLOSED', `room ${this.path} was closed`, 410);
    const banUntil = this.bans.get(name);
    if (banUntil !== undefined) {
      const left = banUntil - Date.now();
      if (left > 0) {
        throw new RoomError('SG_ERR_ROOM_BANNED', `${name} was removed from room ${this.path} by a host; rejoin allowed in ${Math.ceil(left / 1000)} s`, 403);
      }
      this.bans.delete(name);
    }
    if (this.participants.size >= this.config.maxParticipants) {
      throw new RoomError('SG_ERR_ROOM_FULL', `room ${this.path} is full (${this.config.maxParticipants} participants); try again later`, 409);
    }
    // A role granted by access control (credentials) wins over the config's host rule.
    const role = grantedRole ?? this.roleFor(name, requestedRole);
    const p = new Participant(this.nextParticipantId++, name, role, connection, this.config);
    this.participants.set(p.id, p);
    if (p.role === 'host') this.hostCount++;
    this.lastActivityAt = Date.now();
    const c = this.config;
    this.sendTo(p, encode({
      type: 'welcome',
      room: this.path,
      you: p.ref,
      muted: this.muted.has(name),
      // Talkback: where this participant publishes, whether it needs a grant, and its grant key.
      stream: `${this.path}/${p.streamName}`,
      publish: c.publish,
      floor: this.floorOf(p.streamName),
      ...(this.floor.keyOf(p.streamName) ? { grant: this.floor.keyOf(p.streamName) } : {}),
      // The newest id this room has given out: a client that saw higher ids (the gateway restarted,
      // or the room was evicted and reopened, and only chat ids persist) knows they start over.
      lastMessageId: this.lastId,
      limits: { maxMessageBytes: c.maxMessageBytes, ratePerSecond: c.ratePerSecond, rateBurst: c.rateBurst },
    }));
    this.sendTo(p, encode({ type: 'participants', count: this.count, participants: this.participantList(), streams: this.streamList() }));
    // Half the slow-consumer limit at most: a big history (historySize 100000) would otherwise cut
    // every joiner as too slow before it has read anything. Older messages: GET .../messages.
    this.sendTo(p, Buffer.from(`{"type":"history","messages":${this.history.jsonArray(this.config.maxBufferedBytes / 2)}}`));
    this.broadcast(encode({ type: 'join', participant: { ...p.ref, ...this.talkOf(p.ref) }, count: this.count }), p);
    this.host.publish?.(this, { t: 'join', node: '', p: p.ref });
    this.log.debug({ room: this.path, participant: p.id, name, role: p.role }, 'participant joined');
    return p;
  }

  /** Participants here and, with the room bus, on the other nodes. */
  get count(): number {
    return this.participants.size + this.remote.size;
  }

  participantList(): Array<ParticipantRef & { muted: boolean; joinedAt: string; node?: string; stream: string; live: boolean; floor: FloorState; audioMuted: boolean }> {
    const live = this.host.liveStreams?.(this) ?? new Map<string, LiveStream>();
    const talk = (ref: ParticipantRef) => this.talkOf(ref, live);
    const local = [...this.participants.values()].map((p) => ({ ...p.ref, muted: this.muted.has(p.name), joinedAt: new Date(p.joinedAt).toISOString(), ...talk(p.ref) }));
    const remote = [...this.remote.values()].map((r) => ({ ...r.ref, muted: this.muted.has(r.ref.name), joinedAt: new Date(r.joinedAt).toISOString(), node: r.node, ...talk(r.ref) }));
    return [...local, ...remote];
  }

  /** A participant's talkback state: its stream path, whether it is live, its floor, its audio mute. */
  private talkOf(ref: ParticipantRef, live = this.host.liveStreams?.(this)): { stream: string; live: boolean; floor: FloorState; audioMuted: boolean } {
    const name = streamNameOf(ref.name);
    return { stream: `${this.path}/${name}`, live: live?.has(name) ?? false, floor: this.floorOf(name), audioMuted: this.floor.isAudioMuted(name) };
  }

  /** Live streams in the room's path space (participants' and cameras'), oldest first. */
  streamList(): Array<LiveStream & { participant?: ParticipantRef }> {
    const live = [...(this.host.liveStreams?.(this) ?? new Map<string, LiveStream>()).values()].sort((a, b) => a.since - b.since);
    return live.map((s) => {
      const participant = this.participantByStream(s.name);
      return participant ? { ...s, participant } : s;
    });
  }

  /**
   * `granted`: a host gave the floor; `revoked`: a host took it back (refused until granted
   * again); `open`: anyone access control allows may publish (rooms.publish: open); `none`: a
   * grant is needed (rooms.publish: granted).
   */
  private floorOf(name: string): FloorState {
    if (this.floor.isGranted(name)) return 'granted';
    if (this.floor.isRevoked(name)) return 'revoked';
    return this.config.publish === 'open' ? 'open' : 'none';
  }

  private participantByStream(name: string): ParticipantRef | undefined {
    for (const p of this.participants.values()) if (p.streamName === name) return p.ref;
    for (const r of this.remote.values()) if (streamNameOf(r.ref.name) === name) return r.ref;
    return undefined;
  }

  /** The hub says a stream in the room's path space went live or stopped: presence follows. */
  streamChanged(stream: LiveStream, live: boolean): void {
    if (this.closed) return;
    const participant = this.participantByStream(stream.name);
    this.broadcast(encode({ type: 'live', live, stream: participant ? { ...stream, participant } : stream }));
  }

  /** Removes a participant (socket closed, kicked, too slow); idempotent. */
  leave(p: Participant, reason: LeaveReason): void {
    if (p.left) return;
    p.left = true;
    if (this.participants.get(p.id) !== p) return;
    this.participants.delete(p.id);
    if (p.role === 'host') this.hostCount--;
    this.lastActivityAt = Date.now();
    if (!this.closed) {
      this.broadcast(encode({ type: 'leave', participant: p.ref, count: this.count, reason }));
      this.host.publish?.(this, { t: 'leave', node: '', id: p.id, reason });
    }
    this.log.debug({ room: this.path, participant: p.id, reason }, 'participant left');
  }

  /** A text frame from a participant. */
  handleText(p: Participant, data: Buffer): void {
    if (p.left) return;
    if (!this.admit(p, data.length)) return;
    let raw: unknown;
    try {
      raw = JSON.parse(data.toString('utf8'));
    } catch {
      this.refuse(p, new RoomError('SG_ERR_ROOM_INVALID_MESSAGE', 'text frames must be JSON objects, e.g. {"type":"chat","text":"hi"}'));
      return;
    }
    try {
      this.dispatch(p, parseClientMessage(raw));
    } catch (error) {
      if (!(error instanceof RoomError)) throw error;
      this.refuse(p, error, refOf(raw));
    }
    this.flushSlow();
  }

  /** A binary frame: the payload of the `data` announcement before it. */
  handleBinary(p: Participant, data: Buffer): void {
    if (p.left) return;
    const pending = p.pendingBinary;
    p.pendingBinary = undefined;
    if (data.length > this.config.maxMessageBytes) {
      this.refuse(p, tooLarge(data.length, this.config.maxMessageBytes), pending?.ref);
      return;
    }
    if (!pending) {
      this.refuse(p, new RoomError('SG_ERR_ROOM_INVALID_MESSAGE', 'a binary frame must follow {"type":"data","to":..,"binary":true}'));
      return;
    }
    try {
      this.relayData(p.ref, pending.to, { binary: data }, pending.ref, p);
    } catch (error) {
      if (!(error instanceof RoomError)) throw error;
      this.refuse(p, error, pending.ref);
    }
    this.flushSlow();
  }

  /** Size and rate checks every text frame passes before it is parsed. */
  private admit(p: Participant, size: number): boolean {
    if (size > this.config.maxMessageBytes) {
      this.refuse(p, tooLarge(size, this.config.maxMessageBytes));
      return false;
    }
    if (!p.bucket.take()) {
      const retryAfterMs = p.bucket.waitMs();
      this.refuse(
        p,
        new RoomError('SG_ERR_ROOM_RATE_LIMIT', `too many messages: at most ${this.config.ratePerSecond}/s (bursts of ${this.config.rateBurst}); retry in ${retryAfterMs} ms`, 429),
        undefined,
        { retryAfterMs },
      );
      return false;
    }
    if (p.pendingBinary) {
      const ref = p.pendingBinary.ref;
      p.pendingBinary = undefined;
      this.refuse(p, new RoomError('SG_ERR_ROOM_INVALID_MESSAGE', 'expected a binary frame after {"type":"data","binary":true}; the announcement was dropped'), ref);
    }
    return true;
  }

  private dispatch(p: Participant, m: ReturnType<typeof parseClientMessage>): void {
    switch (m.type) {
      case 'chat':
        if (this.muted.has(p.name)) throw new RoomError('SG_ERR_ROOM_MUTED', 'a host muted your chat in this room; data messages still work', 403);
        this.ack(p, m.ref, this.appendChat(p.ref, m.text).id);
        return;
      case 'data':
        if (m.binary) {
          this.resolveTargets(m.to, p); // refuse an unknown target now, not after the payload
          p.pendingBinary = { to: m.to, ref: m.ref };
          return;
        }
        this.relayData(p.ref, m.to, { payload: m.payload }, m.ref, p);
        return;
      case 'kick':
      case 'mute':
      case 'unmute':
      case 'grant':
      case 'revoke':
      case 'close':
        if (p.role !== 'host') throw new RoomError('SG_ERR_ROOM_FORBIDDEN', `only hosts can ${m.type}; you joined as ${p.role}`, 403);
        if (m.type === 'close') {
          this.close(m.reason ?? `closed by ${p.name}`, p.ref);
          return;
        }
        if (m.participant === p.id) throw new RoomError('SG_ERR_ROOM_INVALID_MESSAGE', `you cannot ${m.type} yourself`);
        if (m.type === 'kick') this.kick(m.participant, p.ref, m.reason, m.banMs);
        else if (m.type === 'grant' || m.type === 'revoke') this.setFloor(m.participant, m.type === 'grant', p.ref, m.type === 'revoke' ? m.reason : undefined);
        else if (m.media === 'audio') this.setAudioMuted(m.participant, m.type === 'mute', p.ref);
        else this.setMuted(m.participant, m.type === 'mute', p.ref);
        this.ack(p, m.ref);
        return;
    }
  }

  private ack(p: Participant, ref: Ref | undefined, id?: number): void {
    if (ref === undefined) return;
    this.sendTo(p, encode(id === undefined ? { type: 'ack', ref } : { type: 'ack', ref, id }));
  }

  /** Assigns an id, persists, keeps in history and relays to everyone (and to the other nodes unless it came from one). */
  appendChat(from: ParticipantRef, text: string, fromBus = false): ChatMessage {
    const message: ChatMessage = { type: 'chat', id: this.lastId + 1, from, text, ts: Date.now() };
    const json = JSON.stringify(message);
    if (this.file) {
      try {
        this.file.append(json);
      } catch (error) {
        this.log.error({ room: this.path, err: error }, 'room history: cannot append; message refused');
        throw new RoomError('SG_ERR_ROOM_STORAGE', 'the gateway could not store the message; it was not delivered', 503);
      }
    }
    this.lastId = message.id;
    this.lastActivityAt = message.ts;
    this.history.add({ message, json });
    this.broadcast(Buffer.from(json));
    if (!fromBus) this.host.publish?.(this, { t: 'chat', node: '', from, text, ts: message.ts });
    return message;
  }

  /** The participants a data message goes to; throws SG_ERR_ROOM_NO_TARGET when there are none. */
  private resolveTargets(to: DataTarget, sender: Participant | undefined): Participant[] | 'all' {
    if (to === 'all') return 'all';
    if (to === 'host') {
      const hosts = [...this.participants.values()].filter((q) => q.role === 'host' && q !== sender);
      const remoteHost = [...this.remote.values()].some((r) => r.ref.role === 'host');
      if (hosts.length === 0 && !remoteHost) throw new RoomError('SG_ERR_ROOM_NO_TARGET', `no host is in room ${this.path}`, 409);
      return hosts;
    }
    const target = this.participants.get(to);
    if (!target) {
      if (this.remote.has(to)) return [];
      throw new RoomError('SG_ERR_ROOM_NO_TARGET', `participant ${to} is not in room ${this.path}`, 409);
    }
    return [target];
  }

  /**
   * Relays a data message: JSON payload in one text frame, or a header text frame followed by the
   * binary frame. "all" includes the sender (its echo is the confirmation); targeted messages
   * go only to their targets. Not kept in history: a replayed PTZ request would move a camera.
   */
  relayData(from: ParticipantRef, to: DataTarget, body: { payload?: unknown; binary?: Buffer }, ref: Ref | undefined, sender?: Participant, fromBus = false): DataMessage {
    const targets = this.resolveTargets(to, sender);
    const message: DataMessage = body.binary
      ? { type: 'data', id: this.lastId + 1, from, to, ts: Date.now(), binary: true, size: body.binary.length }
      : { type: 'data', id: this.lastId + 1, from, to, ts: Date.now(), payload: body.payload };
    this.lastId = message.id;
    this.lastActivityAt = message.ts;
    const header = encode(message);
    const deliver = (q: Participant) => {
      this.sendTo(q, header);
      if (body.binary) this.sendTo(q, body.binary, true);
    };
    if (targets === 'all') for (const q of this.participants.values()) deliver(q);
    else for (const q of targets) deliver(q);
    const busTarget = this.busTarget(to);
    if (busTarget && !fromBus) {
      this.host.publish?.(this, { t: 'data', node: '', from, to: busTarget, ...(body.binary ? { binary: body.binary.toString('base64') } : { payload: body.payload }) });
    }
    if (sender) this.ack(sender, ref, message.id);
    // Data posted over REST has no sender frame behind it: slow consumers are cut here too.
    this.flushSlow();
    return message;
  }

  kick(participantId: number, by: ParticipantRef, reason: string | undefined, banMs = this.config.kickBanMs, fromBus = false): void {
    const target = this.participants.get(participantId);
    const remote = this.remote.get(participantId);
    if (!target && remote) {
      // The participant's own node removes it; the ban holds here too.
      if (banMs > 0) this.bans.set(remote.ref.name, Date.now() + banMs);
      this.host.publish?.(this, { t: 'kick', node: '', name: remote.ref.name, banMs, ...(reason ? { reason } : {}), by });
      return;
    }
    if (!target) throw new RoomError('SG_ERR_ROOM_NO_TARGET', `participant ${participantId} is not in room ${this.path}`, 404);
    if (banMs > 0) this.bans.set(target.name, Date.now() + banMs);
    // A kicked participant loses the floor too: its stream is cut and refused until a host grants it again.
    this.floor.revoke(target.streamName);
    this.host.cutStream?.(this, target.streamName, `${by.name} removed ${target.name} from room ${this.path}`);
    const why = reason ? ` (${reason})` : '';
    const rejoin = banMs > 0 ? `; you can rejoin in ${Math.ceil(banMs / 1000)} s` : '';
    const kicked = new RoomError('SG_ERR_ROOM_KICKED', `${by.name} removed you from room ${this.path}${why}${rejoin}`);
    this.sendError(target, kicked);
    target.connection.close(kicked.wsCloseCode, 'kicked');
    this.leave(target, 'kicked');
    if (!fromBus) this.host.publish?.(this, { t: 'kick', node: '', name: target.name, banMs, ...(reason ? { reason } : {}), by });
    this.log.info({ room: this.path, participant: target.id, name: target.name, by: by.name, banMs }, 'participant kicked');
  }

  setMuted(participantId: number, muted: boolean, by: ParticipantRef, fromBus = false): void {
    const target = this.someone(participantId);
    const name = target.ref.name;
    if (muted) this.muted.add(name);
    else this.muted.delete(name);
    this.broadcast(encode({ type: 'mute', participant: target.ref, muted, by }));
    if (!fromBus) this.host.publish?.(this, { t: 'mute', node: '', name, muted, by });
    this.log.info({ room: this.path, participant: target.ref.id, name, by: by.name, muted }, muted ? 'participant muted' : 'participant unmuted');
  }

  /**
   * Gives (`granted`) or takes back the floor of a participant: every participant hears of it
   * (`floor` frame); the participant's own sessions also get the grant key to publish with. A
   * revoke cuts the participant's live stream at once and refuses it until the next grant.
   */
  setFloor(participantId: number, granted: boolean, by: ParticipantRef, reason?: string): void {
    const target = this.someone(participantId);
    this.applyFloor(target.ref, granted, by, reason);
  }

  /** setFloor by participant; `remoteKey`: the key another node granted with (the event came over the bus). */
  private applyFloor(ref: ParticipantRef, granted: boolean, by: ParticipantRef, reason: string | undefined, remoteKey?: string, fromBus = false): void {
    const name = streamNameOf(ref.name);
    const stream = `${this.path}/${name}`;
    let key: string | undefined;
    if (granted) key = this.floor.grant(name, remoteKey);
    else this.floor.revoke(name);
    if (!fromBus) this.host.publish?.(this, { t: 'floor', node: '', name, granted, ...(key ? { key } : {}), ...(reason ? { reason } : {}), by });
    const frame = { type: 'floor', participant: ref, floor: granted ? 'granted' : 'revoked', stream, by, ...(reason ? { reason } : {}) };
    const shared = encode(frame);
    const own = key ? encode({ ...frame, grant: key }) : shared;
    for (const q of this.participants.values()) this.sendTo(q, q.streamName === name ? own : shared);
    this.flushSlow();
    if (!granted) this.host.cutStream?.(this, name, `${by.name} took the floor back from ${ref.name}${reason ? ` (${reason})` : ''}`);
    this.log.info({ room: this.path, participant: ref.id, name: ref.name, by: by.name, stream }, granted ? 'floor granted' : 'floor revoked');
  }

  /** Keeps a participant out of (or lets it back into) the room's mixes; its own page mutes its microphone. */
  setAudioMuted(participantId: number, muted: boolean, by: ParticipantRef): void {
    const target = this.someone(participantId);
    this.applyAudioMute(streamNameOf(target.ref.name), target.ref, muted, by);
  }

  /** An audio mute by stream name; `ref`: the participant as this node shows it, when it knows one. */
  private applyAudioMute(name: string, ref: ParticipantRef | undefined, muted: boolean, by: ParticipantRef, fromBus = false): void {
    this.floor.setAudioMuted(name, muted);
    if (!fromBus) this.host.publish?.(this, { t: 'amute', node: '', name, muted, by });
    if (ref) this.broadcast(encode({ type: 'mute', participant: ref, muted, media: 'audio', by }));
    this.host.floorChanged?.(this);
    this.log.info({ room: this.path, name, by: by.name, muted }, muted ? 'participant audio muted' : 'participant audio unmuted');
  }

  /** A participant of this node or, with the room bus, of another; SG_ERR_ROOM_NO_TARGET otherwise. */
  private someone(participantId: number): Participant | RemoteParticipant {
    const target = this.participants.get(participantId) ?? this.remote.get(participantId);
    if (!target) throw new RoomError('SG_ERR_ROOM_NO_TARGET', `participant ${participantId} is not in room ${this.path}`, 404);
    return target;
  }

  /** Ends the room for everyone (host `close`, API DELETE): a `closed` frame, then close 4410. */
  close(reason: string, by?: ParticipantRef, fromBus = false): void {
    if (this.closed) return;
    this.broadcast(encode({ type: 'closed', room: this.path, reason, ...(by ? { by } : {}) }));
    if (!fromBus) this.host.publish?.(this, { t: 'close', node: '', reason, ...(by ? { by } : {}) });
    this.closed = true;
    for (const p of this.participants.values()) {
      p.left = true;
      p.connection.close(CloseCode.roomClosed, 'room closed');
    }
    this.participants.clear();
    this.hostCount = 0;
    this.closeFile();
    this.log.info({ room: this.path, reason }, 'room closed');
    this.host.roomClosed(this);
  }

  /** The bus address of a data target (undefined: only local participants get it). */
  private busTarget(to: DataTarget): BusTarget | undefined {
    if (to === 'all' || to === 'host') return to;
    const r = this.remote.get(to);
    return r ? { node: r.node, id: r.remoteId } : undefined;
  }

  /** The local ref of another node's participant, or the ref as it came when it is unknown here. */
  private localRef(node: string, ref: ParticipantRef): ParticipantRef {
    const id = this.remoteIds.get(`${node}/${ref.id}`);
    return id === undefined ? ref : this.remote.get(id)!.ref;
  }

  /**
   * Forgets the participants of nodes not heard from since `before` (a crashed node cannot say
   * they left). A node that speaks again is greeted as new and announces them again.
   */
  expirePeers(before: number): void {
    for (const [node, seen] of this.peers) {
      if (seen >= before) continue;
      this.peers.delete(node);
      for (const [id, r] of this.remote) {
        if (r.node !== node) continue;
        this.remote.delete(id);
        this.remoteIds.delete(`${node}/${r.remoteId}`);
        this.broadcast(encode({ type: 'leave', participant: r.ref, count: this.count, reason: 'node gone' }));
      }
    }
  }

  /** Our own participants, announced again (another node opened the room). */
  announceAll(): void {
    for (const p of this.participants.values()) this.host.publish?.(this, { t: 'join', node: '', p: p.ref });
  }

  /** An event of another node (room bus): shown to this node's participants as if it happened here. */
  applyRemote(e: BusEvent, self: string): void {
    if (this.closed || e.node === self) return;
    this.lastActivityAt = Date.now();
    const known = this.peers.has(e.node);
    this.peers.set(e.node, Date.now());
    if (!known) {
      // The first word from a node: either side may have published before the other listened
      // (subscriptions are asynchronous), so both announce their participants once.
      this.announceAll();
      if (e.t !== 'sync') this.host.publish?.(this, { t: 'sync', node: '' });
      if (e.t === 'sync') return;
    }
    switch (e.t) {
      case 'sync':
        this.announceAll();
        return;
      case 'alive':
        return;
      case 'join': {
        const key = `${e.node}/${e.p.id}`;
        if (this.remoteIds.has(key)) return;
        const id = this.nextParticipantId++;
        const ref: ParticipantRef = { id, name: e.p.name, role: e.p.role };
        this.remote.set(id, { ref, node: e.node, remoteId: e.p.id, joinedAt: Date.now() });
        this.remoteIds.set(key, id);
        this.broadcast(encode({ type: 'join', participant: ref, count: this.count }));
        return;
      }
      case 'leave': {
        const key = `${e.node}/${e.id}`;
        const id = this.remoteIds.get(key);
        if (id === undefined) return;
        const ref = this.remote.get(id)!.ref;
        this.remoteIds.delete(key);
        this.remote.delete(id);
        this.broadcast(encode({ type: 'leave', participant: ref, count: this.count, reason: e.reason }));
        return;
      }
      case 'chat':
        try {
          this.appendChat(this.localRef(e.node, e.from), e.text, true);
        } catch (error) {
          // Storage failed here: this node's participants miss the line, the sender's node has it.
          this.log.warn({ room: this.path, err: error }, 'room bus: chat line from another node not stored');
        }
        return;
      case 'data': {
        let to: DataTarget;
        if (e.to === 'all' || e.to === 'host') to = e.to;
        else if (e.to.node === self) to = e.to.id;
        else return;
        if (typeof to === 'number' && !this.participants.has(to)) return;
        if (to === 'host' && ![...this.participants.values()].some((q) => q.role === 'host')) return;
        this.relayData(this.localRef(e.node, e.from), to, e.binary === undefined ? { payload: e.payload } : { binary: Buffer.from(e.binary, 'base64') }, undefined, undefined, true);
        return;
      }
      case 'mute': {
        const target = [...this.participants.values(), ...this.remote.values()].find((p) => p.ref.name === e.name);
        if (e.muted) this.muted.add(e.name);
        else this.muted.delete(e.name);
        if (target) this.broadcast(encode({ type: 'mute', participant: target.ref, muted: e.muted, by: this.localRef(e.node, e.by) }));
        return;
      }
      case 'kick': {
        if (e.banMs > 0) this.bans.set(e.name, Date.now() + e.banMs);
        const by = this.localRef(e.node, e.by);
        for (const p of [...this.participants.values()]) if (p.name === e.name) this.kick(p.id, by, e.reason, e.banMs, true);
        return;
      }
      case 'close':
        this.close(e.reason, e.by ? this.localRef(e.node, e.by) : undefined, true);
        return;
      case 'floor': {
        // By stream name: shown for the participant when this node knows one by that name.
        const ref = this.participantByStream(e.name) ?? { id: 0, name: e.name, role: 'viewer' as const };
        this.applyFloor(ref, e.granted, this.localRef(e.node, e.by), e.reason, e.key, true);
        return;
      }
      case 'amute':
        this.applyAudioMute(e.name, this.participantByStream(e.name), e.muted, this.localRef(e.node, e.by), true);
        return;
    }
  }

  /** Gateway stop: close sockets with 1001 (clients may reconnect) and flush the file. */
  shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.participants.values()) {
      // The other nodes stop showing them (the room lives on there).
      this.host.publish?.(this, { t: 'leave', node: '', id: p.id, reason: 'gateway stopping' });
      p.left = true;
      p.connection.close(CloseCode.goingAway, 'gateway stopping');
    }
    this.participants.clear();
    this.closeFile();
  }

  private closeFile(): void {
    try {
      this.file?.close();
    } catch (error) {
      this.log.error({ room: this.path, err: error }, 'room history: cannot close the file');
    }
  }

  /** Sends a refusal; repeated refusals within the window disconnect the participant. */
  private refuse(p: Participant, error: RoomError, ref?: Ref, extra?: Record<string, unknown>): void {
    this.sendError(p, error, ref, extra);
    const now = Date.now();
    if (now - p.refusalWindowStart > this.config.refusalWindowMs) {
      p.refusalWindowStart = now;
      p.refusals = 0;
    }
    if (++p.refusals >= this.config.maxRefusals) {
      const abuse = new RoomError('SG_ERR_ROOM_ABUSE', `disconnected after ${p.refusals} refused messages in ${this.config.refusalWindowMs / 1000} s`);
      this.sendError(p, abuse);
      p.connection.close(abuse.wsCloseCode, 'too many refused messages');
      this.log.info({ room: this.path, participant: p.id, name: p.name, refusals: p.refusals }, 'participant disconnected for repeated refusals');
      this.leave(p, 'abuse');
    }
  }

  private sendError(p: Participant, error: RoomError, ref?: Ref, extra?: Record<string, unknown>): void {
    this.sendTo(p, encode({ type: 'error', code: error.code, message: error.message, ...(ref === undefined ? {} : { ref }), ...extra }));
  }

  private sendTo(p: Participant, data: Buffer, binary = false): void {
    if (p.left) return;
    p.connection.send(data, binary);
    if (p.connection.bufferedAmount > this.config.maxBufferedBytes) this.slow.push(p);
  }

  /** A frame for everyone in the room, kept nowhere (file events). */
  announce(frame: Record<string, unknown>): void {
    if (this.closed) return;
    this.lastActivityAt = Date.now();
    this.broadcast(encode(frame));
  }

  /** Same bytes to every participant (except `except`). */
  private broadcast(data: Buffer, except?: Participant): void {
    for (const p of this.participants.values()) if (p !== except) this.sendTo(p, data);
    this.flushSlow();
  }

  /** Disconnects participants whose sockets cannot keep up: chat is never dropped silently. */
  private flushSlow(): void {
    if (this.slow.length === 0) return;
    const slow = this.slow;
    this.slow = [];
    for (const p of slow) {
      if (p.left) continue;
      const error = new RoomError('SG_ERR_ROOM_SLOW_CONSUMER', `disconnected: over ${this.config.maxBufferedBytes} bytes waiting to be sent; reconnect and read the history`);
      p.connection.send(encode({ type: 'error', code: error.code, message: error.message }), false);
      p.connection.close(error.wsCloseCode, 'too slow');
      this.log.info({ room: this.path, participant: p.id, name: p.name }, 'participant disconnected: its connection cannot keep up');
      this.leave(p, 'too slow');
    }
  }
}

function tooLarge(size: number, max: number): RoomError {
  return new RoomError('SG_ERR_ROOM_MESSAGE_TOO_LARGE', `message of ${size} bytes refused; the limit is ${max} bytes`, 413);
}

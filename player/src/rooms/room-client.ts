/**
 * A rooms WebSocket client for the browser: joins `ws://HOST/api/v1/rooms/{room}/ws?name=..&token=..`,
 * keeps the participant list, delivers each chat/data message once and in server order (ids only
 * grow; the history replayed on a reconnect is de-duplicated), and reconnects with backoff unless
 * the close says retrying cannot help (refused, unauthorized, kicked, full, closed).
 */
import { roomUrls } from '../api/urls.js';
import { Backoff } from '../controller/retry.js';
import { TypedEmitter } from '../utils/event-emitter.js';
import { FINAL_CLOSE_CODES, type ChatFrame, type DataFrame, type DataTarget, type FloorState, type ParticipantEntry, type ParticipantRef, type ServerFrame } from './types.js';

/** This participant's talkback state: where it publishes, whether it may, the key to publish with. */
export interface FloorInfo {
  stream: string;
  floor: FloorState;
  grant: string | undefined;
  audioMuted: boolean;
  reason?: string | undefined;
}

/**
 * - `connecting`: opening the socket (first time or after a drop).
 * - `joined`: welcome received.
 * - `unauthorized`: the gateway refused the credential (close 4401/4403 from access control).
 * - `refused`: the join was refused for another reason (bad name, banned, full, room closed).
 * - `closed`: `close()` was called.
 */
export type RoomConnectionState = 'connecting' | 'joined' | 'unauthorized' | 'refused' | 'closed';

export interface RoomError {
  code: string;
  message: string;
}

export interface RoomEventMap {
  [key: string]: unknown[];
  state: [{ state: RoomConnectionState; reason: string }];
  /** The participant list changed (welcome, join, leave, mute); `count` as the server says. */
  presence: [{ participants: ParticipantEntry[]; count: number }];
  chat: [ChatFrame];
  data: [DataFrame];
  /** A refusal (error frame) that did not end the connection, or the one that did. */
  error: [RoomError];
  /** This participant's floor changed (welcome, a host's grant, revoke or audio mute). */
  floor: [FloorInfo];
}

export interface RoomClientOptions {
  /** Gateway base URL, e.g. `http://gw:8080`. */
  server: string;
  room: string;
  name: string;
  token?: string | undefined;
  /** Development rooms (`rooms.hostRule: query`) honour `?role=host`. */
  role?: 'host' | 'viewer' | undefined;
}

export class RoomClient extends TypedEmitter<RoomEventMap> {
  private ws: WebSocket | undefined;
  private readonly participants = new Map<number, ParticipantEntry>();
  private count = 0;
  private lastId = 0;
  private me: ParticipantRef | undefined;
  private currentState: RoomConnectionState = 'connecting';
  private lastError: RoomError | undefined;
  private myFloor: FloorInfo | undefined;
  private readonly backoff = new Backoff({ initialDelayMs: 500, factor: 2, maxDelayMs: 10_000 });
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly options: RoomClientOptions) {
    super();
  }

  get state(): RoomConnectionState {
    return this.currentState;
  }

  /** Who we are in the room (after `joined`). */
  get self(): ParticipantRef | undefined {
    return this.me;
  }

  /** Talkback state of this participant (after `joined`). */
  get floor(): FloorInfo | undefined {
    return this.myFloor;
  }

  get participantList(): ParticipantEntry[] {
    return [...this.participants.values()];
  }

  connect(): void {
    if (this.currentState === 'closed' || this.ws) return;
    this.setState('connecting', 'joining the room');
    const o = this.options;
    const ws = new WebSocket(roomUrls(o.room, { server: o.server, token: o.token }).ws(o.name, o.role));
    this.ws = ws;
    ws.onmessage = (e) => {
      if (typeof e.data !== 'string') return; // binary data payloads: not shown by this UI
      let frame: ServerFrame;
      try {
        frame = JSON.parse(e.data) as ServerFrame;
      } catch {
        return;
      }
      this.onFrame(frame);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.onClose(e.code, e.reason);
    };
  }

  sendChat(text: string): boolean {
    return this.send({ type: 'chat', text });
  }

  sendData(to: DataTarget, payload: unknown): boolean {
    return this.send({ type: 'data', to, payload });
  }

  /** Host moderation: give or take back the floor, keep someone's audio out of the mixes, remove them. */
  setFloor(participant: number, granted: boolean): boolean {
    return this.send({ type: granted ? 'grant' : 'revoke', participant });
  }

  muteAudio(participant: number, muted: boolean): boolean {
    return this.send({ type: muted ? 'mute' : 'unmute', participant, media: 'audio' });
  }

  kick(participant: number): boolean {
    return this.send({ type: 'kick', participant });
  }

  private setMyFloor(next: Partial<FloorInfo>): void {
    if (!this.myFloor) return;
    this.myFloor = { ...this.myFloor, ...next };
    this.safeEmit('floor', this.myFloor);
  }

  close(): void {
    if (this.currentState === 'closed') return;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const ws = this.ws;
    this.ws = undefined;
    ws?.close(1000, 'left');
    this.setState('closed', 'left the room');
    this.removeAllListeners();
  }

  private send(frame: Record<string, unknown>): boolean {
    if (this.currentState !== 'joined' || this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  private setState(state: RoomConnectionState, reason: string): void {
    if (this.currentState === 'closed') return;
    this.currentState = state;
    this.safeEmit('state', { state, reason });
  }

  private emitPresence(): void {
    this.safeEmit('presence', { participants: this.participantList, count: this.count });
  }

  /** Delivers a message once: ids grow per room, anything at or below the last seen id is a replay. */
  private deliver(frame: ChatFrame | DataFrame): void {
    if (typeof frame.id === 'number') {
      if (frame.id <= this.lastId) return;
      this.lastId = frame.id;
    }
    if (frame.type === 'chat') this.safeEmit('chat', frame);
    else this.safeEmit('data', frame);
  }

  private onFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'welcome':
        this.me = frame.you;
        // Ids start over when the room did (a gateway restart, an evicted room): what the server
        // gives out from now on counts as new, whatever this client saw before.
        if (typeof frame.lastMessageId === 'number' && frame.lastMessageId < this.lastId) this.lastId = frame.lastMessageId;
        this.backoff.reset();
        this.lastError = undefined;
        this.setState('joined', `joined ${frame.room} as ${frame.you.role}`);
        if (frame.stream) {
          this.myFloor = { stream: frame.stream, floor: frame.floor ?? 'open', grant: frame.grant, audioMuted: false };
          this.safeEmit('floor', this.myFloor);
        }
        break;
      case 'participants':
        this.participants.clear();
        for (const p of frame.participants) this.participants.set(p.id, p);
        this.count = frame.count;
        this.emitPresence();
        break;
      case 'history':
        for (const m of frame.messages) this.deliver(m);
        break;
      case 'chat':
      case 'data':
        this.deliver(frame);
        break;
      case 'join':
        this.participants.set(frame.participant.id, { ...frame.participant });
        this.count = frame.count;
        this.emitPresence();
        break;
      case 'leave':
        this.participants.delete(frame.participant.id);
        this.count = frame.count;
        this.emitPresence();
        break;
      case 'mute': {
        const p = this.participants.get(frame.participant.id);
        if (frame.media === 'audio') {
          if (p) p.audioMuted = frame.muted;
          if (frame.participant.id === this.me?.id) this.setMyFloor({ audioMuted: frame.muted });
        } else if (p) p.muted = frame.muted;
        this.emitPresence();
        break;
      }
      case 'floor': {
        const p = this.participants.get(frame.participant.id);
        if (p) p.floor = frame.floor;
        if (frame.participant.id === this.me?.id) this.setMyFloor({ floor: frame.floor, grant: frame.grant, reason: frame.reason });
        this.emitPresence();
        break;
      }
      case 'live': {
        const id = frame.stream.participant?.id;
        const p = id === undefined ? undefined : this.participants.get(id);
        if (p) p.live = frame.live;
        this.emitPresence();
        break;
      }
      case 'closed':
        this.lastError = { code: 'SG_ERR_ROOM_CLOSED', message: `the room was closed${frame.reason ? `: ${frame.reason}` : ''}` };
        break;
      case 'error':
        this.lastError = { code: frame.code, message: frame.message };
        this.safeEmit('error', this.lastError);
        break;
      default:
        break;
    }
  }

  private onClose(code: number, reason: string): void {
    if (this.currentState === 'closed') return;
    this.participants.clear();
    this.count = 0;
    this.emitPresence();
    const final = FINAL_CLOSE_CODES[code];
    const why = this.lastError?.message ?? (reason || `connection closed (${code})`);
    if (final === 'unauthorized' || (final === 'forbidden' && this.lastError?.code !== 'SG_ERR_ROOM_KICKED' && this.lastError?.code !== 'SG_ERR_ROOM_BANNED')) {
      this.setState('unauthorized', why);
      return;
    }
    if (final) {
      this.setState('refused', why);
      return;
    }
    const delay = this.backoff.next();
    this.setState('connecting', `${why}; reconnecting in ${Math.max(1, Math.round(delay / 1000))} s`);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect();
    }, delay);
  }
}

/**
 * The rooms wire format: what a client may send, parsed and checked by hand (this runs for every
 * frame, so no schema library on the hot path), and the shapes the server sends. the README's Rooms section
 * documents both with examples.
 */
import { RoomError } from './errors.js';

export type Role = 'host' | 'viewer' | 'system';

/** How a participant appears in every frame that names one. */
export interface ParticipantRef {
  readonly id: number;
  readonly name: string;
  readonly role: Role;
}

/** What a mute silences: the participant's chat (default), or its audio in the room's mixes. */
export type MuteMedia = 'chat' | 'audio';

/** `to` of a data message: everyone, the host(s), or one participant id. */
export type DataTarget = 'all' | 'host' | number;

/** A client's correlation token, echoed in its ack and in errors about that frame. */
export type Ref = string | number;

export type ClientMessage =
  | { type: 'chat'; text: string; ref?: Ref }
  | { type: 'data'; to: DataTarget; payload: unknown; binary: false; ref?: Ref }
  | { type: 'data'; to: DataTarget; binary: true; ref?: Ref }
  | { type: 'kick'; participant: number; reason?: string; banMs?: number; ref?: Ref }
  | { type: 'mute'; participant: number; media: MuteMedia; ref?: Ref }
  | { type: 'unmute'; participant: number; media: MuteMedia; ref?: Ref }
  | { type: 'grant'; participant: number; ref?: Ref }
  | { type: 'revoke'; participant: number; reason?: string; ref?: Ref }
  | { type: 'close'; reason?: string; ref?: Ref };

/** A message kept in history and served by the API: a chat line as every participant got it. */
export interface ChatMessage {
  readonly type: 'chat';
  readonly id: number;
  readonly from: ParticipantRef;
  readonly text: string;
  readonly ts: number;
}

export interface DataMessage {
  readonly type: 'data';
  readonly id: number;
  readonly from: ParticipantRef;
  readonly to: DataTarget;
  readonly ts: number;
  readonly payload?: unknown;
  readonly binary?: true;
  readonly size?: number;
}

const MAX_REF_LENGTH = 64;
const MAX_REASON_LENGTH = 200;

function invalid(message: string): RoomError {
  return new RoomError('SG_ERR_ROOM_INVALID_MESSAGE', message);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function participantId(v: unknown, type: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 1) throw invalid(`${type}: "participant" must be a participant id (a positive integer)`);
  return v as number;
}

function optionalReason(v: unknown, type: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalid(`${type}: "reason" must be a string`);
  return v.slice(0, MAX_REASON_LENGTH);
}

/** The `ref` of a frame, when it has a usable one (also used to tag errors about a bad frame). */
export function refOf(v: unknown): Ref | undefined {
  if (!isRecord(v)) return undefined;
  const ref = v.ref;
  if (typeof ref === 'string' && ref.length <= MAX_REF_LENGTH) return ref;
  if (typeof ref === 'number' && Number.isFinite(ref)) return ref;
  return undefined;
}

export function parseTarget(to: unknown): DataTarget {
  if (to === undefined || to === 'all') return 'all';
  if (to === 'host') return 'host';
  if (Number.isSafeInteger(to) && (to as number) >= 1) return to as number;
  throw invalid('data: "to" must be "all", "host" or a participant id');
}

/** Checks a decoded client frame; throws RoomError(SG_ERR_ROOM_INVALID_MESSAGE) saying what is wrong. */
export function parseClientMessage(raw: unknown): ClientMessage {
  if (!isRecord(raw)) throw invalid('expected a JSON object with a "type"');
  const ref = refOf(raw);
  if (raw.ref !== undefined && ref === undefined) throw invalid(`"ref" must be a string of at most ${MAX_REF_LENGTH} characters or a number`);
  const withRef = <T extends object>(m: T): T & { ref?: Ref } => (ref === undefined ? m : { ...m, ref });
  switch (raw.type) {
    case 'chat': {
      if (typeof raw.text !== 'string' || raw.text.length === 0) throw invalid('chat: "text" must be a non-empty string');
      return withRef({ type: 'chat' as const, text: raw.text });
    }
    case 'data': {
      const to = parseTarget(raw.to);
      if (raw.binary === true) {
        if (raw.payload !== undefined) throw invalid('data: a binary message carries its payload in the next binary frame, not in "payload"');
        return withRef({ type: 'data' as const, to, binary: true as const });
      }
      if (raw.binary !== undefined && raw.binary !== false) throw invalid('data: "binary" must be true or false');
      if (raw.payload === undefined) throw invalid('data: "payload" is required (any JSON value), or "binary": true followed by a binary frame');
      return withRef({ type: 'data' as const, to, payload: raw.payload, binary: false as const });
    }
    case 'kick': {
      const participant = participantId(raw.participant, 'kick');
      const reason = optionalReason(raw.reason, 'kick');
      let banMs: number | undefined;
      if (raw.banMs !== undefined) {
        if (!Number.isSafeInteger(raw.banMs) || (raw.banMs as number) < 0) throw invalid('kick: "banMs" must be a non-negative integer');
        banMs = raw.banMs as number;
      }
      return withRef({ type: 'kick' as const, participant, ...(reason === undefined ? {} : { reason }), ...(banMs === undefined ? {} : { banMs }) });
    }
    case 'mute':
    case 'unmute': {
      const media = raw.media ?? 'chat';
      if (media !== 'chat' && media !== 'audio') throw invalid(`${raw.type}: "media" must be "chat" (default) or "audio"`);
      return withRef({ type: raw.type, participant: participantId(raw.participant, raw.type), media: media as MuteMedia });
    }
    case 'grant':
      return withRef({ type: 'grant' as const, participant: participantId(raw.participant, 'grant') });
    case 'revoke': {
      const reason = optionalReason(raw.reason, 'revoke');
      return withRef({ type: 'revoke' as const, participant: participantId(raw.participant, 'revoke'), ...(reason === undefined ? {} : { reason }) });
    }
    case 'close': {
      const reason = optionalReason(raw.reason, 'close');
      return withRef({ type: 'close' as const, ...(reason === undefined ? {} : { reason }) });
    }
    default:
      throw invalid(
        `unknown message type ${typeof raw.type === 'string' ? JSON.stringify(raw.type).slice(0, 40) : `of kind ${typeof raw.type}`}; supported: chat, data, kick, mute, unmute, grant, revoke, close`,
      );
  }
}

/** Display names: trimmed, 1..max characters, no control characters (they are shown to others). */
export function validateName(name: string | null, max: number): string {
  const trimmed = (name ?? '').trim();
  // eslint-disable-next-line no-control-regex
  if (trimmed.length === 0 || trimmed.length > max || /[\u0000-\u001f\u007f\u2028\u2029]/.test(trimmed)) {
    throw new RoomError(
      'SG_ERR_ROOM_INVALID_NAME',
      `join with ?name=<display name>: 1 to ${max} characters, no control characters`,
    );
  }
  return trimmed;
}

/**
 * The rooms wire protocol as the browser sees it (README "Rooms: chat, data channel, presence";
 * server side in gateway/rooms/protocol.ts). Every field that comes from the network is data:
 * the UI sets it with textContent, never as HTML.
 */

export type RoomRole = 'host' | 'viewer' | 'system';

export interface ParticipantRef {
  id: number;
  name: string;
  role: RoomRole;
}

/** Talkback: granted/revoked by a host; `open` (anyone may publish) or `none` (a grant is needed). */
export type FloorState = 'granted' | 'revoked' | 'open' | 'none';

export interface ParticipantEntry extends ParticipantRef {
  muted?: boolean;
  joinedAt?: string;
  /** Where this participant publishes (`room/42/alice`), and whether it does now. */
  stream?: string;
  live?: boolean;
  floor?: FloorState;
  /** A host keeps its audio out of the room's mixes. */
  audioMuted?: boolean;
}

/** A live stream in the room's path space (a participant's or a camera's). */
export interface LiveStreamEntry {
  path: string;
  name: string;
  protocol: string;
  since: number;
  participant?: ParticipantRef;
}

export type DataTarget = 'all' | 'host' | number;

export interface ChatFrame {
  type: 'chat';
  id: number;
  from: ParticipantRef;
  text: string;
  /** Server time, Unix ms. */
  ts: number;
}

export interface DataFrame {
  type: 'data';
  id: number;
  from: ParticipantRef;
  to: DataTarget;
  ts: number;
  payload?: unknown;
  binary?: boolean;
  size?: number;
}

export type ServerFrame =
  | { type: 'welcome'; room: string; you: ParticipantRef; muted: boolean; lastMessageId?: number; limits?: Record<string, number>; stream?: string; publish?: 'open' | 'granted'; floor?: FloorState; grant?: string }
  | { type: 'participants'; count: number; participants: ParticipantEntry[]; streams?: LiveStreamEntry[] }
  | { type: 'floor'; participant: ParticipantRef; floor: 'granted' | 'revoked'; stream: string; by: ParticipantRef; reason?: string; grant?: string }
  | { type: 'live'; live: boolean; stream: LiveStreamEntry }
  | { type: 'history'; messages: ChatFrame[] }
  | ChatFrame
  | DataFrame
  | { type: 'join'; participant: ParticipantEntry; count: number }
  | { type: 'leave'; participant: ParticipantRef; count: number; reason?: string }
  | { type: 'mute'; participant: ParticipantRef; muted: boolean; media?: 'chat' | 'audio'; by?: ParticipantRef }
  | { type: 'closed'; room: string; reason?: string; by?: ParticipantRef }
  | { type: 'ack'; ref: string | number; id?: number }
  | { type: 'error'; code: string; message: string; ref?: string | number; retryAfterMs?: number };

/** The data payload a viewer sends to the hosts to ask to speak. */
export const RAISE_HAND = { kind: 'raise-hand' } as const;

export function isRaiseHand(frame: DataFrame): boolean {
  const p = frame.payload as { kind?: unknown } | null | undefined;
  return typeof p === 'object' && p !== null && p.kind === RAISE_HAND.kind;
}

/**
 * Close codes after which reconnecting cannot help (README "Close codes", plus 4401/4403 from
 * access control): the UI shows why and stays disconnected.
 */
export const FINAL_CLOSE_CODES: Readonly<Record<number, 'unauthorized' | 'forbidden' | 'refused' | 'full' | 'closed'>> = {
  4400: 'refused',
  4401: 'unauthorized',
  4403: 'forbidden',
  4409: 'full',
  4410: 'closed',
};

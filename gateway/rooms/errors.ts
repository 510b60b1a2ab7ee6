import { ERRORS, StreamgateError } from '../core/errors.js';

/**
 * Refusals a room sends as `{"type":"error","code":..,"message":..}`. Codes are stable (clients
 * branch on them); messages say what to do. the README's Rooms section lists every code (a test checks it).
 */
export const ROOM_ERROR_CODES = [
  'SG_ERR_ROOM_INVALID_MESSAGE',
  'SG_ERR_ROOM_MESSAGE_TOO_LARGE',
  'SG_ERR_ROOM_RATE_LIMIT',
  'SG_ERR_ROOM_ABUSE',
  'SG_ERR_ROOM_INVALID_NAME',
  'SG_ERR_ROOM_FULL',
  'SG_ERR_ROOM_LIMIT',
  'SG_ERR_ROOM_BANNED',
  'SG_ERR_ROOM_KICKED',
  'SG_ERR_ROOM_MUTED',
  'SG_ERR_ROOM_FORBIDDEN',
  'SG_ERR_ROOM_NO_TARGET',
  'SG_ERR_ROOM_CLOSED',
  'SG_ERR_ROOM_NOT_FOUND',
  'SG_ERR_ROOM_SLOW_CONSUMER',
  'SG_ERR_ROOM_STORAGE',
  'SG_ERR_ROOM_FILE_TOO_LARGE',
  'SG_ERR_ROOM_FILE_LIMIT',
  'SG_ERR_ROOM_FILE_NOT_FOUND',
  'SG_ERR_ROOM_FILE_OFFSET',
  'SG_ERR_ROOM_FILE_INCOMPLETE',
  'SG_ERR_ROOM_NOT_GRANTED',
  'SG_ERR_ROOM_PUBLISHER_LIMIT',
] as const;

export type RoomErrorCode = (typeof ROOM_ERROR_CODES)[number];

/**
 * WebSocket close codes of closes that carry no error frame. Refusals close with their code's
 * `wsCloseCode` (ERRORS in core/errors.ts: 4400 invalid join, 4403 kicked or banned, 4408 slow
 * consumer, 4409 full, 4429 abuse; RFC 6455 §7.4.2 application range, the last three digits
 * echo the HTTP status).
 */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  /** The room was closed (host `close`, API DELETE): same as SG_ERR_ROOM_CLOSED's. */
  roomClosed: ERRORS.SG_ERR_ROOM_CLOSED.ws,
} as const;

/** A room refusal; its HTTP status and close code come from the code (ERRORS in core/errors.ts). */
export class RoomError extends StreamgateError {
  constructor(
    override readonly code: RoomErrorCode,
    message: string,
    /** HTTP status on the REST API where this refusal differs from the code's. */
    status?: number,
  ) {
    super(code, message, { status });
  }
}

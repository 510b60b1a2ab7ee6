import { StreamgateError } from '../core/errors.js';

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
] as const;

export type RoomErrorCode = (typeof ROOM_ERROR_CODES)[number];

/**
 * WebSocket close codes the gateway uses after a final error frame (4000-4999 is the
 * application range of RFC 6455 §7.4.2; the last three digits echo the HTTP status).
 */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  invalidJoin: 4400,
  kicked: 4403,
  slowConsumer: 4408,
  full: 4409,
  roomClosed: 4410,
  abuse: 4429,
} as const;

export class RoomError extends StreamgateError {
  constructor(
    override readonly code: RoomErrorCode,
    message: string,
    /** HTTP status when the refusal happens on the REST API. */
    readonly status = 400,
  ) {
    super(code, message);
  }
}

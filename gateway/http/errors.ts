/**
 * The HTTP side of refusals: the JSON body every route answers errors with, on an express
 * response or on a socket whose WebSocket upgrade is refused. Statuses come from the one table
 * in core/errors.ts (httpStatusOf).
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Response } from 'express';
import { errorCode, type ErrorCode, httpStatusOf } from '../core/errors.js';

/** `{"error":{"code":..,"message":..}}`; `fallback` is the code for errors that are not ours. */
export function errorBody(error: unknown, fallback?: ErrorCode): { error: { code: ErrorCode; message: string } } {
  return { error: { code: errorCode(error, fallback), message: error instanceof Error ? error.message : String(error) } };
}

/** Answers `error` with its HTTP status and JSON body, unless a response is already under way. */
export function sendError(res: Response, error: unknown, fallback?: ErrorCode): void {
  if (!res.headersSent) res.status(httpStatusOf(error)).json(errorBody(error, fallback));
}

/**
 * Refuses a WebSocket upgrade: writes the error's HTTP status and JSON body on the raw socket
 * (no express response exists for an upgrade), then closes it.
 */
export function rejectUpgrade(socket: Socket, error: unknown): void {
  if (socket.destroyed) return;
  const status = httpStatusOf(error);
  const body = JSON.stringify(errorBody(error));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Access refusals every protocol maps through ERRORS (HTTP/RTSP 401/403, WS close 4401/4403). */
import { StreamgateError } from '../core/errors.js';

/** No credential where one is required (HTTP/RTSP 401, WS close 4401). */
export class UnauthorizedError extends StreamgateError {
  constructor(message: string) {
    super('SG_ERR_UNAUTHORIZED', message);
  }
}

/** A wrong or insufficient credential, or an address that is not allowed (HTTP/RTSP 403, WS close 4403). */
export class ForbiddenError extends StreamgateError {
  constructor(message: string) {
    super('SG_ERR_FORBIDDEN', message);
  }
}

/** True for refusals the Authorizer already logged and counted. */
export function isAccessRefusal(error: unknown): boolean {
  return error instanceof UnauthorizedError || error instanceof ForbiddenError;
}

import { StreamgateError } from '../../core/errors.js';

/** The stream produced no segment in time, or a blocking request was not satisfied in time. */
export class HlsTimeoutError extends StreamgateError {
  constructor(message: string) {
    super('SG_ERR_HLS_TIMEOUT', message);
  }
}

/** A blocking playlist request asked for a segment too far ahead (RFC 8216bis §6.2.5.2: 400). */
export class HlsBadRequestError extends StreamgateError {
  constructor(message: string) {
    super('SG_ERR_HLS_BAD_REQUEST', message);
  }
}

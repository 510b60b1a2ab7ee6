import { type ErrorCode, StreamgateError } from '../../core/errors.js';

/**
 * An SRT caller refused by the transport itself, before admission: its encryption does not match
 * `srt.passphrase` (SG_ERR_UNAUTHORIZED when one side has no passphrase, SG_ERR_FORBIDDEN when it
 * is wrong), or its handshake is too old to carry a stream id (SG_ERR_PROTOCOL). `reason` is the
 * libsrt rejection reason the caller is answered with.
 */
export class SrtHandshakeError extends StreamgateError {
  constructor(
    code: Extract<ErrorCode, 'SG_ERR_UNAUTHORIZED' | 'SG_ERR_FORBIDDEN' | 'SG_ERR_PROTOCOL'>,
    message: string,
    readonly reason: number,
  ) {
    super(code, message);
  }
}

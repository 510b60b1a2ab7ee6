import { type ErrorCode, StreamgateError } from '../../core/errors.js';

/**
 * An SRT caller refused before admission by the transport itself: its encryption does not match
 * `srt.passphrase` (SG_ERR_UNAUTHORIZED when one side has no passphrase, SG_ERR_FORBIDDEN when it
 * is wrong). `reason` is the libsrt rejection reason the caller is answered with.
 */
export class SrtEncryptionError extends StreamgateError {
  constructor(
    code: Extract<ErrorCode, 'SG_ERR_UNAUTHORIZED' | 'SG_ERR_FORBIDDEN'>,
    message: string,
    readonly reason: number,
  ) {
    super(code, message);
  }
}

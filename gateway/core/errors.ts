/**
 * Errors with stable codes. Every code is listed in the README's error table (a test checks it).
 */
export class StreamgateError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A second publisher tried to take a path that already has one. */
export class PublisherConflictError extends StreamgateError {
  constructor(readonly path: string) {
    super('SG_ERR_PATH_BUSY', `path ${path} already has a publisher; stop it first or configure takeover for this path`);
  }
}

/** A reader asked for a path that nobody publishes (and no on-demand source serves). */
export class StreamNotFoundError extends StreamgateError {
  constructor(readonly path: string) {
    super('SG_ERR_STREAM_NOT_FOUND', `no stream is published at ${path}`);
  }
}

/** A stream path that is not app/name made of [A-Za-z0-9._~-] components. */
export class InvalidPathError extends StreamgateError {
  constructor(readonly path: string) {
    super(
      'SG_ERR_INVALID_PATH',
      `invalid stream path ${JSON.stringify(path.slice(0, 200))}; expected {app}/{name} with characters [A-Za-z0-9._~-] and no '..'`,
    );
  }
}

/** A path pattern (see pathPatternProblem in path.ts) that does not validate; same code as InvalidPathError. */
export class InvalidPathPatternError extends StreamgateError {
  constructor(
    readonly pattern: string,
    problem: string,
  ) {
    super('SG_ERR_INVALID_PATH', `invalid path pattern ${problem}`);
  }
}

/** Media the gateway cannot carry. */
export class UnsupportedCodecError extends StreamgateError {
  constructor(what: string, supported: readonly string[]) {
    super('SG_ERR_UNSUPPORTED_CODEC', `unsupported codec ${what}; supported: ${supported.join(', ')}`);
  }
}

/** A peer broke the rules of its protocol; closes that connection only. */
export class ProtocolError extends StreamgateError {
  constructor(protocol: string, message: string) {
    super('SG_ERR_PROTOCOL', `${protocol}: ${message}`);
  }
}

/** Configuration that does not validate; the process exits non-zero with this message. */
export class ConfigError extends StreamgateError {
  constructor(message: string) {
    super('SG_ERR_CONFIG', message);
  }
}

/** A reader that stopped taking data for too long and was closed. */
export class ReaderStalledError extends StreamgateError {
  constructor(stalledMs: number) {
    super('SG_ERR_READER_STALLED', `reader made no progress for ${stalledMs} ms and was closed`);
  }
}

/** The publisher went away and did not come back within the grace period, or was kicked. */
export class StreamEndedError extends StreamgateError {
  constructor(readonly path: string, reason: string) {
    super('SG_ERR_STREAM_ENDED', `stream ${path} ended: ${reason}`);
  }
}

export const ERROR_CODES = [
  'SG_ERR_PATH_BUSY',
  'SG_ERR_STREAM_NOT_FOUND',
  'SG_ERR_INVALID_PATH',
  'SG_ERR_UNSUPPORTED_CODEC',
  'SG_ERR_PROTOCOL',
  'SG_ERR_CONFIG',
  'SG_ERR_READER_STALLED',
  'SG_ERR_STREAM_ENDED',
  'SG_ERR_CODEC_PARSE',
] as const;

/** The stable code of an error for metrics, logs and JSON bodies; `fallback` for anything not ours. */
export function errorCode(error: unknown, fallback = 'SG_ERR_INTERNAL'): string {
  return error instanceof StreamgateError ? error.code : fallback;
}

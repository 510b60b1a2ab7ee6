/**
 * Errors with stable codes, and the one table that says how each code is answered on every
 * protocol. Every code is listed in the README's error table (a test checks it, statuses included).
 */

/** How one error code is answered by each protocol. */
export interface ErrorAnswer {
  /** HTTP status: API, HTTP-FLV, HLS, and a refused WebSocket upgrade. */
  readonly http: number;
  /** RTSP status (RFC 2326 §7.1.1) the RTSP server answers with. */
  readonly rtsp: number;
  /**
   * WebSocket close code once the handshake was accepted (WS-FLV, rooms): RFC 6455 §7.4.2
   * application range 4000-4999, the last three digits echo an HTTP status.
   */
  readonly ws: number;
  /** RTMP onStatus codes answering a refused publish and a refused play. */
  readonly rtmp: { readonly publish: string; readonly play: string };
}

const RTMP_REFUSED = { publish: 'NetStream.Publish.BadName', play: 'NetStream.Play.Failed' } as const;

function answer(http: number, rtsp: number, ws = 4000 + http, rtmp: ErrorAnswer['rtmp'] = RTMP_REFUSED): ErrorAnswer {
  return { http, rtsp, ws, rtmp };
}

/**
 * Every code the gateway produces, with its answers. The RTSP column keeps 503 for failures of
 * the gateway or an upstream (a camera, ffmpeg) that a client may retry; the WebSocket column
 * only matters where a code can close a WebSocket (rooms, WS-FLV access refusals).
 */
export const ERRORS = {
  // hub and paths
  SG_ERR_PATH_BUSY: answer(409, 409),
  SG_ERR_STREAM_NOT_FOUND: answer(404, 404, 4404, { publish: RTMP_REFUSED.publish, play: 'NetStream.Play.StreamNotFound' }),
  SG_ERR_INVALID_PATH: answer(400, 400),
  SG_ERR_UNSUPPORTED_CODEC: answer(415, 415),
  SG_ERR_PROTOCOL: answer(502, 400),
  // codecs/ CodecError: protocols wrap a publisher's bad bytes in SG_ERR_PROTOCOL, so one that
  // reaches an answer unwrapped is the gateway's failure
  SG_ERR_CODEC_PARSE: answer(500, 500, 1011),
  SG_ERR_CONFIG: answer(400, 503),
  SG_ERR_READER_STALLED: answer(503, 503),
  SG_ERR_STREAM_ENDED: answer(502, 503),
  SG_ERR_INTERNAL: answer(500, 500, 1011),
  // HTTP and the API
  SG_ERR_NOT_FOUND: answer(404, 404),
  SG_ERR_INVALID_REQUEST: answer(400, 400),
  // access control
  SG_ERR_UNAUTHORIZED: answer(401, 401),
  SG_ERR_FORBIDDEN: answer(403, 403),
  SG_ERR_CONNECTION_LIMIT: answer(503, 503),
  // camera sources
  SG_ERR_SOURCE_UNAVAILABLE: answer(502, 503),
  // HLS
  SG_ERR_HLS_TIMEOUT: answer(503, 503),
  SG_ERR_HLS_BAD_REQUEST: answer(400, 400),
  // recording
  SG_ERR_RECORD_DISK_FULL: answer(507, 503),
  SG_ERR_RECORD_WRITE: answer(500, 503),
  SG_ERR_RECORDING_NOT_FOUND: answer(404, 404),
  // transcoding and snapshots
  SG_ERR_TRANSCODE_FAILED: answer(502, 503),
  SG_ERR_TRANSCODE_LIMIT: answer(503, 503),
  SG_ERR_FFMPEG_NOT_FOUND: answer(503, 503),
  SG_ERR_SNAPSHOT_FAILED: answer(502, 503),
  // WebRTC (WHIP/WHEP)
  SG_ERR_SDP_INVALID: answer(400, 400),
  SG_ERR_WEBRTC_LIMIT: answer(503, 503),
  SG_ERR_WEBRTC_FAILED: answer(502, 503),
  // rooms (a refused join closes with ws; refusals inside a room are error frames)
  SG_ERR_ROOM_INVALID_MESSAGE: answer(400, 400),
  SG_ERR_ROOM_MESSAGE_TOO_LARGE: answer(413, 413),
  SG_ERR_ROOM_RATE_LIMIT: answer(429, 503),
  SG_ERR_ROOM_ABUSE: answer(429, 503),
  SG_ERR_ROOM_INVALID_NAME: answer(400, 400),
  SG_ERR_ROOM_FULL: answer(409, 503),
  SG_ERR_ROOM_LIMIT: answer(503, 503, 4409),
  SG_ERR_ROOM_BANNED: answer(403, 403),
  SG_ERR_ROOM_KICKED: answer(403, 403),
  SG_ERR_ROOM_MUTED: answer(403, 403),
  SG_ERR_ROOM_FORBIDDEN: answer(403, 403),
  SG_ERR_ROOM_NO_TARGET: answer(409, 404),
  SG_ERR_ROOM_CLOSED: answer(410, 410),
  SG_ERR_ROOM_NOT_FOUND: answer(404, 404),
  SG_ERR_ROOM_SLOW_CONSUMER: answer(400, 503, 4408),
  SG_ERR_ROOM_STORAGE: answer(503, 503, 4400),
  SG_ERR_ROOM_FILE_TOO_LARGE: answer(413, 413),
  SG_ERR_ROOM_FILE_LIMIT: answer(409, 409),
  SG_ERR_ROOM_FILE_NOT_FOUND: answer(404, 404),
  SG_ERR_ROOM_FILE_OFFSET: answer(409, 409),
  SG_ERR_ROOM_FILE_INCOMPLETE: answer(409, 409),
  SG_ERR_ROOM_NOT_GRANTED: answer(403, 403),
  SG_ERR_ROOM_PUBLISHER_LIMIT: answer(409, 409),
  // cluster: edges, the Redis directory
  SG_ERR_ORIGIN_UNAVAILABLE: answer(502, 503),
} as const satisfies Record<string, ErrorAnswer>;

export type ErrorCode = keyof typeof ERRORS;

export const ERROR_CODES = Object.keys(ERRORS) as readonly ErrorCode[];

function answerFor(code: unknown): ErrorAnswer | undefined {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code) ? ERRORS[code as ErrorCode] : undefined;
}

export interface StreamgateErrorOptions {
  /** An HTTP status other than the code's (the same code answered differently in one place). */
  readonly status?: number;
  readonly cause?: unknown;
}

export class StreamgateError extends Error {
  /** HTTP status of this error: the code's, unless the thrower chose another. */
  readonly httpStatus: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: StreamgateErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.httpStatus = options.status ?? ERRORS[code].http;
  }

  get rtspStatus(): number {
    return ERRORS[this.code].rtsp;
  }

  get wsCloseCode(): number {
    return ERRORS[this.code].ws;
  }

  rtmpStatus(action: 'publish' | 'play'): string {
    return ERRORS[this.code].rtmp[action];
  }
}

/** The table row of an error: a StreamgateError's, or that of an Error carrying one of our codes (codecs/ CodecError). */
function answerOf(error: unknown): ErrorAnswer | undefined {
  return error instanceof Error ? answerFor((error as { code?: unknown }).code) : undefined;
}

/** The stable code of an error for metrics, logs and JSON bodies; `fallback` for anything not ours. */
export function errorCode(error: unknown, fallback: ErrorCode = 'SG_ERR_INTERNAL'): ErrorCode {
  return answerOf(error) ? ((error as { code: ErrorCode }).code) : fallback;
}

/**
 * The HTTP status to answer `error` with. Errors that are not ours but carry an HTTP status
 * (express's body parser: 400, 413) keep it; anything else is a 500.
 */
export function httpStatusOf(error: unknown): number {
  if (error instanceof StreamgateError) return error.httpStatus;
  const row = answerOf(error);
  if (row) return row.http;
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

/** The RTSP status to answer `error` with; 500 for anything not ours. */
export function rtspStatusOf(error: unknown): number {
  return answerOf(error)?.rtsp ?? 500;
}

/** The WebSocket close code for `error` after an accepted handshake; 1011 (internal error) for anything not ours. */
export function wsCloseCodeOf(error: unknown): number {
  return answerOf(error)?.ws ?? 1011;
}

/**
 * The SRT rejection reason refusing a caller because of `error`: libsrt's SRT_REJX_* codes are
 * 1000 + an HTTP status (SRT_REJX_UNAUTHORIZED 1401, SRT_REJX_CONFLICT 1409...), so the HTTP column
 * of the table answers SRT too.
 */
export function srtRejectReasonOf(error: unknown): number {
  const status = httpStatusOf(error);
  return 1000 + (status >= 400 && status < 600 ? status : 500);
}

/** The RTMP onStatus code refusing a publish or a play because of `error`. */
export function rtmpStatusOf(error: unknown, action: 'publish' | 'play'): string {
  return (answerOf(error)?.rtmp ?? RTMP_REFUSED)[action];
}

/** A second publisher tried to take a path that already has one. */
export class PublisherConflictError extends StreamgateError {
  constructor(
    readonly path: string,
    message = `path ${path} already has a publisher; stop it first or configure takeover for this path`,
  ) {
    super('SG_ERR_PATH_BUSY', message);
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
  constructor(
    readonly path: string,
    options?: StreamgateErrorOptions,
  ) {
    super(
      'SG_ERR_INVALID_PATH',
      `invalid stream path ${JSON.stringify(path.slice(0, 200))}; expected {app}/{name} with characters [A-Za-z0-9._~-] and no '..'`,
      options,
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
  constructor(message: string, options?: StreamgateErrorOptions) {
    super('SG_ERR_CONFIG', message, options);
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
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super('SG_ERR_STREAM_ENDED', `stream ${path} ended: ${reason}`);
  }
}

/** Nothing answers that HTTP route (or WebSocket endpoint). */
export class NotFoundError extends StreamgateError {
  constructor(message: string) {
    super('SG_ERR_NOT_FOUND', message);
  }
}

/** A request (API body or query, upgrade URL) that is malformed. */
export class InvalidRequestError extends StreamgateError {
  constructor(message: string, options?: StreamgateErrorOptions) {
    super('SG_ERR_INVALID_REQUEST', message, options);
  }
}

/** Something failed that should not have (a bug, or an error from a library not wrapped in one of ours). */
export class InternalError extends StreamgateError {
  constructor(cause: unknown) {
    super('SG_ERR_INTERNAL', cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

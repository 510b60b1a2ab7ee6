import { type ErrorCode, StreamgateError } from '../gateway/core/errors.js';

/**
 * Errors of transcode/. Their HTTP status comes from the code (ERRORS in gateway/core/errors.ts),
 * so a waiting reader learns why its rendition did not start; `status` overrides it where one
 * code means different things (a missing listener is 503, not a failed ffmpeg's 502).
 */
export class TranscodeError extends StreamgateError {
  constructor(code: ErrorCode, message: string, status?: number) {
    super(code, message, { status });
  }
}

/** ffmpeg exited (or never published) before the rendition's first keyframe. */
export class TranscodeStartError extends TranscodeError {
  constructor(path: string, reason: string) {
    super('SG_ERR_TRANSCODE_FAILED', `rendition ${path} did not start: ${reason}`);
  }
}

/** transcode.maxJobs jobs are running already, or they use transcode.maxCpuPercent of the machine. */
export class TranscodeLimitError extends TranscodeError {
  constructor(path: string, reason: string) {
    super('SG_ERR_TRANSCODE_LIMIT', `rendition ${path} refused: ${reason}`);
  }
}

/** No ffmpeg binary: not in FFMPEG_PATH, not on PATH, no bundled one. */
export class FfmpegNotFoundError extends TranscodeError {
  constructor(reason: string) {
    super('SG_ERR_FFMPEG_NOT_FOUND', `no ffmpeg binary: ${reason}; install ffmpeg, set FFMPEG_PATH, or npm install @ffmpeg-installer/ffmpeg`);
  }
}

/** A snapshot could not be made (no keyframe yet, decoder failed or timed out). */
export class SnapshotError extends TranscodeError {
  constructor(path: string, reason: string, status?: number) {
    super('SG_ERR_SNAPSHOT_FAILED', `snapshot of ${path} failed: ${reason}`, status);
  }
}

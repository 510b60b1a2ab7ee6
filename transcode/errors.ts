import { StreamgateError } from '../gateway/core/errors.js';

/**
 * Errors of transcode/. Each carries the HTTP status the FLV and API handlers answer with
 * (they read `status`), so a waiting reader learns why its rendition did not start.
 */
export class TranscodeError extends StreamgateError {
  constructor(
    code: string,
    message: string,
    readonly status: number,
  ) {
    super(code, message);
  }
}

/** ffmpeg exited (or never published) before the rendition's first keyframe. */
export class TranscodeStartError extends TranscodeError {
  constructor(path: string, reason: string) {
    super('SG_ERR_TRANSCODE_FAILED', `rendition ${path} did not start: ${reason}`, 502);
  }
}

/** transcode.maxJobs jobs are running already. */
export class TranscodeLimitError extends TranscodeError {
  constructor(path: string, max: number) {
    super('SG_ERR_TRANSCODE_LIMIT', `rendition ${path} refused: ${max} transcode jobs are running already (transcode.maxJobs); stop one or raise the limit`, 503);
  }
}

/** No ffmpeg binary: not in FFMPEG_PATH, not on PATH, no bundled one. */
export class FfmpegNotFoundError extends TranscodeError {
  constructor(reason: string) {
    super('SG_ERR_FFMPEG_NOT_FOUND', `no ffmpeg binary: ${reason}; install ffmpeg, set FFMPEG_PATH, or npm install @ffmpeg-installer/ffmpeg`, 503);
  }
}

/** A snapshot could not be made (no keyframe yet, decoder failed or timed out). */
export class SnapshotError extends TranscodeError {
  constructor(path: string, reason: string, status = 502) {
    super('SG_ERR_SNAPSHOT_FAILED', `snapshot of ${path} failed: ${reason}`, status);
  }
}

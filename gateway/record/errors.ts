import { StreamgateError } from '../core/errors.js';

/** The disk (or the configured record.diskQuota / record.minFreeBytes) is full: recording of the path stopped. */
export class RecordDiskFullError extends StreamgateError {
  constructor(readonly path: string, detail: string) {
    super('SG_ERR_RECORD_DISK_FULL', `recording of ${path} stopped: ${detail}; free space (or raise record.diskQuota) and start it again`);
  }
}

/** Writing a recording failed for another reason (permissions, I/O error, a disk too slow). */
export class RecordWriteError extends StreamgateError {
  constructor(readonly path: string, detail: string) {
    super('SG_ERR_RECORD_WRITE', `recording of ${path} stopped: ${detail}`);
  }
}

/** No recording file with that id. */
export class RecordingNotFoundError extends StreamgateError {
  constructor(id: string) {
    super('SG_ERR_RECORDING_NOT_FOUND', `no recording ${JSON.stringify(id.slice(0, 200))}; list them with GET /api/v1/recordings`);
  }
}

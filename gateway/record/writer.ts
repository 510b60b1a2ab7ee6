/**
 * One recording file being written: appends go through a serial queue (the hub's per-frame path
 * never waits on the disk), each fragment is fsync'ed when configured, and a failed write leaves
 * the file truncated after its last complete fragment.
 */
import { type FileHandle, open } from 'node:fs/promises';

/** Writes queued beyond this mean the disk cannot keep up: the recording stops rather than eat memory. */
export const MAX_PENDING_BYTES = 64 * 1024 * 1024;

export class FileWriter {
  private handle: Promise<FileHandle>;
  private queue: Promise<void> = Promise.resolve();
  private failed = false;
  /** Bytes on disk that end on a box boundary. */
  goodBytes = 0;
  pendingBytes = 0;

  constructor(
    readonly file: string,
    private readonly fsync: boolean,
    private readonly onError: (error: NodeJS.ErrnoException) => void,
  ) {
    this.handle = open(file, 'wx');
    this.handle.catch((error: NodeJS.ErrnoException) => this.fail(error));
  }

  private fail(error: NodeJS.ErrnoException): void {
    if (this.failed) return;
    this.failed = true;
    this.onError(error);
  }

  /** Queues whole boxes (an init segment, or a moof + mdat). */
  append(chunks: readonly Buffer[], byteLength: number): void {
    if (this.failed) return;
    this.pendingBytes += byteLength;
    if (this.pendingBytes > MAX_PENDING_BYTES) {
      this.fail(Object.assign(new Error(`the disk is not keeping up (${this.pendingBytes} bytes waiting to be written)`), { code: 'ESLOW' }));
      return;
    }
    // Every step settles: a rejected queue would reject close() and, through it, the session's stop.
    this.queue = this.queue.then(async () => {
      try {
        if (this.failed) return;
        let fh: FileHandle;
        try {
          fh = await this.handle;
        } catch {
          return; // the open failed: reported once by the constructor
        }
        try {
          let written = 0;
          let pending = chunks as Buffer[];
          while (written < byteLength) {
            const { bytesWritten } = await fh.writev(pending, this.goodBytes + written);
            if (bytesWritten === 0) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
            written += bytesWritten;
            if (written < byteLength) pending = remaining(chunks, written);
          }
          if (this.fsync) await fh.datasync();
          this.goodBytes += byteLength;
        } catch (error) {
          // Cut the partial box off so the file still ends on a fragment boundary.
          await fh.truncate(this.goodBytes).catch(() => {});
          this.fail(error as NodeJS.ErrnoException);
        }
      } finally {
        this.pendingBytes -= byteLength;
      }
    });
  }

  /** Waits for queued writes, then closes the file. Never rejects. */
  async close(): Promise<void> {
    await this.queue.catch(() => {});
    try {
      const fh = await this.handle;
      await fh.close();
    } catch {
      /* open failed: already reported */
    }
  }
}

function remaining(chunks: readonly Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  for (const c of chunks) {
    if (skip >= c.length) {
      skip -= c.length;
      continue;
    }
    out.push(skip > 0 ? c.subarray(skip) : c);
    skip = 0;
  }
  return out;
}

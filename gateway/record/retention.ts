/** Which recording files retention deletes: pure, so it is tested apart from the file system. */

export interface RetainedFile {
  readonly id: string;
  /** Start and end (Unix ms). */
  readonly start: number;
  readonly end: number;
  readonly size: number;
  /** Being written: never deleted. */
  readonly recording: boolean;
}

/**
 * Files of one path to delete, oldest first: every file that ended more than `retentionMs`
 * ago, then the oldest ones until the path's total is at most `maxBytes`. 0 disables a limit.
 */
export function filesToDelete<T extends RetainedFile>(files: readonly T[], retentionMs: number, maxBytes: number, now: number): T[] {
  const sorted = [...files].sort((a, b) => a.start - b.start);
  const out: T[] = [];
  let total = 0;
  for (const f of sorted) total += f.size;
  for (const f of sorted) {
    if (f.recording) continue;
    const expired = retentionMs > 0 && f.end < now - retentionMs;
    const overSize = maxBytes > 0 && total > maxBytes;
    if (!expired && !overSize) continue;
    out.push(f);
    total -= f.size;
  }
  return out;
}

/**
 * Recording files on disk: `{dir}/{app}/{name}/{UTC start}.mp4`, e.g.
 * `recordings/cams/gate/2025-03-01T08-00-00.000Z.mp4`. The name carries the start time so the
 * index can be rebuilt from the directory after a crash; the rest comes from the file itself.
 */
import { readdir, truncate, unlink } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { Logger } from 'pino';
import { isValidPath } from '../core/path.js';
import { scanFragmentedMp4 } from '../formats/mp4/reader.js';

export interface RecordingEntry {
  /** Relative file path, `{app}/{name}/{stamp}.mp4`: the id in the API. */
  readonly id: string;
  /** Stream path. */
  readonly path: string;
  readonly file: string;
  readonly start: number;
  durationMs: number;
  size: number;
  codecs: string[];
  recording: boolean;
}

const STAMP = /^(\d{4}-\d\d-\d\dT\d\d)-(\d\d)-(\d\d(?:\.\d{3})?Z)(?:-\d+)?\.mp4$/;

export function fileStamp(wallClock: number): string {
  return new Date(wallClock).toISOString().replace(/:/g, '-');
}

export function stampTime(name: string): number | undefined {
  const m = STAMP.exec(name);
  if (!m) return undefined;
  const t = Date.parse(`${m[1]}:${m[2]}:${m[3]}`);
  return Number.isNaN(t) ? undefined : t;
}

/** `cams/gate/2025-...Z.mp4` -> stream path and start, or undefined when it is not a recording id. */
export function parseId(id: string): { path: string; start: number } | undefined {
  const slash = id.lastIndexOf('/');
  if (slash < 0) return undefined;
  const path = id.slice(0, slash);
  const start = stampTime(id.slice(slash + 1));
  if (start === undefined || !isValidPath(path)) return undefined;
  return { path, start };
}

async function* walk(dir: string): AsyncGenerator<string> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.isFile() && e.name.endsWith('.mp4')) yield p;
  }
}

/**
 * Indexes every recording under `dir`. A file cut short by a crash is truncated after its last
 * complete fragment (it plays up to there); a file without any fragment is removed.
 */
export async function scanRecordings(dir: string, log: Logger): Promise<RecordingEntry[]> {
  const out: RecordingEntry[] = [];
  for await (const file of walk(dir)) {
    const id = relative(dir, file).split(sep).join('/');
    const parsed = parseId(id);
    if (!parsed) continue;
    try {
      const scan = await scanFragmentedMp4(file);
      if (!scan.hasInit || scan.fragments === 0) {
        await unlink(file);
        log.warn({ file: id }, 'removed a recording without any complete fragment');
        continue;
      }
      if (scan.validBytes < scan.fileBytes) {
        await truncate(file, scan.validBytes);
        log.warn({ file: id, lostBytes: scan.fileBytes - scan.validBytes, keptMs: scan.durationMs }, 'recovered a recording cut short: truncated after its last complete fragment');
      }
      out.push({ id, path: parsed.path, file, start: parsed.start, durationMs: scan.durationMs, size: scan.validBytes, codecs: scan.codecs, recording: false });
    } catch (error) {
      log.warn({ file: id, err: error }, 'cannot read a recording; left out of the index');
    }
  }
  return out;
}

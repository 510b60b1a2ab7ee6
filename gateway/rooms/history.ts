/**
 * A room's history: the last N chat messages in memory (kept with their serialized JSON, so a
 * joiner's replay is a string join, not N JSON.stringify calls), and the optional append-only
 * JSON Lines file under {dataDir}/rooms/ that survives a restart.
 */
import { closeSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ChatMessage } from './protocol.js';

export interface HistoryEntry {
  readonly message: ChatMessage;
  /** The exact JSON text frame participants received (and the file line, without its newline). */
  readonly json: string;
}

/**
 * A fixed-size ring of the newest entries: adding is O(1) at any size (a room with
 * `historySize: 100000` pays no copy per message). Ids only grow, so `list(after)` finds its start
 * by binary search.
 */
export class History {
  /** Grows to `limit` as messages come (a room that never fills its history never pays for it). */
  private readonly ring: HistoryEntry[] = [];
  /** Index of the oldest entry once the ring is full. */
  private head = 0;

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.ring.length;
  }

  add(entry: HistoryEntry): void {
    if (this.limit === 0) return;
    if (this.ring.length < this.limit) {
      this.ring.push(entry);
    } else {
      this.ring[this.head] = entry;
      this.head = (this.head + 1) % this.limit;
    }
  }

  private at(i: number): HistoryEntry {
    return this.ring[(this.head + i) % this.ring.length]!;
  }

  /** Entries with id > `after`, oldest first, at most `limit` of the newest. */
  list(after = 0, limit = this.limit): HistoryEntry[] {
    const count = this.ring.length;
    let lo = 0;
    let hi = count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at(mid).message.id <= after) lo = mid + 1;
      else hi = mid;
    }
    const out: HistoryEntry[] = [];
    for (let i = Math.max(lo, count - limit); i < count; i++) out.push(this.at(i));
    return out;
  }

  /**
   * `[m1,m2,...]` built from the stored JSON: the newest messages, oldest first, that fit in
   * `maxBytes` (a joiner's replay must not count as a slow consumer's backlog).
   */
  jsonArray(maxBytes = Infinity): string {
    const parts: string[] = [];
    let bytes = 2;
    for (let i = this.ring.length - 1; i >= 0; i--) {
      const json = this.at(i).json;
      bytes += Buffer.byteLength(json) + 1;
      if (bytes > maxBytes) break;
      parts.push(json);
    }
    return `[${parts.reverse().join(',')}]`;
  }
}

/** `live/cam1` -> `live%2Fcam1.jsonl`: one flat directory, one file per room, reversible. */
export function historyFileName(room: string): string {
  return `${encodeURIComponent(room)}.jsonl`;
}

function isChatMessage(v: unknown): v is ChatMessage {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, unknown>;
  const from = m.from as Record<string, unknown> | null;
  return (
    m.type === 'chat' &&
    Number.isSafeInteger(m.id) &&
    typeof m.text === 'string' &&
    typeof m.ts === 'number' &&
    typeof from === 'object' &&
    from !== null &&
    typeof from.name === 'string'
  );
}

export interface LoadedHistory {
  readonly entries: HistoryEntry[];
  /** Highest message id in the file (0 when empty): ids continue after it. */
  readonly lastId: number;
}

/**
 * An append-only JSON Lines file. Appends are synchronous `write(2)` calls, so a line is in the
 * kernel before the message is relayed or acknowledged: a process crash loses nothing that any
 * participant saw (with `fsync`, neither does a power cut).
 */
export class HistoryFile {
  private fd: number | undefined;

  private constructor(
    readonly path: string,
    private readonly fsync: boolean,
  ) {}

  /**
   * Opens (creating) the room's file and reads its newest `limit` messages. A last line cut short
   * by a crash is skipped with a warning and cut off the file, so the next append starts clean;
   * an unreadable line elsewhere is skipped with a warning.
   */
  static open(dir: string, room: string, limit: number, fsync: boolean, log: Logger): { file: HistoryFile; loaded: LoadedHistory } {
    mkdirSync(dir, { recursive: true });
    const file = new HistoryFile(join(dir, historyFileName(room)), fsync);
    let text = '';
    try {
      text = readFileSync(file.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    file.fd = openSync(file.path, 'a+');
    const loaded = file.parse(text, limit, log);
    return { file, loaded };
  }

  private parse(text: string, limit: number, log: Logger): LoadedHistory {
    const lines = text.split('\n');
    // After split, a file ending in '\n' has an empty last element; anything else is a partial line.
    const tail = lines.pop() ?? '';
    if (tail.length > 0) {
      let complete = false;
      try {
        complete = isChatMessage(JSON.parse(tail));
      } catch {
        /* truncated */
      }
      if (complete) {
        // The write reached the kernel whole except its newline: keep the message, end the line.
        lines.push(tail);
        writeSync(this.fd!, '\n');
      } else {
        const keep = Buffer.byteLength(text) - Buffer.byteLength(tail);
        ftruncateSync(this.fd!, keep);
        log.warn({ file: this.path, bytes: Buffer.byteLength(tail) }, 'room history: skipped a truncated last line (interrupted write); the file now ends at the last complete line');
      }
    }
    const entries: HistoryEntry[] = [];
    let lastId = 0;
    // Newest first, parsing only as many lines as history keeps (plus the one that gives lastId).
    for (let i = lines.length - 1; i >= 0 && (entries.length < limit || lastId === 0); i--) {
      const line = lines[i]!;
      if (line.length === 0) continue;
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch {
        message = undefined;
      }
      if (!isChatMessage(message)) {
        log.warn({ file: this.path, line: i + 1 }, 'room history: skipped an unreadable line');
        continue;
      }
      if (lastId === 0) lastId = message.id;
      if (entries.length < limit) entries.push({ message, json: line });
    }
    entries.reverse();
    return { entries, lastId };
  }

  /** Appends one line; throws when the disk refuses it (the caller refuses the message). */
  append(json: string): void {
    if (this.fd === undefined) throw new Error(`history file ${this.path} is closed`);
    const bytes = Buffer.from(json + '\n');
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(this.fd, bytes, offset);
    if (this.fsync) fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

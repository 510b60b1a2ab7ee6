import { pino, type Logger } from 'pino';

export type { Logger };

export type LogFormat = 'auto' | 'json' | 'pretty';

/** A pino logger whose level (its own and every child's) can be changed after children exist. */
export interface RootLogger extends Logger {
  /** Sets the level of this logger and of every child made from it (SIGHUP reload of log.level). */
  setLevelEverywhere(level: string): void;
}

/**
 * The gateway's root logger on stdout (or `destination`); children carry component and connection
 * context. `json` writes pino's JSON lines; `pretty` one readable line per event; `auto` is pretty
 * when the destination is a terminal.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream, format: LogFormat = 'json'): RootLogger {
  const tty = ((destination ?? process.stdout) as { isTTY?: boolean }).isTTY === true;
  const pretty = format === 'pretty' || (format === 'auto' && tty);
  const color = pretty && tty && !process.env.NO_COLOR;
  // pino sets a child's level once, when the child is made: keep weak references to every child so
  // a reload can reach the per-connection loggers too, without keeping closed connections alive.
  const children = new Set<WeakRef<Logger>>();
  let made = 0;
  const options = {
    level,
    base: { pid: process.pid },
    onChild: (child: Logger) => {
      children.add(new WeakRef(child));
      if (++made % 1024 === 0) for (const ref of children) if (!ref.deref()) children.delete(ref);
    },
  };
  const out = destination ?? process.stdout;
  const stream = pretty ? { write: (chunk: string) => out.write(prettyLines(chunk, color)) } : destination;
  const root = (stream ? pino(options, stream) : pino(options)) as RootLogger;
  root.setLevelEverywhere = (next: string) => {
    root.level = next;
    for (const ref of children) {
      const child = ref.deref();
      if (child) child.level = next;
      else children.delete(ref);
    }
  };
  return root;
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLORS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
/** Bindings shown as a bracketed prefix, in this order: `[rtmp] [conn 10.0.0.5:51234] [live/cam1]`. */
const CONTEXT: readonly [key: string, label: string][] = [
  ['component', ''],
  ['engine', ''],
  ['conn', 'conn '],
  ['path', ''],
  ['source', 'source '],
  ['rendition', 'rendition '],
  ['room', 'room '],
];
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'err', ...CONTEXT.map(([key]) => key)]);

/** One pino JSON line (or several) as readable text; a line that is not JSON passes unchanged. */
export function prettyLines(chunk: string, color = false): string {
  let out = '';
  for (const line of chunk.split('\n')) {
    if (line === '') continue;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      out += line + '\n';
      continue;
    }
    out += prettyEntry(entry, color) + '\n';
  }
  return out;
}

function prettyEntry(entry: Record<string, unknown>, color: boolean): string {
  const paint = (code: string, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const level = Number(entry.level);
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : '';
  const parts = [paint('90', time), paint(LEVEL_COLORS[level] ?? '0', (LEVELS[level] ?? String(entry.level)).padEnd(5))];
  for (const [key, label] of CONTEXT) {
    if (entry[key] !== undefined) parts.push(paint('36', `[${label}${String(entry[key])}]`));
  }
  if (entry.msg !== undefined) parts.push(String(entry.msg));
  for (const [key, value] of Object.entries(entry)) {
    if (HIDDEN.has(key) || value === undefined) continue;
    parts.push(paint('90', `${key}=${typeof value === 'string' && !/[\s"=]/.test(value) ? value : JSON.stringify(value)}`));
  }
  let text = parts.filter((p) => p !== '').join(' ');
  const err = entry.err as { type?: string; message?: string; stack?: string } | undefined;
  if (err && typeof err === 'object') {
    const stack = typeof err.stack === 'string' ? err.stack : `${err.type ?? 'Error'}: ${err.message ?? ''}`;
    text += '\n' + stack.split('\n').map((l) => `    ${l.trim()}`).join('\n');
  }
  return text;
}

/**
 * Credentials in URLs (`?token=...`, `user:password@`) masked, for anything written to logs or
 * shown by the API: a request URL, an ffmpeg command line, ffmpeg's own words.
 */
export function maskSecrets(text: string): string {
  return text.replace(/([?&](?:token|sg_relay)=)[^&\s'"]+/g, '$1***').replace(/(\/\/[^/\s:@]+:)[^@\s/]+@/g, '$1***@');
}

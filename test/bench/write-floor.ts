/**
 * What one write per frame per reader costs on this machine, with no server in the way:
 *
 *   node dist/test/bench/write-floor.js [--readers 1000] [--seconds 15] [--warmup 3]
 *
 * Replays the bench media's frame sizes and timing (720p30 H.264 + AAC, ~77 frames/s) to N
 * loopback readers with one write per frame per reader, from two minimal writers pinned to core
 * 0 like the servers in run.ts:
 *   - c:    test/bench/write-floor.c, one send() per frame per reader (built with cc when present),
 *   - node: a bare net.Socket.write() loop in Node.js, no hub, no protocol.
 * The readers (this process, core 1) only count bytes. Each writer reports its CPU % of one core
 * and the fan-out time per frame (first write to last write). These are floors for any server
 * that writes each frame as it arrives, so run.ts's figures read against them.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cacheDir, ensureMedia, loadTags, root } from './media.js';

const { values } = parseArgs({
  options: {
    readers: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '3' },
    writers: { type: 'string', default: 'c,node' },
    role: { type: 'string' },
    schedule: { type: 'string' },
  },
});

interface Frame {
  ts: number;
  size: number;
}

interface FloorResult {
  writer: string;
  readers: number;
  cpuPercent: number;
  writesPerSecond: number;
  fanoutP50: number;
  fanoutP99: number;
  fanoutMax: number;
  kbpsMin?: number;
}

/** One "timestamp_ms bytes" line per FLV tag (11-byte header + body + 4-byte previous size). */
function writeSchedule(): string {
  const file = join(cacheDir, 'schedule.txt');
  const media = ensureMedia();
  if (existsSync(file) && statSync(file).mtimeMs >= statSync(media).mtimeMs) return file;
  const lines = loadTags(media)
    .filter((t) => !(t.type === 18 || (t.type === 9 && t.body[1] === 0) || (t.type === 8 && t.body[1] === 0)))
    .map((t) => `${t.timestamp} ${t.body.length + 15}`);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

function readSchedule(file: string): Frame[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [ts, size] = line.split(' ').map(Number);
      return { ts: ts!, size: size! };
    });
}

/** The Node.js writer (runs as a child with --role node-writer): net.Socket.write per frame per reader. */
function nodeWriter(schedule: Frame[], readers: number, warmupS: number, seconds: number): void {
  const payload = Buffer.alloc(Math.max(...schedule.map((f) => f.size)), 0x55);
  const frames = schedule.map((f) => payload.subarray(0, f.size));
  const loopMs = schedule[schedule.length - 1]!.ts + 33;
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    sockets.push(socket);
    if (sockets.length === readers) run();
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as { port: number }).port}\n`));
  function run(): void {
    const t0 = performance.now();
    const measureStart = t0 + warmupS * 1000;
    const end = measureStart + seconds * 1000;
    const fanout: number[] = [];
    let cpu0: NodeJS.CpuUsage | undefined;
    let writes = 0;
    let i = 0;
    let loop = 0;
    const tick = (): void => {
      for (;;) {
        const t = performance.now();
        if (cpu0 === undefined && t >= measureStart) cpu0 = process.cpuUsage();
        if (t >= end) return finish();
        const due = t0 + schedule[i]!.ts + loop * loopMs;
        if (due > t) {
          setTimeout(tick, due - t);
          return;
        }
        const bytes = frames[i]!;
        for (const socket of sockets) socket.write(bytes);
        if (cpu0 !== undefined) {
          fanout.push(performance.now() - t);
          writes += sockets.length;
        }
        if (++i === frames.length) {
          i = 0;
          loop++;
        }
      }
    };
    const finish = (): void => {
      const cpu = process.cpuUsage(cpu0);
      fanout.sort((a, b) => a - b);
      const at = (p: number) => Math.round(fanout[Math.min(fanout.length - 1, Math.floor(p * fanout.length))]! * 100) / 100;
      const result = { cpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / (seconds * 1000)) * 1000) / 10, writesPerSecond: Math.round(writes / seconds), fanoutP50: at(0.5), fanoutP99: at(0.99), fanoutMax: at(1) };
      process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0));
    };
    tick();
  }
}

function buildC(): string | undefined {
  const out = join(cacheDir, 'write-floor');
  const src = join(root, 'test', 'bench', 'write-floor.c');
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return out;
  try {
    mkdirSync(cacheDir, { recursive: true });
    execFileSync('cc', ['-O2', '-o', out, src], { stdio: 'inherit' });
    return out;
  } catch {
    process.stderr.write('cc not available: skipping the C writer (apt-get install gcc to measure the kernel floor)\n');
    return undefined;
  }
}

/** Starts a writer on core 0, connects the readers from here, returns its JSON result line. */
async function measure(writer: string, command: string[], readers: number): Promise<FloorResult> {
  const proc: ChildProcess = spawn('taskset', ['-c', '0', ...command], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let pending = '';
  let onLine: (() => void) | undefined;
  proc.stdout!.on('data', (d: Buffer) => {
    pending += d.toString();
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      lines.push(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
      onLine?.();
    }
  });
  const nextLine = (index: number) =>
    new Promise<string>((res, rej) => {
      const check = () => {
        if (lines.length > index) res(lines[index]!);
      };
      onLine = check;
      proc.once('exit', () => rej(new Error(`${writer} writer exited before printing line ${index + 1}`)));
      check();
    });
  const port = Number(await nextLine(0));
  const sockets: Socket[] = [];
  const received = new Array<number>(readers).fill(0);
  const readBuffer = Buffer.alloc(256 * 1024);
  const t0 = performance.now();
  for (let r = 0; r < readers; r++) {
    const socket = connect({ port, host: '127.0.0.1', onread: { buffer: readBuffer, callback: (n: number) => ((received[r]! += n), true) } });
    socket.on('error', () => {});
    sockets.push(socket);
    if (r % 100 === 99) await new Promise((res) => setImmediate(res));
  }
  const result = JSON.parse(await nextLine(1)) as Omit<FloorResult, 'writer' | 'readers'>;
  const elapsed = (performance.now() - t0) / 1000;
  for (const s of sockets) s.destroy();
  proc.kill();
  return { writer, readers, ...result, kbpsMin: Math.round((Math.min(...received) * 8) / 1000 / elapsed) };
}

async function main(): Promise<void> {
  const readers = Number(values.readers);
  const seconds = Number(values.seconds);
  const warmup = Number(values.warmup);
  if (values.role === 'node-writer') {
    nodeWriter(readSchedule(values.schedule!), readers, warmup, seconds);
    return;
  }
  try {
    execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });
  } catch {
    process.stderr.write('taskset not available: writers and readers share cores\n');
  }
  const schedule = writeSchedule();
  const results: FloorResult[] = [];
  for (const writer of values.writers!.split(',')) {
    let command: string[] | undefined;
    if (writer === 'c') {
      const binary = buildC();
      if (binary) command = [binary, schedule, String(readers), String(warmup), String(seconds)];
    } else if (writer === 'node') {
      command = [process.execPath, fileURLToPath(import.meta.url), '--role', 'node-writer', '--schedule', schedule, '--readers', String(readers), '--warmup', String(warmup), '--seconds', String(seconds)];
    }
    if (!command) continue;
    const result = await measure(writer, command, readers);
    results.push(result);
    process.stdout.write(JSON.stringify(result) + '\n');
  }
  const table = [
    '| writer | readers | writes/s | CPU % (1 core) | fan-out per frame p50 / p99 / max ms |',
    '| --- | ---: | ---: | ---: | --- |',
    ...results.map((r) => `| ${r.writer} | ${r.readers} | ${r.writesPerSecond} | ${r.cpuPercent} | ${r.fanoutP50} / ${r.fanoutP99} / ${r.fanoutMax} |`),
  ];
  process.stdout.write('\n' + table.join('\n') + '\n');
}

void main();

/**
 * Rooms fan-out benchmark (not part of `npm test`): 500 participants in one room, 20 chat
 * messages/s in total from rotating senders for ~20 s. Reports fan-out latency (send to receive,
 * measured on one clock in this process) p50/p99/max and the gateway's CPU, which runs in a
 * child process so the 500 clients' own work is not counted.
 *
 *   npm run build && node dist/test/bench/rooms.js [--participants 500] [--rate 20] [--seconds 20]
 */
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { configWith } from '../../gateway/config.js';
import { Gateway } from '../../gateway/gateway.js';
import { createLogger } from '../../gateway/log.js';
import { percentile } from '../helpers/stats.js';

type ToParent = { port: number } | { cpu: NodeJS.CpuUsage };

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Child: one gateway with only HTTP (rooms) on an ephemeral port. */
async function serve(): Promise<void> {
  const config = configWith({
    bind: '127.0.0.1',
    http: { port: 0 },
    rtmp: { enabled: false },
    rtsp: { enabled: false },
    log: { level: 'warn' },
    rooms: { maxParticipants: 2000 },
  });
  const gw = new Gateway(config, { logger: createLogger('warn') });
  const ports = await gw.start();
  process.send!({ port: ports.http } satisfies ToParent);
  process.on('message', (m: string) => {
    if (m === 'cpu') process.send!({ cpu: process.cpuUsage() } satisfies ToParent);
    if (m === 'stop') void gw.stop().then(() => process.exit(0));
  });
}


async function main(): Promise<void> {
  const participants = arg('participants', 500);
  const rate = arg('rate', 20);
  const seconds = arg('seconds', 20);
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { stdio: 'inherit' });
  const replies: ToParent[] = [];
  let wake: (() => void) | undefined;
  child.on('message', (m: ToParent) => {
    replies.push(m);
    wake?.();
  });
  const reply = async <K extends 'port' | 'cpu'>(key: K): Promise<Extract<ToParent, Record<K, unknown>>> => {
    for (;;) {
      const i = replies.findIndex((r) => key in r);
      if (i >= 0) return replies.splice(i, 1)[0] as Extract<ToParent, Record<K, unknown>>;
      await new Promise<void>((r) => (wake = r));
    }
  };
  const { port } = await reply('port');
  const url = `ws://127.0.0.1:${port}/api/v1/rooms/room/bench/ws`;

  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  const received = new Uint32Array(participants);
  const textMarker = /"text":"b:(\d+)"/;
  const sockets: WebSocket[] = [];
  const joinStart = performance.now();
  for (let batch = 0; batch < participants; batch += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, participants - batch) }, (_, j) => {
        const index = batch + j;
        return new Promise<void>((resolve, reject) => {
          const ws = new WebSocket(`${url}?name=p${index}`, { perMessageDeflate: false });
          ws.on('message', (data: Buffer) => {
            // Only chat frames carry the marker; presence frames are skipped without a JSON parse.
            const m = textMarker.exec(data.toString());
            if (!m) return;
            const t0 = sentAt.get(Number(m[1]));
            if (t0 !== undefined) latencies.push(performance.now() - t0);
            received[index]!++;
          });
          ws.once('open', () => resolve());
          ws.once('error', reject);
          sockets.push(ws);
        });
      }),
    );
  }
  const joinMs = performance.now() - joinStart;
  await new Promise((r) => setTimeout(r, 500)); // let the presence fan-out of the last joins drain

  const total = rate * seconds;
  child.send('cpu');
  const cpuBefore = (await reply('cpu')).cpu;
  const wallStart = performance.now();
  for (let seq = 0; seq < total; seq++) {
    const due = wallStart + (seq * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sentAt.set(seq, performance.now());
    sockets[(seq * 7) % participants]!.send(JSON.stringify({ type: 'chat', text: `b:${seq}` }));
  }
  const expected = total * participants;
  const deadline = performance.now() + 10_000;
  while (latencies.length < expected && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const wallMs = performance.now() - wallStart;
  child.send('cpu');
  const cpuAfter = (await reply('cpu')).cpu;
  const cpuMs = (cpuAfter.user - cpuBefore.user + cpuAfter.system - cpuBefore.system) / 1000;

  latencies.sort((a, b) => a - b);
  const missing = expected - latencies.length;
  const result = {
    participants,
    messages: total,
    ratePerSecond: rate,
    deliveries: latencies.length,
    missing,
    minPerParticipant: Math.min(...received),
    joinMs: Math.round(joinMs),
    latencyMs: {
      p50: +percentile(latencies, 50).toFixed(2),
      p99: +percentile(latencies, 99).toFixed(2),
      max: +latencies[latencies.length - 1]!.toFixed(2),
    },
    gatewayCpu: { ms: Math.round(cpuMs), percentOfOneCore: +((cpuMs / wallMs) * 100).toFixed(1), wallMs: Math.round(wallMs) },
  };
  console.log(JSON.stringify(result, null, 2));
  for (const ws of sockets) ws.terminate();
  child.send('stop');
  await new Promise((r) => child.once('exit', r));
  process.exitCode = missing === 0 ? 0 : 1;
}

if (process.argv.includes('--serve')) void serve();
else void main();

import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { hasTool } from './tools.js';

/** True when redis-server runs here; suites needing it are skipped loudly otherwise (.ci/run installs it and fails on skips). */
export function hasRedis(): boolean {
  return hasTool('redis-server', ['--version']);
}

/** A free TCP port on loopback (bound once and released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** Kills the server (SIGKILL) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty (no persistence). */
  restart(): Promise<void>;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A real redis-server on a free port, without persistence; stop() it in afterAll. */
export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const run = async () => {
    proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const end = Date.now() + 5000;
    while (!(await canConnect(port))) {
      if (Date.now() > end || proc.exitCode !== null) throw new Error(`redis-server did not start on port ${port}`);
      await new Promise((r) => setTimeout(r, 30));
    }
  };
  const stop = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  };
  await run();
  return { port, url: `redis://127.0.0.1:${port}`, stop, restart: run };
}

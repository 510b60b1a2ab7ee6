import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';

const ADMIN = (token: string, level = 'info', cors = '*') =>
  `log:\n  level: ${level}\nhttp:\n  corsOrigin: "${cors}"\nauth:\n  admin:\n    publicReads: false\n    tokens:\n      - token: ${token}\n        role: admin\n`;

/** The built gateway (dist/, built by npm test) as a child process with its JSON log lines. */
class GatewayProcess {
  readonly lines: Record<string, any>[] = [];
  private readonly child: ChildProcessByStdio<null, Readable, Readable>;
  private waiters: { test: (l: Record<string, any>) => boolean; resolve: (l: Record<string, any>) => void }[] = [];

  constructor(args: string[]) {
    this.child = spawn(process.execPath, ['dist/gateway/main.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let rest = '';
    this.child.stdout.on('data', (d) => {
      rest += String(d);
      const parts = rest.split('\n');
      rest = parts.pop()!;
      for (const part of parts) {
        const line = JSON.parse(part) as Record<string, any>;
        this.lines.push(line);
        this.waiters = this.waiters.filter((w) => (w.test(line) ? (w.resolve(line), false) : true));
      }
    });
  }

  waitFor(test: (l: Record<string, any>) => boolean): Promise<Record<string, any>> {
    const seen = this.lines.find(test);
    return seen ? Promise.resolve(seen) : new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  signal(name: NodeJS.Signals): void {
    this.child.kill(name);
  }

  stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return Promise.resolve(this.child.exitCode);
    return new Promise((resolve) => {
      this.child.on('exit', (code) => resolve(code));
      this.child.kill('SIGTERM');
    });
  }
}

describe('SIGHUP reload', () => {
  let gw: GatewayProcess | undefined;
  afterEach(async () => {
    await gw?.stop();
  });

  it('applies log.level and auth live, names the settings that need a restart, keeps running on a bad file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-reload-'));
    const file = join(dir, 'streamgate.yaml');
    writeFileSync(file, ADMIN('old-token'));
    gw = new GatewayProcess(['--config', file, '--bind', '127.0.0.1', '--http-port', '0', '--rtmp-port', '0', '--rtsp-port', '0', '--srt-port', '0', '--data-dir', dir]);
    const http = await gw.waitFor((l) => l.listener === 'http');
    const api = (token: string) => fetch(`http://127.0.0.1:${http.port}/api/v1/streams`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
    await gw.waitFor((l) => l.listener === 'rtsp');
    expect([await api('old-token'), await api('new-token')]).toEqual([200, 403]);

    writeFileSync(file, ADMIN('new-token', 'debug', 'https://console.example'));
    gw.signal('SIGHUP');
    const reload = await gw.waitFor((l) => /^reload: applied/.test(l.msg));
    expect(reload.applied).toEqual(['log.level', 'auth']);
    expect(reload.restartNeeded).toEqual(['http.corsOrigin']);
    expect(reload.msg).toBe('reload: applied log.level, auth; restart to apply: http.corsOrigin');
    expect([await api('old-token'), await api('new-token')]).toEqual([403, 200]);

    writeFileSync(file, 'auth: [not, a, mapping\n');
    gw.signal('SIGHUP');
    const bad = await gw.waitFor((l) => /keeping the running config/.test(l.msg));
    expect(bad.level).toBe(50);
    expect(await api('new-token')).toBe(200);
    expect(await gw.stop()).toBe(0);
  });
});

import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Runs the built CLI (dist/gateway/main.js, built by npm test) from `cwd`. */
function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(process.cwd(), 'dist/gateway/main.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env, cwd: options.cwd ?? process.cwd() });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += String(d)));
    p.stderr.on('data', (d) => (err += String(d)));
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}

describe('CLI help', () => {
  it.each([['--help'], ['-h']])('streamgate %s prints usage and every flag to stdout and exits 0', async (flag) => {
    const r = await runCli([flag]);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    for (const f of ['--config', '--bind', '--http-port', '--rtmp-port', '--rtsp-port', '--data-dir', '--log-level', 'STREAMGATE_CONFIG', 'SIGHUP']) expect(r.out).toContain(f);
  });

  it.each([
    [['token', '--help'], '--publish PATH'],
    [['token', '--play', 'live/cam1', '-h'], '--ttl'],
    [['hash-password', '--help'], 'auth.admin.users'],
    [['hash-password', '-h'], 'usage: streamgate hash-password'],
  ])('streamgate %j prints its usage and exits 0', async (args, expected) => {
    const r = await runCli(args);
    expect(r.code).toBe(0);
    expect(r.out).toContain(expected);
  });

  it('an unknown option exits 2 with the usage on stderr', async () => {
    const r = await runCli(['--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('usage: streamgate');
  });
});

describe('config discovery', () => {
  it('streamgate token reads STREAMGATE_CONFIG without --config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-cli-'));
    writeFileSync(join(dir, 'site.yaml'), 'auth:\n  keys:\n    k1: site-secret\n');
    const r = await runCli(['token', '--publish', 'live/cam1', '--json'], { env: { ...process.env, STREAMGATE_CONFIG: join(dir, 'site.yaml') }, cwd: dir });
    expect(r.code).toBe(0);
    const { verifyToken } = await import('../../gateway/auth/tokens.js');
    expect(verifyToken({ k1: 'site-secret' }, JSON.parse(r.out).token, 'publish', 'live/cam1').ok).toBe(true);
  });

  it('streamgate token falls back to config/default.yaml of the package, whatever the cwd', async () => {
    const env = { ...process.env };
    delete env.STREAMGATE_CONFIG;
    const r = await runCli(['token', '--publish', 'live/cam1'], { env, cwd: tmpdir() });
    // The default config has no signing key: the message proves that file (not a missing one) was read.
    expect(r.code).toBe(2);
    expect(r.err).toContain('no signing key');
  });
});

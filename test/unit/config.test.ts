import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfigPath, loadConfig, parseConfig, readConfigFile } from '../../gateway/config.js';
import { ConfigError } from '../../gateway/core/errors.js';

/** Every leaf key path of a plain object (records with no entries count as leaves). */
function keyPaths(o: unknown, prefix = ''): string[] {
  if (typeof o !== 'object' || o === null || Array.isArray(o) || Object.keys(o).length === 0) return [prefix];
  return Object.entries(o).flatMap(([k, v]) => keyPaths(v, prefix ? `${prefix}.${k}` : k));
}

describe('config', () => {
  it('config/default.yaml holds exactly the schema defaults, every key written out', () => {
    const raw = readConfigFile(defaultConfigPath());
    expect(parseConfig(raw)).toEqual(parseConfig({}));
    expect(keyPaths(raw).sort()).toEqual(keyPaths(parseConfig({})).sort());
  });

  it('every key in config/default.yaml has a comment close above it', async () => {
    const { readFileSync } = await import('node:fs');
    const lines = readFileSync(defaultConfigPath(), 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (!/^\s*[A-Za-z"*/]+[A-Za-z0-9_"*/-]*:( |$)/.test(line) || /^\s*[A-Za-z]+:\s*$/.test(line)) return; // sections are exempt
      const above = lines.slice(Math.max(0, i - 4), i).map((l) => l.trim());
      expect(above.some((l) => l.startsWith('#')), `line ${i + 1}: ${line.trim()}`).toBe(true);
    });
  });

  const bad: [string, unknown, string][] = [
    ['unknown top-level key', { colour: 'blue' }, 'unknown key colour'],
    ['unknown nested key', { hub: { gopCache: 1 } }, 'unknown key hub.gopCache'],
    ['port out of range', { http: { port: 70000 } }, 'http.port: Too big'],
    ['negative lag', { hub: { maxReaderLagMs: -1 } }, 'hub.maxReaderLagMs: Too small'],
    ['wrong type', { rtmp: { enabled: 'yes' } }, 'rtmp.enabled: Invalid input: expected boolean'],
    ['bad log level', { log: { level: 'loud' } }, 'log.level: Invalid option'],
    ['bad takeover pattern', { hub: { takeoverPaths: ['live/../x y'] } }, 'hub.takeoverPaths.0: expected a path pattern'],
    ['tiny message limit', { rtmp: { maxMessageSize: 10 } }, 'rtmp.maxMessageSize: Too small'],
    [
      'auth rule pattern with * inside a name',
      { auth: { rules: [{ paths: 'live/cam*', mode: 'token' }], keys: { k1: 'x' } } },
      'auth.rules.0.paths: expected a path pattern, not "live/cam*": component "cam*" uses * inside a name (* and ** stand for whole components); allowed: components of [A-Za-z0-9._~-], * for exactly one component, ** for any trailing components (last only), e.g. live/cam1, live/*, cams/** or **',
    ],
    ['auth rule pattern with ** before the end', { auth: { rules: [{ paths: '**/cam1', mode: 'open' }] } }, 'auth.rules.0.paths: expected a path pattern, not "**/cam1": ** may only be the last component'],
    ['auth rule pattern of one component', { auth: { rules: [{ paths: 'live', mode: 'open' }] } }, 'auth.rules.0.paths: expected a path pattern, not "live": a single component matches no stream path'],
    ['takeover pattern with * inside a name', { hub: { takeoverPaths: ['live/cam*'] } }, 'hub.takeoverPaths.0: expected a path pattern, not "live/cam*": component "cam*" uses * inside a name'],
    ['an edge without a directory or upstream', { cluster: { edge: { enabled: true } } }, 'cluster.edge.enabled: cluster.edge.enabled needs cluster.redis.url (the directory) or cluster.edge.upstream'],
    ['hot standby without Redis', { cluster: { standby: { enabled: true } } }, 'cluster.standby.enabled: cluster.standby.enabled needs cluster.redis.url (the leases)'],
    ['an edge upstream that is not http(s)', { cluster: { edge: { upstream: 'rtmp://origin' } } }, 'cluster.edge.upstream'],
    ['workers neither a count nor auto', { cluster: { workers: 0 } }, 'cluster.workers'],
    ['short admin password hash', { auth: { admin: { users: [{ name: 'ops', scrypt: 'ab:c', role: 'admin' }] } } }, 'auth.admin.users.0.scrypt: expected salt:hash as printed by npx streamgate hash-password (32 + 64 hex digits)'],
  ];
  for (const [name, input, message] of bad) {
    it(`refuses ${name} with a message naming it`, () => {
      expect(() => parseConfig(input)).toThrow(ConfigError);
      expect(() => parseConfig(input)).toThrow(message);
    });
  }

  it('accepts the path patterns rules and takeover understand', () => {
    const c = parseConfig({ hub: { takeoverPaths: ['live/*', 'cams/**', 'studio/cam1', '**'] }, auth: { rules: [{ paths: 'cams/*', mode: 'open' }, { paths: '**', mode: 'open' }] } });
    expect(c.hub.takeoverPaths).toEqual(['live/*', 'cams/**', 'studio/cam1', '**']);
    expect(c.auth.rules.map((r) => r.paths)).toEqual(['cams/*', '**']);
  });

  it('applies flags over environment over file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-conf-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'http:\n  port: 9000\nrtmp:\n  port: 1936\n');
    const c = loadConfig({ file, env: { STREAMGATE_HTTP_PORT: '9100', STREAMGATE_RTMP_PORT: '1937' }, overrides: { rtmpPort: 1938 } });
    expect(c.http.port).toBe(9100);
    expect(c.rtmp.port).toBe(1938);
  });

  it('refuses a config file that is not YAML', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-conf-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'http: [1, 2\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(/not valid YAML/);
  });
});

function runCli(args: string[], until?: RegExp, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['dist/gateway/main.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => {
      out += String(d);
      if (until && until.test(out)) p.kill('SIGTERM');
    });
    p.stderr.on('data', (d) => (err += String(d)));
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}

describe('CLI (dist/gateway/main.js, built by npm test)', () => {
  it('exits non-zero naming the bad key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-cli-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'hub:\n  publisherGraceMs: soon\n');
    const r = await runCli(['--config', file]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('hub.publisherGraceMs');
  });

  it('prints a signed token and ready URLs with config/secure.yaml (secret from the environment)', async () => {
    const env = { ...process.env, STREAMGATE_SECRET: 'unit-test-secret' };
    const r = await runCli(['token', '--config', 'config/secure.yaml', '--publish', 'live/cam1', '--ttl', '10m', '--json'], undefined, env);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out);
    const { verifyToken } = await import('../../gateway/auth/tokens.js');
    expect(verifyToken({ k1: 'unit-test-secret' }, out.token, 'publish', 'live/cam1').ok).toBe(true);
    expect(out.urls.rtmp).toContain('/live/cam1?token=');
    const missing = await runCli(['token', '--config', 'config/secure.yaml', '--play', 'live/cam1'], undefined, { ...process.env, STREAMGATE_SECRET: '' });
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('STREAMGATE_SECRET');
  });

  it('refuses a bad port flag', async () => {
    const r = await runCli(['--http-port', 'abc']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--http-port');
  });

  it('starts on the default config with ports from flags, prints one line per listener, stops on SIGTERM', async () => {
    const r = await runCli(['--bind', '127.0.0.1', '--http-port', '0', '--rtmp-port', '0', '--rtsp-port', '0', '--srt-port', '0', '--data-dir', mkdtempSync(join(tmpdir(), 'sg-data-'))], /RTSP listening|"stopping"/);
    const lines = r.out.split('\n').filter((l) => l.includes('"listener"'));
    expect(lines.map((l) => JSON.parse(l).listener)).toEqual(expect.arrayContaining(['http', 'rtmp']));
    for (const l of lines) expect(JSON.parse(l).port).toBeGreaterThan(0);
    expect(r.out).toContain('"stopped"');
    expect(r.code).toBe(0);
  });
});

/**
 * deploy/streamgate.service and deploy/Dockerfile, tested by running their own command lines (read
 * from the files) against the built dist/ with temp paths in place of /opt, /etc, /var/lib and /data.
 * No image is built here (that needs a Docker daemon); the entry command and the HEALTHCHECK are
 * exactly the image's.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const root = process.cwd();

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts a command and resolves with the child once a stdout line matches. */
function startUntil(argv: string[], env: NodeJS.ProcessEnv, cwd: string, ready: RegExp): Promise<{ child: ChildProcess; out: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`not ready in 15 s:\n${out}`)), 15_000);
    child.stdout!.on('data', (d) => {
      out += String(d);
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve({ child, out: () => out });
      }
    });
    child.stderr!.on('data', (d) => (out += String(d)));
    child.on('exit', (code) => reject(new Error(`exited ${code} before ready:\n${out}`)));
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

/** The site's config: loopback, free RTMP/RTSP ports (HTTP comes from the environment). */
function siteConfig(dir: string): string {
  const file = join(dir, 'streamgate.yaml');
  writeFileSync(file, 'bind: 127.0.0.1\nrtmp:\n  port: 0\nrtsp:\n  port: 0\n');
  return file;
}

let running: ChildProcess[] = [];
afterEach(async () => {
  await Promise.all(running.map(stop));
  running = [];
});

describe('deploy/streamgate.service', () => {
  const unitFile = join(root, 'deploy', 'streamgate.service');
  const unit = readFileSync(unitFile, 'utf8');
  const values = (key: string) => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!);

  it('passes systemd-analyze verify with no warning', () => {
    const analyze = spawnSync('systemd-analyze', ['--version']);
    // .ci/run installs systemd when systemd-analyze is missing; failing here says so loudly.
    expect(analyze.error, 'systemd-analyze is not installed (apt-get install systemd)').toBeUndefined();
    let file = unitFile;
    if (!existsSync('/usr/bin/node')) {
      // verify checks ExecStart's binary exists; point it at this node where node lives elsewhere.
      const dir = mkdtempSync(join(tmpdir(), 'sg-unit-'));
      file = join(dir, 'streamgate.service');
      writeFileSync(file, unit.replace('/usr/bin/node', process.execPath));
    }
    const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    expect(r.stderr.split('\n').filter((l) => l.includes('streamgate.service')), 'systemd-analyze warnings').toEqual([]);
    expect(r.status).toBe(0);
  });

  it('runs as a dedicated user with restart on failure, reload by SIGHUP and a writable data dir only', () => {
    expect(values('User')).toEqual(['streamgate']);
    expect(values('Restart')).toEqual(['on-failure']);
    expect(values('ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
    expect(values('NoNewPrivileges')).toEqual(['yes']);
    expect(values('ProtectSystem')).toEqual(['strict']);
    expect(values('ReadWritePaths')).toEqual(['/var/lib/streamgate']);
    expect(values('Environment')).toContain('STREAMGATE_DATA_DIR=/var/lib/streamgate');
  });

  it("ExecStart with the unit's environment serves /healthz and reloads on ExecReload's SIGHUP", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-unit-'));
    const config = siteConfig(dir);
    const map = (s: string) =>
      s.replace('/etc/streamgate/streamgate.yaml', config).replace('/var/lib/streamgate', join(dir, 'data')).replace('/opt/streamgate', root).replace(/^\/usr\/bin\/node$/, process.execPath);
    const port = await freePort();
    // Every other listener on a free port too: tests run side by side (the install test starts a gateway as well).
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, STREAMGATE_HTTP_PORT: String(port), STREAMGATE_RTMP_PORT: '0', STREAMGATE_RTSP_PORT: '0', STREAMGATE_SRT_PORT: '0', STREAMGATE_WEBRTC_PORT: '0' };
    for (const line of values('Environment')) {
      const [k, v] = line.split(/=(.*)/s) as [string, string];
      env[k] = map(v);
    }
    expect(env.STREAMGATE_CONFIG).toBe(config);
    const argv = values('ExecStart')[0]!.split(' ').map(map);
    const { child, out } = await startUntil(argv, env, map(values('WorkingDirectory')[0]!), /RTSP listening/);
    running.push(child);
    expect(await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.json())).toMatchObject({ status: 'ok' });
    expect(out()).toContain(join(dir, 'data', 'recordings'));
    execFileSync('/bin/kill', ['-HUP', String(child.pid)]);
    await expect.poll(() => out(), { timeout: 5000 }).toContain('reload: applied');
  });
});

describe('deploy/Dockerfile', () => {
  const dockerfile = readFileSync(join(root, 'deploy', 'Dockerfile'), 'utf8').replace(/\\\n\s*/g, ' ');
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const instruction = (name: string) => [...runtime.matchAll(new RegExp(`^${name} (.*)$`, 'gm'))].map((m) => m[1]!.trim());
  const cmd = JSON.parse(instruction('CMD').at(-1)!) as string[];
  const healthcheck = JSON.parse(/CMD (\[.*\])$/.exec(instruction('HEALTHCHECK')[0]!)![1]!) as string[];

  it('runs as a non-root user on node:20-slim with /data as a volume and the contract ports exposed', () => {
    expect(runtime).toMatch(/^\nFROM node:20-slim\n/);
    expect(instruction('USER')).toEqual(['streamgate']);
    expect(instruction('VOLUME')).toEqual(['["/data"]']);
    expect(instruction('EXPOSE')[0]!.split(' ')).toEqual(expect.arrayContaining(['8080', '1935', '8554']));
    expect(cmd.slice(0, 1).concat(cmd.slice(2))).toEqual(['node', 'dist/gateway/main.js', '--config', '/etc/streamgate/streamgate.yaml']);
  });

  it("the image's CMD serves /healthz and its HEALTHCHECK passes, then fails once the gateway stops", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-docker-'));
    const config = siteConfig(dir);
    const map = (s: string) => (s === 'node' ? process.execPath : s === '/data' ? join(dir, 'data') : s.replace('/etc/streamgate/streamgate.yaml', config));
    const port = await freePort();
    // Every other listener on a free port too: tests run side by side (the install test starts a gateway as well).
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, STREAMGATE_HTTP_PORT: String(port), STREAMGATE_RTMP_PORT: '0', STREAMGATE_RTSP_PORT: '0', STREAMGATE_SRT_PORT: '0', STREAMGATE_WEBRTC_PORT: '0' };
    for (const m of (instruction('ENV')[0] ?? '').matchAll(/(\w+)=(\S+)/g)) env[m[1]!] = map(m[2]!);
    expect(env.STREAMGATE_DATA_DIR).toBe(join(dir, 'data'));
    const { child } = await startUntil(cmd.map(map), env, root, /RTSP listening/);
    running.push(child);
    const check = () => spawnSync(map(healthcheck[0]!), healthcheck.slice(1), { env, timeout: 5000 }).status;
    expect(check()).toBe(0);
    expect(await stop(child)).toBe(0);
    expect(check()).toBe(1);
  });
});

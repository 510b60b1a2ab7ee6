/**
 * The production install: what `npm pack` ships, and the offline bundle (scripts/bundle.sh) unpacked
 * on a "site" and started with `npm start`, with no dev tool and no registry. Uses the dist/ that
 * `npm test` builds and the npm cache that installing this tree filled (bundle.sh --offline).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = process.cwd();
const version = JSON.parse(execFileSync('npm', ['pkg', 'get', 'version'], { cwd: root, encoding: 'utf8' })) as string;

describe('npm pack', () => {
  it('ships the built gateway, player and config, and no sources, tests or source maps', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
    const files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    for (const f of ['package.json', 'dist/gateway/main.js', 'dist/transcode/transcoder.js', 'dist/player/index.html', 'config/default.yaml', 'deploy/streamgate.service', 'deploy/Dockerfile', 'scripts/build-if-needed.mjs']) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => f.startsWith('gateway/') || f.startsWith('test/') || f.startsWith('dist/test/') || f.endsWith('.map'))).toEqual([]);
  });
});

describe('scripts/build-if-needed.mjs on a source tree without dev dependencies', () => {
  function tree(): string {
    const dir = mkdtempSync(join(tmpdir(), 'sg-src-'));
    mkdirSync(join(dir, 'scripts'));
    mkdirSync(join(dir, 'gateway'));
    copyFileSync(join(root, 'scripts', 'build-if-needed.mjs'), join(dir, 'scripts', 'build-if-needed.mjs'));
    writeFileSync(join(dir, 'gateway', 'main.ts'), '');
    return dir;
  }

  it('npm start (prestart) stops with what to do when dist/ is missing', () => {
    const r = spawnSync(process.execPath, ['scripts/build-if-needed.mjs'], { cwd: tree(), encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('dist/gateway/main.js is missing and TypeScript (a dev dependency) is not installed');
    expect(r.stderr).toContain('offline bundle');
  });

  it('npm install (prepare) only warns, so npm ci --omit=dev of a source tree completes', () => {
    const r = spawnSync(process.execPath, ['scripts/build-if-needed.mjs', '--install'], { cwd: tree(), encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('is missing');
  });
});

describe('offline bundle (scripts/bundle.sh)', () => {
  let out: string;
  let site: string;
  let app: string;
  let gateway: ChildProcess | undefined;

  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'sg-bundle-'));
    const bundle = execFileSync('sh', ['scripts/bundle.sh', '--no-build', '--offline', '--out', out], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
      .trim()
      .split('\n')
      .at(-1)!;
    expect(bundle).toBe(join(out, `streamgate-${version}-linux-${process.arch}.tar.gz`));
    site = mkdtempSync(join(tmpdir(), 'sg-site-'));
    execFileSync('tar', ['-xzf', bundle, '-C', site]);
    app = join(site, `streamgate-${version}`);
  }, 120_000);

  afterAll(() => {
    // npm start runs the gateway under npm and sh: stop the whole process group.
    if (gateway?.pid && gateway.exitCode === null) process.kill(-gateway.pid, 'SIGTERM');
    // About 40 MB of bundle and 150 MB unpacked.
    for (const dir of [out, site]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('holds the production packages with the bundled ffmpeg, executable by anyone, and no dev tool', () => {
    const modules = readdirSync(join(app, 'node_modules'));
    for (const dev of ['typescript', 'vite', 'vitest', 'playwright-core', 'rollup', 'esbuild']) expect(modules, dev).not.toContain(dev);
    for (const dep of ['express', 'pino', 'node-media-server', 'zod', 'node-datachannel', 'ioredis']) expect(modules, dep).toContain(dep);
    // WebRTC's native library comes as an optional per-platform package: npm skips one it cannot
    // fetch without a word, so check it is there and loads.
    const version = execFileSync(process.execPath, ['--input-type=module', '-e', "import nd from 'node-datachannel'; process.stdout.write(nd.getLibraryVersion())"], { cwd: app, encoding: 'utf8' });
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    const ffmpeg = join(app, 'node_modules', '@ffmpeg-installer', `linux-${process.arch}`, 'ffmpeg');
    expect(statSync(ffmpeg).mode & 0o755).toBe(0o755);
    expect(execFileSync(ffmpeg, ['-version'], { encoding: 'utf8' })).toMatch(/^ffmpeg version/);
    expect(existsSync(join(app, 'package-lock.json'))).toBe(true);
    expect(existsSync(join(app, 'gateway'))).toBe(false);
  });

  it('npm start runs it (no build, no dev tool) and /healthz and the player answer', async () => {
    const dataDir = join(site, 'data');
    gateway = spawn('npm', ['start', '--', '--bind', '127.0.0.1', '--http-port', '0', '--rtmp-port', '0', '--rtsp-port', '0', '--srt-port', '0', '--webrtc-port', '0', '--data-dir', dataDir], {
      cwd: app,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, STREAMGATE_CONFIG: '' },
    });
    let out = '';
    gateway.stdout!.on('data', (d) => (out += String(d)));
    gateway.stderr!.on('data', (d) => (out += String(d)));
    await expect.poll(() => out, { timeout: 15_000 }).toMatch(/RTSP listening/);
    expect(out).not.toMatch(/building|TypeScript/);
    const http = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((l) => l.listener === 'http');
    const base = `http://127.0.0.1:${http.port}`;
    expect(await fetch(`${base}/healthz`).then((r) => r.json())).toMatchObject({ status: 'ok' });
    expect((await fetch(`${base}/player/`)).status).toBe(200);
    process.kill(-gateway.pid!, 'SIGTERM');
    await expect.poll(() => out, { timeout: 10_000 }).toContain('"stopped"');
  });
});

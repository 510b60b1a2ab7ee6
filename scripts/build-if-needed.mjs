// `npm start` (prestart) and `npm install` (prepare) run this: build dist/ when it is missing or
// older than the sources, with the dev tools (tsc, vite) when they are installed. A production
// install (`npm ci --omit=dev` of a release tarball or offline bundle) has dist/ and no sources:
// then there is nothing to build, and a missing dist/ is explained instead of failing inside tsc.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const entry = join(root, 'dist', 'gateway', 'main.js');
const playerPage = join(root, 'dist', 'player', 'index.html');

function newest(dir) {
  if (!existsSync(dir)) return 0;
  let t = 0;
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, name.name);
    if (name.isDirectory()) t = Math.max(t, newest(p));
    else if (name.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/** A dev tool's script in node_modules, if installed (vite's package exports hide its bin from require.resolve). */
function tool(path) {
  const file = join(root, 'node_modules', path);
  return existsSync(file) ? file : undefined;
}

function run(script, args) {
  execFileSync(process.execPath, [script, ...args], { stdio: 'inherit', cwd: root });
}

// prepare (`npm install`) only warns: a production install of a source tree must not fail on it;
// prestart (`npm start`) stops, since there is nothing to run.
const installing = process.argv.includes('--install');
const fail = () => process.exit(installing ? 0 : 1);
const hasSources = existsSync(join(root, 'gateway', 'main.ts'));
const tsc = tool('typescript/bin/tsc');
const vite = tool('vite/bin/vite.js');
const howToInstall =
  'Either install the dev dependencies and build (npm install && npm run build), or install a release\n' +
  'tarball / offline bundle, which ships dist/ (README, "Production install").';

if (hasSources) {
  const sources = Math.max(newest(join(root, 'gateway')), newest(join(root, 'transcode')));
  const stale = !existsSync(entry) || sources > statSync(entry).mtimeMs;
  if (stale && tsc) {
    console.log('building streamgate (tsc)...');
    run(tsc, ['-p', join(root, 'tsconfig.json')]);
  } else if (stale && existsSync(entry)) {
    console.warn('streamgate: dist/ is older than the sources and TypeScript is not installed; running the existing build.');
  } else if (stale) {
    console.error(`streamgate: dist/gateway/main.js is missing and TypeScript (a dev dependency) is not installed.\n${howToInstall}`);
    fail();
  }
  if (!existsSync(playerPage)) {
    if (vite) {
      console.log('building the player (vite)...');
      run(vite, ['build', '--config', join(root, 'player', 'vite.config.ts')]);
    } else {
      console.warn('streamgate: the player (dist/player) is not built and vite (a dev dependency) is not installed; /player/ pages will be missing.');
    }
  }
} else if (!existsSync(entry)) {
  console.error(`streamgate: dist/gateway/main.js is missing from this install.\n${howToInstall}`);
  fail();
}

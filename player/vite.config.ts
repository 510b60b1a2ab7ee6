/**
 * One build, five pages and a library:
 *   dist/player/index.html  wall.html  admin.html  room.html  publish.html   (served by the gateway under /player/)
 *   dist/player/lib/streamgate-player.js                   (ES module: createPlayer, types, events)
 *   dist/player/lib/types/index.d.ts                       (its declarations)
 * Shared code (mpegts.js, the player) lands in dist/player/assets/ chunks that the pages and the
 * library import; hls.js is a separate chunk loaded only when HLS is used.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

const root = resolve(import.meta.dirname);

/** Emits the library's type declarations (dist/player/lib/types/index.d.ts) after the bundle. */
function libraryTypes(): Plugin {
  return {
    name: 'streamgate-library-types',
    apply: 'build',
    closeBundle() {
      const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
      execFileSync(process.execPath, [tsc, '-p', resolve(root, 'tsconfig.lib.json')], { stdio: 'inherit' });
    },
  };
}

export default defineConfig({
  root,
  base: '/player/',
  logLevel: 'warn',
  plugins: [libraryTypes()],
  build: {
    outDir: resolve(root, '..', 'dist', 'player'),
    emptyOutDir: true,
    target: 'es2020',
    sourcemap: true,
    chunkSizeWarningLimit: 700,
    rollupOptions: {
      input: {
        index: resolve(root, 'index.html'),
        wall: resolve(root, 'wall.html'),
        admin: resolve(root, 'admin.html'),
        room: resolve(root, 'room.html'),
        publish: resolve(root, 'publish.html'),
        lib: resolve(root, 'src', 'index.ts'),
      },
      // Keep the library entry's exports (an app build would tree-shake them away).
      preserveEntrySignatures: 'exports-only',
      output: {
        entryFileNames: (chunk) => (chunk.name === 'lib' ? 'lib/streamgate-player.js' : 'assets/[name]-[hash].js'),
      },
    },
  },
});

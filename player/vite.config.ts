import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// Placeholder until the player lands: builds player/index.html into dist/player.
export default defineConfig({
  root: resolve(import.meta.dirname),
  base: '/player/',
  build: { outDir: resolve(import.meta.dirname, '..', 'dist', 'player'), emptyOutDir: true },
});

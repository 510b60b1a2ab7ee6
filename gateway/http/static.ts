import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built player (vite outDir): <root>/dist/player, whether we run from dist/ or from sources. */
export function playerDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = here.includes(`${'/'}dist${'/'}`) ? resolve(here, '..', '..', '..') : resolve(here, '..', '..');
  return resolve(root, 'dist', 'player');
}

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../gateway/core/errors.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('documentation', () => {
  const readme = readFileSync('README.md', 'utf8');

  it('starts with the two commands a newcomer needs', () => {
    const firstBlock = readme.slice(readme.indexOf('```'), readme.indexOf('```', readme.indexOf('```') + 3));
    expect(firstBlock).toContain('npm install && npm start');
    expect(firstBlock).toContain('npm test');
  });

  it('documents every error code the gateway can produce', () => {
    const used = new Set<string>(ERROR_CODES);
    for (const file of [...sources('gateway'), ...sources('transcode')]) {
      for (const m of readFileSync(file, 'utf8').matchAll(/'(SG_ERR_[A-Z0-9_]+)'/g)) used.add(m[1]!);
    }
    for (const code of used) expect(readme, `README lists ${code}`).toContain(`\`${code}\``);
  });

  it('has no console.* in the gateway (logs go through pino)', () => {
    for (const file of [...sources('gateway'), ...sources('transcode')]) {
      expect(readFileSync(file, 'utf8'), file).not.toMatch(/\bconsole\.(log|error|warn|info|debug)\(/);
    }
  });
});

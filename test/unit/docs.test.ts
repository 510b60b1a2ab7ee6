import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ERRORS } from '../../gateway/core/errors.js';

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

  /** The README's error tables (gateway and browser side): code -> [HTTP, RTSP, WS close] cells. */
  function errorTable(): Map<string, string[]> {
    const start = readme.indexOf('\n## Error codes\n');
    const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
    const rows = new Map<string, string[]>();
    for (const m of section.matchAll(/^\| `((?:SG_ERR|SG_PLAYER_ERR)_[A-Z0-9_]+)` \|(.*)\|$/gm)) {
      const cells = m[2]!.split(' | ').map((c) => c.trim());
      rows.set(m[1]!, cells.slice(1, 4));
    }
    return rows;
  }

  it('lists every error code of the source tree in the error table', () => {
    const used = new Set<string>(ERROR_CODES);
    for (const file of [...sources('gateway'), ...sources('transcode'), ...sources('player/src')]) {
      for (const m of readFileSync(file, 'utf8').matchAll(/\b((?:SG_ERR|SG_PLAYER_ERR)_[A-Z0-9_]+)\b/g)) used.add(m[1]!);
    }
    const table = errorTable();
    const missing = [...used].filter((code) => !table.has(code));
    expect(missing, 'codes missing from the README error table').toEqual([]);
    expect(used.size).toBeGreaterThanOrEqual(45);
  });

  it('gives each gateway code the HTTP, RTSP and close code of ERRORS ("—" where the protocol never answers it)', () => {
    const table = errorTable();
    for (const code of ERROR_CODES) {
      const row = ERRORS[code];
      const [http, rtsp, ws] = table.get(code) ?? [];
      expect(http, `${code} HTTP`).toBe(String(row.http));
      if (rtsp !== '—') expect(rtsp, `${code} RTSP`).toBe(String(row.rtsp));
      if (ws !== '—') expect(ws, `${code} WS close`).toBe(String(row.ws));
    }
  });

  it('has no console.* in the gateway (logs go through pino)', () => {
    for (const file of [...sources('gateway'), ...sources('transcode')]) {
      expect(readFileSync(file, 'utf8'), file).not.toMatch(/\bconsole\.(log|error|warn|info|debug)\(/);
    }
  });
});

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileWriter } from '../../../gateway/record/writer.js';

describe('FileWriter', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sg-writer-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('appends boxes in order and closes', async () => {
    const errors: Error[] = [];
    const w = new FileWriter(join(dir, 'a.mp4'), false, (e) => errors.push(e));
    w.append([Buffer.from('ab'), Buffer.from('c')], 3);
    w.append([Buffer.from('def')], 3);
    await w.close();
    expect(readFileSync(join(dir, 'a.mp4'), 'utf8')).toBe('abcdef');
    expect(w.goodBytes).toBe(6);
    expect(w.pendingBytes).toBe(0);
    expect(errors).toEqual([]);
  });

  it('a file that cannot be opened is reported once, and close() still resolves (it used to reject and end the process)', async () => {
    const errors: NodeJS.ErrnoException[] = [];
    const w = new FileWriter(join(dir, 'missing-dir', 'a.mp4'), false, (e) => errors.push(e));
    w.append([Buffer.from('init')], 4);
    w.append([Buffer.from('frag')], 4);
    await expect(w.close()).resolves.toBeUndefined();
    expect(errors.map((e) => e.code)).toEqual(['ENOENT']);
    expect(w.goodBytes).toBe(0);
    expect(w.pendingBytes).toBe(0);
  });
});

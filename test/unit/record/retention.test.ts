import { describe, expect, it } from 'vitest';
import { recordConfigSchema } from '../../../gateway/record/config.js';
import { parseId } from '../../../gateway/record/files.js';
import { filesToDelete } from '../../../gateway/record/retention.js';

const DAY = 86_400_000;
const now = Date.UTC(2025, 0, 10);
const f = (id: string, daysAgo: number, size: number, recording = false) => ({ id, start: now - daysAgo * DAY, end: now - daysAgo * DAY + 600_000, size, recording });

describe('retention', () => {
  const files = [f('c', 3, 100), f('a', 9, 100), f('b', 8, 100), f('d', 0, 100, true)];

  it('deletes files past the retention age, oldest first', () => {
    expect(filesToDelete(files, 7 * DAY, 0, now).map((x) => x.id)).toEqual(['a', 'b']);
  });

  it('deletes the oldest files until the path fits maxBytes', () => {
    expect(filesToDelete(files, 0, 250, now).map((x) => x.id)).toEqual(['a', 'b']);
    expect(filesToDelete(files, 0, 100, now).map((x) => x.id)).toEqual(['a', 'b', 'c']);
  });

  it('never deletes the file being written, and keeps everything with no limits', () => {
    expect(filesToDelete(files, 0, 1, now).map((x) => x.id)).not.toContain('d');
    expect(filesToDelete(files, 0, 0, now)).toEqual([]);
  });
});

describe('record config', () => {
  it('reads durations and sizes written for people', () => {
    const c = recordConfigSchema.parse({ segment: '10m', retention: '7d', diskQuota: '2GiB', rules: { 'cams/*': { segment: '30s', maxBytes: '500MB' } } });
    expect(c).toMatchObject({ segment: 600_000, retention: 7 * DAY, diskQuota: 2 * 1024 ** 3, rules: { 'cams/*': { segment: 30_000, maxBytes: 500_000_000 } } });
  });

  it('has a default for every field', () => {
    expect(recordConfigSchema.parse({})).toEqual({
      enabled: true,
      dir: 'recordings',
      segment: 600_000,
      retention: 7 * DAY,
      maxBytes: 0,
      rules: {},
      diskQuota: 0,
      minFreeBytes: 100 * 1024 * 1024,
      fsync: true,
      retentionCheckMs: 60_000,
    });
  });

  it.each([
    [{ segment: '10 minutes' }, 'expected a duration like 10s, 10m, 1h or 7d'],
    [{ segment: '500ms' }, 'record.segment must be at least 1s'],
    [{ rules: { 'cams/a b': {} } }, 'expected a path pattern'],
    [{ rules: { 'cams/*': { segmnt: '1m' } } }, 'Unrecognized key'],
  ])('refuses %j', (input, message) => {
    const r = recordConfigSchema.safeParse(input);
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error!.issues)).toContain(message);
  });

  it('maps recording ids back to path and start time', () => {
    expect(parseId('cams/gate/2025-03-01T08-00-00.000Z.mp4')).toEqual({ path: 'cams/gate', start: Date.UTC(2025, 2, 1, 8) });
    expect(parseId('cams/gate/2025-03-01T08-00-00.000Z-1.mp4')?.path).toBe('cams/gate');
    expect(parseId('../etc/2025-03-01T08-00-00.000Z.mp4')).toBeUndefined();
    expect(parseId('passwd')).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { contentDisposition, parseRange } from '../../../gateway/rooms/files.js';

describe('parseRange: one bytes range of a 1000-byte file (RFC 9110 §14.1.2)', () => {
  const cases: [string | undefined, ReturnType<typeof parseRange>][] = [
    [undefined, undefined],
    ['bytes=0-99', [0, 99]],
    ['bytes=100-', [100, 999]],
    ['bytes=-10', [990, 999]],
    ['bytes=-5000', [0, 999]],
    ['bytes=900-5000', [900, 999]],
    ['bytes=999-999', [999, 999]],
    ['bytes=1000-', 'unsatisfiable'],
    ['bytes=-0', 'unsatisfiable'],
    ['bytes=50-10', 'unsatisfiable'],
    // not one bytes range: the whole file
    ['bytes=0-1,5-6', undefined],
    ['items=0-1', undefined],
    ['bytes=-', undefined],
  ];
  for (const [header, expected] of cases) {
    it(`${header} -> ${JSON.stringify(expected)}`, () => {
      expect(parseRange(header, 1000)).toEqual(expected);
    });
  }
});

describe('contentDisposition (RFC 6266 §4.3)', () => {
  it.each([
    ['plan.pdf', `attachment; filename="plan.pdf"; filename*=UTF-8''plan.pdf`],
    ['site plan "v2".pdf', `attachment; filename="site plan _v2_.pdf"; filename*=UTF-8''site%20plan%20%22v2%22.pdf`],
    ['Überblick.txt', `attachment; filename="_berblick.txt"; filename*=UTF-8''%C3%9Cberblick.txt`],
  ])('%s', (name, header) => {
    expect(contentDisposition(name)).toBe(header);
  });
});

import { describe, expect, it } from 'vitest';
import { InvalidPathPatternError } from '../../../gateway/core/errors.js';
import { matchPathPattern, pathPatternProblem, validatePathPattern } from '../../../gateway/core/path.js';

describe('path patterns', () => {
  // [pattern, a path it matches (undefined: a literal path, matched by itself)]
  const good: [string, string | undefined][] = [
    ['**', 'live/cam1'],
    ['live/cam1', undefined],
    ['live/*', 'live/cam1'],
    ['*/cam1', 'live/cam1'],
    ['*/*', 'live/cam1'],
    ['cams/**', 'cams/site/gate1'],
    ['room/*/**', 'room/42/alice'],
    ['room/42/alice', undefined],
    ['a.b_c~d-e/x', undefined],
  ];
  for (const [pattern, example] of good) {
    it(`accepts ${pattern} and matches ${example ?? pattern}`, () => {
      expect(pathPatternProblem(pattern)).toBeUndefined();
      expect(validatePathPattern(pattern)).toBe(pattern);
      expect(matchPathPattern(pattern, example ?? pattern)).toBe(true);
    });
  }

  const bad: [string, string][] = [
    ['live/cam*', 'component "cam*" uses * inside a name (* and ** stand for whole components)'],
    ['*cam/x', 'component "*cam" uses * inside a name (* and ** stand for whole components)'],
    ['live/***', 'component "***" uses * inside a name (* and ** stand for whole components)'],
    ['**/cam1', '** may only be the last component'],
    ['live/**/x', '** may only be the last component'],
    ['live', 'a single component matches no stream path'],
    ['*', 'a single component matches no stream path'],
    ['', 'a single component matches no stream path'],
    ['live/', 'component "" is not a valid name'],
    ['/live/x', 'component "" is not a valid name'],
    ['live//x', 'component "" is not a valid name'],
    ['live/../x', 'component ".." is not a valid name'],
    ['live/./x', 'component "." is not a valid name'],
    ['live/cam 1', 'component "cam 1" is not a valid name'],
    ['live/cam?', 'component "cam?" is not a valid name'],
    [`live/${'a'.repeat(600)}`, 'longer than 512 characters'],
  ];
  for (const [pattern, why] of bad) {
    it(`refuses ${JSON.stringify(pattern.slice(0, 20))}: ${why}`, () => {
      const problem = pathPatternProblem(pattern);
      expect(problem).toContain(why);
      expect(problem).toContain('allowed: components of [A-Za-z0-9._~-], * for exactly one component, ** for any trailing components (last only)');
    });
  }

  it('names the bad pattern and throws an SG_ERR_INVALID_PATH error for it', () => {
    const thrown = (() => {
      try {
        validatePathPattern('live/cam*');
      } catch (error) {
        return error;
      }
    })();
    expect(thrown).toBeInstanceOf(InvalidPathPatternError);
    expect(thrown).toMatchObject({ code: 'SG_ERR_INVALID_PATH', pattern: 'live/cam*' });
    expect((thrown as Error).message).toMatch(/^invalid path pattern "live\/cam\*": component "cam\*" uses \* inside a name \(\* and \*\* stand for whole components\); allowed: /);
  });

  it('refuses the patterns matchPathPattern reads differently from how they look', () => {
    // live/cam* matches no path, so a rule using it is skipped and live/cam1 stays open;
    // **/cam1 matches every path, not only the ones ending in cam1.
    expect(matchPathPattern('live/cam*', 'live/cam1')).toBe(false);
    expect(matchPathPattern('**/cam1', 'live/other')).toBe(true);
    expect(pathPatternProblem('live/cam*')).toBeDefined();
    expect(pathPatternProblem('**/cam1')).toBeDefined();
  });
});

import { InvalidPathError, InvalidPathPatternError } from './errors.js';

/** One path component: characters an operator can type in a URL without escaping. */
const COMPONENT = /^[A-Za-z0-9._~-]{1,128}$/;

/**
 * Validates an `{app}/{name}` stream path (more components are allowed for rooms,
 * e.g. `room/42/alice`). Rejects `..`, empty components and anything outside [A-Za-z0-9._~-].
 */
export function validatePath(path: string): string {
  if (path.length > 512) throw new InvalidPathError(path);
  const parts = path.split('/');
  if (parts.length < 2) throw new InvalidPathError(path);
  for (const part of parts) {
    if (!COMPONENT.test(part) || part === '..' || part === '.') throw new InvalidPathError(path);
  }
  return path;
}

export function isValidPath(path: string): boolean {
  try {
    validatePath(path);
    return true;
  } catch {
    return false;
  }
}

/** What a path pattern may contain, for error messages. */
const PATTERN_FORMS = 'allowed: components of [A-Za-z0-9._~-], * for exactly one component, ** for any trailing components (last only), e.g. live/cam1, live/*, cams/** or **';

/**
 * Why `pattern` is not a pattern matchPathPattern can match (`"live/cam*": component "cam*" uses *
 * inside a name ...; allowed: ...`), or undefined when it is one.
 * Anything matchPathPattern does not understand (`live/cam*`, `**` before the last component, a
 * single `live`) would silently match no path, and an access rule that matches nothing leaves its
 * paths open.
 */
export function pathPatternProblem(pattern: string): string | undefined {
  const quoted = JSON.stringify(pattern.slice(0, 200));
  const bad = (why: string) => `${quoted}: ${why}; ${PATTERN_FORMS}`;
  if (pattern === '**') return undefined;
  if (pattern.length > 512) return bad('longer than 512 characters');
  const parts = pattern.split('/');
  if (parts.length < 2) return bad('a single component matches no stream path (paths are {app}/{name})');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === '*') continue;
    if (part === '**') {
      if (i === parts.length - 1) continue;
      return bad('** may only be the last component');
    }
    if (part.includes('*')) return bad(`component ${JSON.stringify(part.slice(0, 130))} uses * inside a name (* and ** stand for whole components)`);
    if (!COMPONENT.test(part) || part === '..' || part === '.') return bad(`component ${JSON.stringify(part.slice(0, 130))} is not a valid name`);
  }
  return undefined;
}

/** Validates a pattern for matchPathPattern: a stream path, or one with `*` components and a trailing `**`. */
export function validatePathPattern(pattern: string): string {
  const problem = pathPatternProblem(pattern);
  if (problem) throw new InvalidPathPatternError(pattern, problem);
  return pattern;
}

/** Glob match with `*` for one component and `**` for any number of trailing components. */
export function matchPathPattern(pattern: string, path: string): boolean {
  if (pattern === '**' || pattern === path) return true;
  const p = pattern.split('/');
  const s = path.split('/');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '**') return true;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

/** Splits `name?a=1&b=2` into the name and its query (the stream key carries credentials). */
export function splitQuery(value: string): { name: string; query: Record<string, string> } {
  const q = value.indexOf('?');
  if (q < 0) return { name: value, query: {} };
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(value.slice(q + 1))) query[k] = v;
  return { name: value.slice(0, q), query };
}

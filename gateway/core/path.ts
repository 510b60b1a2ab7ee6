import { InvalidPathError } from './errors.js';

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

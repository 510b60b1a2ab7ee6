/**
 * Signed access tokens: `v1.{kid}.{action}.{pattern}.{exp}.{sig}` where pattern is base64url,
 * exp is Unix seconds and sig = base64url(HMAC-SHA256(key[kid], "v1\n{action}\n{pattern}\n{exp}")).
 * The key id lets keys rotate: old tokens verify while their key is still configured.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { matchPathPattern } from '../core/path.js';

export type Action = 'publish' | 'play' | 'admin' | 'room';
export const ACTIONS: readonly Action[] = ['publish', 'play', 'admin', 'room'];

export interface TokenClaims {
  readonly kid: string;
  readonly action: Action;
  readonly pattern: string;
  readonly exp: number;
}

function b64url(buf: Buffer | string): string {
  return Buffer.from(buf).toString('base64url');
}

function sign(key: string, action: string, pattern: string, exp: number): Buffer {
  return createHmac('sha256', key).update(`v1\n${action}\n${pattern}\n${exp}`).digest();
}

export function createToken(keys: Readonly<Record<string, string>>, kid: string, action: Action, pattern: string, ttlSeconds: number, now = Date.now()): string {
  const key = keys[kid];
  if (!key) throw new Error(`no signing key with id ${kid}; configure auth.keys.${kid}`);
  const exp = Math.floor(now / 1000) + Math.max(1, Math.floor(ttlSeconds));
  return ['v1', kid, action, b64url(pattern), String(exp), b64url(sign(key, action, pattern, exp))].join('.');
}

export type TokenVerdict = { ok: true; claims: TokenClaims } | { ok: false; reason: string };

/**
 * Checks a token for `action` on `path`: signature (constant-time), expiry, action and path.
 * An admin token allows every action; a publish token also allows play and room on its paths;
 * a play token also allows joining the room.
 */
export function verifyToken(keys: Readonly<Record<string, string>>, token: string, action: Action, path: string, now = Date.now()): TokenVerdict {
  const parts = token.split('.');
  if (parts.length !== 6 || parts[0] !== 'v1') return { ok: false, reason: 'malformed token' };
  const [, kid, claimed, patternB64, expText, sigB64] = parts as [string, string, string, string, string, string];
  const key = keys[kid];
  if (!key) return { ok: false, reason: `unknown key id ${kid.slice(0, 32)}` };
  if (!(ACTIONS as readonly string[]).includes(claimed)) return { ok: false, reason: 'malformed token' };
  const exp = Number(expText);
  if (!Number.isInteger(exp)) return { ok: false, reason: 'malformed token' };
  const pattern = Buffer.from(patternB64, 'base64url').toString('utf8');
  const expected = sign(key, claimed, pattern, exp);
  const given = Buffer.from(sigB64, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad signature' };
  if (exp * 1000 <= now) return { ok: false, reason: 'token expired' };
  // admin allows everything; a publisher may also watch and host its room; a viewer may join the room's chat.
  const grants =
    claimed === 'admin' || claimed === action || (claimed === 'publish' && (action === 'play' || action === 'room')) || (claimed === 'play' && action === 'room');
  if (!grants) return { ok: false, reason: `token is for ${claimed}, not ${action}` };
  if (action !== 'admin' && !matchPathPattern(pattern, path)) return { ok: false, reason: `token is for ${pattern}, not ${path}` };
  return { ok: true, claims: { kid, action: claimed as Action, pattern, exp } };
}

/** Constant-time string equality (for static keys). */
export function safeEqual(a: string, b: string): boolean {
  const x = createHmac('sha256', 'streamgate').update(a).digest();
  const y = createHmac('sha256', 'streamgate').update(b).digest();
  return timingSafeEqual(x, y);
}

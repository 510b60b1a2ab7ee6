/** scrypt password hashes for auth.admin.users (`streamgate hash-password`). */
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { SCRYPT_HASH } from './config.js';

/**
 * `salt:hash` for auth.admin.users[].scrypt: a random 16-byte salt and a 32-byte scrypt hash, in
 * hex (the salt's hex text is what scrypt is given, as checkPassword does).
 */
export function hashPassword(password: string, salt = randomBytes(16).toString('hex')): string {
  if (!/^[0-9a-f]{32}$/.test(salt)) throw new Error('a password salt is 32 lowercase hex digits');
  return `${salt}:${scryptSync(password, salt, 32).toString('hex')}`;
}

/** False for a stored value not in hashPassword's format: a short hash would match any password. */
export function checkPassword(password: string, stored: string): boolean {
  if (!SCRYPT_HASH.test(stored)) return false;
  const [salt, hash] = stored.split(':') as [string, string];
  const expected = Buffer.from(hash, 'hex');
  const got = scryptSync(password, salt, expected.length);
  return timingSafeEqual(got, expected);
}

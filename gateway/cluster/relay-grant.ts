/**
 * Relay grants: how one node admits another node's pull without the reader's token. The puller
 * adds `sg_relay={expiry}.{HMAC-SHA256(secret, "{path}|{expiry}")}` to the pull URL; the origin
 * checks it with the same `cluster.relaySecret`. Bound to one path and valid for a minute, so a
 * logged URL gives nobody a lasting key.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const RELAY_QUERY = 'sg_relay';
const VALID_MS = 60_000;

function mac(secret: string, path: string, expiry: number): string {
  return createHmac('sha256', secret).update(`${path}|${expiry}`).digest('base64url');
}

export function signRelay(secret: string, path: string, now = Date.now()): string {
  const expiry = now + VALID_MS;
  return `${expiry}.${mac(secret, path, expiry)}`;
}

export function verifyRelay(secret: string, path: string, grant: string, now = Date.now()): boolean {
  if (!secret) return false;
  const dot = grant.indexOf('.');
  const expiry = Number(grant.slice(0, dot));
  if (dot < 1 || !Number.isSafeInteger(expiry) || expiry < now || expiry > now + 2 * VALID_MS) return false;
  const given = Buffer.from(grant.slice(dot + 1));
  const wanted = Buffer.from(mac(secret, path, expiry));
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

import { z } from 'zod';
import { pathPatternSchema as pattern } from '../schemas.js';
/** Exactly what hashPassword (npx streamgate hash-password) writes: a 16-byte salt and a 32-byte scrypt hash, in hex. */
export const SCRYPT_HASH = /^[0-9a-f]{32}:[0-9a-f]{64}$/;
const cidr = z.string().regex(/^[0-9a-fA-F:.]+(\/\d{1,3})?$/, 'expected an IP address or CIDR like 10.0.0.0/8');
/** A secret: the value itself, or `env:NAME` to read it from the environment at start. */
const secret = z.string().min(1);

const ipList = z.strictObject({ allow: z.array(cidr).default([]), deny: z.array(cidr).default([]) }).prefault({});

export const authRuleSchema = z.strictObject({
  /** Path pattern this rule covers; the first matching rule decides. */
  paths: pattern,
  /** open: anyone; keys: static publish/play keys; token: signed tokens; hook: ask an HTTP service. */
  mode: z.enum(['open', 'keys', 'token', 'hook']),
  /** mode keys: the `?token=` value (or RTSP password) that allows publishing. */
  publishKey: secret.optional(),
  /** mode keys: the value that allows playing; absent means play is open on these paths. */
  playKey: secret.optional(),
  /** mode token: also require a token to play (default true); false leaves play open. */
  protectPlay: z.boolean().default(true),
});

export const authConfigSchema = z.strictObject({
  /** Access rules by path pattern, first match wins. No match means open. */
  rules: z.array(authRuleSchema).default([]),
  /** Token signing keys by key id (`env:NAME` reads the environment). New tokens use activeKeyId. */
  keys: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,32}$/), secret).default({}),
  activeKeyId: z.string().default('k1'),
  /** HTTP hooks (mode hook, and notifications): URLs that receive a JSON POST. */
  hooks: z
    .strictObject({
      onPublish: z.string().url().optional(),
      onPlay: z.string().url().optional(),
      onUnpublish: z.string().url().optional(),
      onStop: z.string().url().optional(),
      onRoomJoin: z.string().url().optional(),
      timeoutMs: z.number().int().min(100).max(60000).default(2000),
    })
    .prefault({}),
  /** Admin API and console credentials. Without any, mutating API calls are allowed from loopback only. */
  admin: z
    .strictObject({
      /** Bearer tokens with their role: admin (everything) or read (GET only). */
      tokens: z.array(z.strictObject({ token: secret, role: z.enum(['admin', 'read']) })).default([]),
      /** Users for HTTP Basic auth; `scrypt` is `salt:hash` in hex (npx streamgate hash-password). */
      users: z.array(z.strictObject({ name: z.string().min(1), scrypt: z.string().regex(SCRYPT_HASH, 'expected salt:hash as printed by npx streamgate hash-password (32 + 64 hex digits)'), role: z.enum(['admin', 'read']) })).default([]),
      /** With credentials configured: false requires a read or admin credential for GET too. */
      publicReads: z.boolean().default(true),
    })
    .prefault({}),
  /** IP allow/deny lists per action; deny wins; an empty allow list allows everyone not denied. */
  ip: z
    .strictObject({ publish: ipList, play: ipList, admin: ipList })
    .prefault({}),
  /** Connection limits across RTMP, RTSP and HTTP (0 = no limit). */
  limits: z
    .strictObject({
      maxConnections: z.number().int().min(0).default(0),
      maxConnectionsPerIp: z.number().int().min(0).default(0),
      maxReadersPerPath: z.number().int().min(0).default(0),
    })
    .prefault({}),
});

export type AuthConfig = z.infer<typeof authConfigSchema>;
export type AuthRule = z.infer<typeof authRuleSchema>;

import type { Request, Response } from 'express';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { clientIp, plainIp } from '../../../gateway/auth/address.js';
import { Authorizer } from '../../../gateway/auth/authorizer.js';
import { ForbiddenError } from '../../../gateway/auth/errors.js';
import { ConnectionLimiter } from '../../../gateway/auth/limiter.js';
import { adminMiddleware } from '../../../gateway/auth/middleware.js';
import { checkPassword, hashPassword } from '../../../gateway/auth/passwords.js';
import { hashPasswordCommand } from '../../../gateway/cli.js';
import { authConfigSchema, SCRYPT_HASH } from '../../../gateway/auth/config.js';

const log = pino({ level: 'silent' });
const authorizer = (config: unknown) => new Authorizer(authConfigSchema.parse(config), log);

describe('client addresses', () => {
  // What protocols pass: `${socket.remoteAddress}:${socket.remotePort}`, or `[v6]:port`.
  const withPort: [string, string][] = [
    ['127.0.0.1:5000', '127.0.0.1'],
    ['10.0.0.1', '10.0.0.1'],
    ['::1:4000', '::1'],
    ['::1:51234', '::1'],
    ['2001:db8::1:2:51234', '2001:db8::1:2'],
    ['2001:db8:1:2:3:4:5:6:443', '2001:db8:1:2:3:4:5:6'],
    ['[2001:db8::1:2]:51234', '2001:db8::1:2'],
    ['[::1]:80', '::1'],
    ['::ffff:10.1.2.3:80', '10.1.2.3'],
    ['[::ffff:10.1.2.3]:80', '10.1.2.3'],
    ['internal', 'internal'],
  ];
  for (const [address, ip] of withPort) {
    it(`clientIp(${address}) is ${ip}`, () => expect(clientIp(address)).toBe(ip));
  }

  // What a socket reports as remoteAddress: no port, so nothing is cut.
  const bare: [string, string][] = [
    ['127.0.0.1', '127.0.0.1'],
    ['::1', '::1'],
    ['2001:db8::1:2', '2001:db8::1:2'],
    ['2001:db8::1', '2001:db8::1'],
    ['fe80::1:4000', 'fe80::1:4000'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['::ffff:7f00:1', '::ffff:7f00:1'],
  ];
  for (const [address, ip] of bare) {
    it(`plainIp(${address}) is ${ip}`, () => expect(plainIp(address)).toBe(ip));
  }

  it('counts connections per IPv6 client, not per /112', () => {
    const limiter = new ConnectionLimiter(() => authConfigSchema.parse({ limits: { maxConnectionsPerIp: 1 } }).limits, log);
    expect(limiter.acquire('2001:db8::1:2:51234', 'rtmp')).toBeDefined();
    expect(limiter.acquire('2001:db8::1:2:51235', 'rtmp')).toBeUndefined();
    expect(limiter.acquire('2001:db8::1:3:51236', 'rtmp')).toBeDefined();
  });

  it('applies play deny lists to IPv6 clients given as address:port', async () => {
    const auth = authorizer({ ip: { play: { deny: ['2001:db8::1:2'] } } });
    const req = { action: 'play', path: 'live/cam1', protocol: 'flv', query: {} } as const;
    await expect(auth.check({ ...req, remoteAddress: '2001:db8::1:2:51234' })).rejects.toThrow(new ForbiddenError('address 2001:db8::1:2 may not play'));
    await expect(auth.check({ ...req, remoteAddress: '2001:db8::1:3:51234' })).resolves.toEqual({ role: 'viewer', via: 'open', open: true });
  });
});

describe('admin passwords', () => {
  it('hashes with a random 16-byte salt into exactly the configured format', () => {
    const a = hashPassword('s3cret');
    const b = hashPassword('s3cret');
    expect(a).toMatch(SCRYPT_HASH);
    expect(b).toMatch(SCRYPT_HASH);
    expect(a.split(':')[0]).not.toBe(b.split(':')[0]);
    expect(checkPassword('s3cret', a)).toBe(true);
    expect(checkPassword('s3cret', b)).toBe(true);
    expect(checkPassword('S3cret', a)).toBe(false);
  });

  it('keeps verifying a hash made with a given salt', () => {
    const salt = '0123456789abcdef0123456789abcdef';
    expect(hashPassword('pw', salt)).toBe(hashPassword('pw', salt));
    expect(checkPassword('pw', hashPassword('pw', salt))).toBe(true);
    expect(() => hashPassword('pw', 'short')).toThrow('32 lowercase hex digits');
  });

  it('refuses every password against a stored hash of the wrong length', () => {
    const good = hashPassword('pw');
    for (const stored of ['ab:c', 'ab:', `${good.split(':')[0]}:`, good.slice(0, -2), `${good}00`, good.slice(2), good.toUpperCase()]) {
      expect(checkPassword('pw', stored), stored).toBe(false);
      expect(checkPassword('', stored), stored).toBe(false);
    }
  });

  it('refuses a config whose scrypt hash is not what hash-password prints', () => {
    const result = authConfigSchema.safeParse({ admin: { users: [{ name: 'ops', scrypt: 'ab:c', role: 'admin' }] } });
    expect(result.success).toBe(false);
    expect(result.error!.issues[0]!.message).toBe('expected salt:hash as printed by npx streamgate hash-password (32 + 64 hex digits)');
  });

  it('accepts what hash-password prints, and that user logs in with HTTP Basic', () => {
    const lines: string[] = [];
    hashPasswordCommand(['correct horse'], (l) => lines.push(l));
    expect(lines).toHaveLength(1);
    const auth = authorizer({ admin: { users: [{ name: 'ops', scrypt: lines[0], role: 'admin' }] } });
    const basic = (user: string, password: string) => ({ headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` }, query: {} }) as unknown as Request;
    expect(auth.adminRole(basic('ops', 'correct horse'))).toBe('admin');
    expect(auth.adminRole(basic('ops', 'wrong'))).toBe('invalid');
    expect(auth.adminRole(basic('nobody', 'correct horse'))).toBe('invalid');
  });
});

describe('admin API middleware', () => {
  const ADMIN = 'admin-token';
  const READER = 'read-token';
  const tokens = [{ token: ADMIN, role: 'admin' }, { token: READER, role: 'read' }];

  /** Runs the middleware once: 'next' when it lets the request through, else the status it answered. */
  function call(auth: Authorizer, opts: { method?: string; address?: string; bearer?: string; basic?: string } = {}): 'next' | number {
    const headers: Record<string, string> = {};
    if (opts.bearer) headers.authorization = `Bearer ${opts.bearer}`;
    if (opts.basic) headers.authorization = `Basic ${Buffer.from(opts.basic).toString('base64')}`;
    const req = { method: opts.method ?? 'GET', headers, query: {}, path: '/api/v1/streams', socket: { remoteAddress: opts.address ?? '127.0.0.1', remotePort: 50000 } } as unknown as Request;
    let status = 0;
    const res = {
      setHeader: () => res,
      status: (s: number) => ((status = s), res),
      json: () => res,
    } as unknown as Response;
    let passed = false;
    adminMiddleware(auth, log)(req, res, () => (passed = true));
    return passed ? 'next' : status;
  }

  // [name, auth config, request, expected]
  const cases: [string, unknown, Parameters<typeof call>[1], 'next' | number][] = [
    ['unprotected: anyone reads', {}, { address: '10.0.0.5' }, 'next'],
    ['unprotected: a player token on a read is ignored', {}, { address: '10.0.0.5', bearer: 'play-token' }, 'next'],
    ['unprotected: loopback changes', {}, { method: 'POST' }, 'next'],
    ['unprotected: IPv6 loopback changes', {}, { method: 'POST', address: '::1' }, 'next'],
    ['unprotected: IPv4-mapped loopback changes', {}, { method: 'POST', address: '::ffff:127.0.0.1' }, 'next'],
    ['unprotected: others may not change', {}, { method: 'POST', address: '10.0.0.5' }, 403],
    ['unprotected: a bad credential may not change', {}, { method: 'POST', bearer: 'nope' }, 403],
    ['public reads: no credential reads', { admin: { tokens } }, {}, 'next'],
    ['public reads: a bad credential still reads', { admin: { tokens } }, { bearer: 'nope' }, 'next'],
    ['public reads: no credential may not change', { admin: { tokens } }, { method: 'POST' }, 401],
    ['public reads: a bad credential may not change', { admin: { tokens } }, { method: 'POST', bearer: 'nope' }, 403],
    ['public reads: a read token may not change', { admin: { tokens } }, { method: 'POST', bearer: READER }, 403],
    ['public reads: an admin token changes', { admin: { tokens } }, { method: 'POST', bearer: ADMIN }, 'next'],
    ['private reads: no credential may not read', { admin: { tokens, publicReads: false } }, {}, 401],
    ['private reads: a bad credential may not read', { admin: { tokens, publicReads: false } }, { bearer: 'nope' }, 403],
    ['private reads: a read token reads', { admin: { tokens, publicReads: false } }, { method: 'HEAD', bearer: READER }, 'next'],
    ['private reads: an admin token reads', { admin: { tokens, publicReads: false } }, { bearer: ADMIN }, 'next'],
    ['IPv6 client on the admin allow list', { ip: { admin: { allow: ['2001:db8::1:2'] } } }, { address: '2001:db8::1:2' }, 'next'],
    ['IPv6 client off the admin allow list', { ip: { admin: { allow: ['2001:db8::1:2'] } } }, { address: '2001:db8::1' }, 403],
    ['IPv6 client on the admin deny list', { ip: { admin: { deny: ['2001:db8::1:2'] } } }, { address: '2001:db8::1:2' }, 403],
    ['IPv4-mapped client on the admin deny list', { ip: { admin: { deny: ['10.1.2.3'] } } }, { address: '::ffff:10.1.2.3' }, 403],
  ];
  for (const [name, config, request, expected] of cases) {
    it(name, () => expect(call(authorizer(config), request)).toBe(expected));
  }

  it('does not check the credential of a read that is public anyway (no scrypt per request)', () => {
    const auth = authorizer({ admin: { users: [{ name: 'ops', scrypt: hashPassword('pw'), role: 'admin' }] } });
    const adminRole = vi.spyOn(auth, 'adminRole');
    expect(call(auth, { basic: 'ops:wrong' })).toBe('next');
    expect(call(auth, { basic: 'ops:pw' })).toBe('next');
    expect(adminRole).not.toHaveBeenCalled();
    expect(call(auth, { method: 'POST', basic: 'ops:wrong' })).toBe(403);
    expect(call(auth, { method: 'POST', basic: 'ops:pw' })).toBe('next');
    expect(adminRole).toHaveBeenCalledTimes(2);
  });

  it('checks HTTP Basic on reads when reads are private', () => {
    const auth = authorizer({ admin: { users: [{ name: 'ops', scrypt: hashPassword('pw'), role: 'read' }], publicReads: false } });
    expect(call(auth, { basic: 'ops:wrong' })).toBe(403);
    expect(call(auth, { basic: 'ops:pw' })).toBe('next');
    expect(call(auth, { method: 'DELETE', basic: 'ops:pw' })).toBe(403);
  });
});

/**
 * Who may publish, play, join rooms and administer: one decision point for every protocol.
 * Protocols call `check()` with what they know (path, client address, query, credential) and map
 * a refusal to their own error (RTMP BadName, RTSP 401/403, HTTP 401/403, WS close 4401/4403).
 */
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { ConfigError, StreamgateError } from '../core/errors.js';
import { matchPathPattern, splitQuery } from '../core/path.js';
import { type AuthConfig, type AuthRule, SCRYPT_HASH } from './config.js';
import { type Action, safeEqual, verifyToken } from './tokens.js';
import { peerAddress } from '../net/listen.js';
import { sendError } from '../http/errors.js';

/** No credential where one is required (HTTP/RTSP 401, WS close 4401). */
export class UnauthorizedError extends StreamgateError {
  constructor(message: string) {
    super('SG_ERR_UNAUTHORIZED', message);
  }
}

/** A wrong or insufficient credential, or an address that is not allowed (HTTP/RTSP 403, WS close 4403). */
export class ForbiddenError extends StreamgateError {
  constructor(message: string) {
    super('SG_ERR_FORBIDDEN', message);
  }
}

export interface AccessRequest {
  readonly action: Exclude<Action, 'admin'>;
  readonly path: string;
  /** rtmp, rtsp, flv, ws-flv, hls, room... */
  readonly protocol: string;
  /** peerAddress(socket) of the client (see clientIp). */
  readonly remoteAddress: string;
  readonly query: Readonly<Record<string, string>>;
  /** A credential given outside the query (RTSP Basic/Digest password, Authorization header). */
  readonly credential?: string;
}

export interface AccessGrant {
  /** For rooms: host when the credential allows publishing (or admin), else viewer. */
  readonly role: 'host' | 'viewer';
  /** How the decision was made, for logs. */
  readonly via: string;
}

/** True for refusals the Authorizer already logged and counted. */
export function isAccessRefusal(error: unknown): boolean {
  return error instanceof UnauthorizedError || error instanceof ForbiddenError;
}

/**
 * The client IP of an address as a socket reports it, without a port (`req.socket.remoteAddress`):
 * `::ffff:10.1.2.3` (IPv4 on a dual-stack listener) becomes `10.1.2.3`, anything else is kept.
 */
export function plainIp(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/**
 * The client IP of an `address:port` string: what every protocol builds as
 * peerAddress(socket) (`10.0.0.5:51234`, `::1:51234`,
 * `::ffff:10.0.0.5:51234`), or `[v6]:port`. An address with no colon (`10.0.0.5`, `internal`) is
 * kept. The last `:digits` is always the port here, so a bare IPv6 address (`2001:db8::1:2`) would
 * lose its last group: give those to plainIp.
 */
export function clientIp(remoteAddress: string): string {
  const bracket = /^\[(.*)\]:\d{1,5}$/.exec(remoteAddress);
  if (bracket) return plainIp(bracket[1]!);
  const m = /^(.*):(\d{1,5})$/.exec(remoteAddress);
  if (m && (isIPv4(m[1]!) || isIPv6(m[1]!))) return plainIp(m[1]!);
  return plainIp(remoteAddress);
}

export function isLoopback(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.');
}

function blockList(entries: readonly string[]): BlockList | undefined {
  if (entries.length === 0) return undefined;
  const list = new BlockList();
  for (const entry of entries) {
    const [addr, bits] = entry.split('/') as [string, string | undefined];
    const type = isIPv6(addr) ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}

function inList(list: BlockList | undefined, ip: string): boolean {
  if (!list) return false;
  return list.check(ip, isIPv6(ip) ? 'ipv6' : 'ipv4');
}

/** Resolves `env:NAME` secrets; throws a clear error when the variable is missing. */
export function resolveSecret(value: string, env: NodeJS.ProcessEnv, where: string): string {
  if (!value.startsWith('env:')) return value;
  const name = value.slice(4);
  const v = env[name];
  if (!v) throw new ConfigError(`${where} reads ${name} from the environment, but ${name} is not set`);
  return v;
}

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

type Refused = (protocol: string, reason: string) => void;

export class Authorizer {
  private keys: Record<string, string> = {};
  private adminTokens: { token: string; role: 'admin' | 'read' }[] = [];
  private ipLists!: Record<'publish' | 'play' | 'admin', { allow?: BlockList; deny?: BlockList }>;
  private resolvedRules: AuthRule[] = [];
  private readonly connections = new Map<string, number>();
  private totalConnections = 0;

  constructor(
    public config: AuthConfig,
    private readonly log: Logger,
    private readonly refused: Refused = () => {},
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.reload(config);
  }

  /**
   * Applies a new auth config (SIGHUP): rules, keys, admin credentials, IP lists, hooks and limits
   * decide every later request; open connections keep their counts. A bad config (an `env:` secret
   * that is not set, token rules without a key) throws and leaves the current one in force.
   */
  reload(config: AuthConfig): void {
    const env = this.env;
    const keys: Record<string, string> = {};
    for (const [kid, value] of Object.entries(config.keys)) keys[kid] = resolveSecret(value, env, `auth.keys.${kid}`);
    const adminTokens = config.admin.tokens.map((t, i) => ({ token: resolveSecret(t.token, env, `auth.admin.tokens.${i}`), role: t.role }));
    const resolvedRules = config.rules.map((r, i) => ({
      ...r,
      publishKey: r.publishKey && resolveSecret(r.publishKey, env, `auth.rules.${i}.publishKey`),
      playKey: r.playKey && resolveSecret(r.playKey, env, `auth.rules.${i}.playKey`),
    }));
    const lists = (k: 'publish' | 'play' | 'admin') => ({ allow: blockList(config.ip[k].allow), deny: blockList(config.ip[k].deny) });
    const ipLists = { publish: lists('publish'), play: lists('play'), admin: lists('admin') };
    if (config.rules.some((r) => r.mode === 'token') && Object.keys(keys).length === 0) {
      throw new ConfigError('auth.rules use mode token but auth.keys has no signing key');
    }
    this.config = config;
    this.keys = keys;
    this.adminTokens = adminTokens;
    this.resolvedRules = resolvedRules;
    this.ipLists = ipLists;
  }

  get signingKeys(): Readonly<Record<string, string>> {
    return this.keys;
  }

  /** True when any admin credential is configured. */
  get adminProtected(): boolean {
    return this.adminTokens.length > 0 || this.config.admin.users.length > 0 || Object.keys(this.keys).length > 0;
  }

  ruleFor(path: string): AuthRule | undefined {
    return this.resolvedRules.find((r) => matchPathPattern(r.paths, path));
  }

  private ipAllowed(action: 'publish' | 'play' | 'admin', ip: string): boolean {
    const l = this.ipLists[action];
    if (inList(l.deny, ip)) return false;
    if (l.allow && !inList(l.allow, ip)) return false;
    return true;
  }

  /** Decides; throws UnauthorizedError (no credential) or ForbiddenError (wrong credential or not allowed). */
  async check(req: AccessRequest): Promise<AccessGrant> {
    try {
      const grant = await this.decide(req);
      return grant;
    } catch (error) {
      if (error instanceof StreamgateError) {
        this.refused(req.protocol, error.code);
        this.log.warn({ conn: req.remoteAddress, path: req.path, action: req.action, protocol: req.protocol, code: error.code }, `refused ${req.action} of ${req.path} by ${req.remoteAddress} over ${req.protocol}: ${error.message}`);
      }
      throw error;
    }
  }

  private async decide(req: AccessRequest): Promise<AccessGrant> {
    const ip = clientIp(req.remoteAddress);
    const ipAction = req.action === 'publish' ? 'publish' : 'play';
    if (!this.ipAllowed(ipAction, ip)) throw new ForbiddenError(`address ${ip} may not ${ipAction}`);
    const credential = req.credential ?? req.query.token;
    const rule = this.ruleFor(req.path);
    if (!rule || rule.mode === 'open') return { role: 'viewer', via: 'open' };
    if (rule.mode === 'keys') {
      if (req.action === 'publish') {
        if (!rule.publishKey) return { role: 'host', via: 'keys (publish open)' };
        return this.matchKey(credential, rule.publishKey, 'publish', 'host');
      }
      // play and room: the publish key works too; a room member with it is a host
      if (credential && rule.publishKey && safeEqual(credential, rule.publishKey)) return { role: 'host', via: 'publish key' };
      if (!rule.playKey) return { role: 'viewer', via: 'keys (play open)' };
      return this.matchKey(credential, rule.playKey, 'play', 'viewer');
    }
    if (rule.mode === 'token') {
      if (!credential) {
        if (req.action !== 'publish' && !rule.protectPlay) return { role: 'viewer', via: 'token (play open)' };
        throw new UnauthorizedError(`a token is required to ${req.action} ${req.path}; add ?token=...`);
      }
      const verdict = verifyToken(this.keys, credential, req.action, req.path);
      if (!verdict.ok) {
        if (req.action !== 'publish' && !rule.protectPlay) return { role: 'viewer', via: 'token (play open)' };
        throw new ForbiddenError(verdict.reason);
      }
      const host = verdict.claims.action === 'publish' || verdict.claims.action === 'admin';
      return { role: host ? 'host' : 'viewer', via: `token ${verdict.claims.kid}` };
    }
    return this.askHook(req, ip, credential);
  }

  private matchKey(credential: string | undefined, key: string, action: string, role: 'host' | 'viewer'): AccessGrant {
    if (!credential) throw new UnauthorizedError(`a key is required to ${action}; add ?token=...`);
    if (!safeEqual(credential, key)) throw new ForbiddenError(`wrong ${action} key`);
    return { role, via: `${action} key` };
  }

  private async askHook(req: AccessRequest, ip: string, credential: string | undefined): Promise<AccessGrant> {
    const hooks = this.config.hooks;
    const url = req.action === 'publish' ? hooks.onPublish : req.action === 'room' ? hooks.onRoomJoin : hooks.onPlay;
    if (!url) throw new ForbiddenError(`mode hook needs auth.hooks.${req.action === 'publish' ? 'onPublish' : req.action === 'room' ? 'onRoomJoin' : 'onPlay'}`);
    const event = req.action === 'publish' ? 'on_publish' : req.action === 'room' ? 'on_room_join' : 'on_play';
    let res: globalThis.Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(this.hookBody(event, req, ip, credential)),
        signal: AbortSignal.timeout(hooks.timeoutMs),
      });
    } catch (error) {
      const reason = (error as Error).name === 'TimeoutError' ? `timed out after ${hooks.timeoutMs} ms` : `unreachable (${(error as Error).message})`;
      throw new ForbiddenError(`${event} hook ${reason}`);
    }
    const text = await res.text().catch(() => '');
    if (res.status < 200 || res.status >= 300) throw new ForbiddenError(`${event} hook answered ${res.status}`);
    // SRS backends answer {"code":0} (or 0) to allow; honour a non-zero code as a refusal.
    try {
      const body = JSON.parse(text) as unknown;
      const code = typeof body === 'number' ? body : typeof body === 'object' && body !== null ? (body as { code?: unknown }).code : undefined;
      if (typeof code === 'number' && code !== 0) throw new ForbiddenError(`${event} hook refused with code ${code}`);
      const role = typeof body === 'object' && body !== null ? (body as { role?: unknown }).role : undefined;
      if (role === 'host' || role === 'viewer') return { role, via: 'hook' };
    } catch (error) {
      if (error instanceof ForbiddenError) throw error;
    }
    return { role: req.action === 'publish' ? 'host' : 'viewer', via: 'hook' };
  }

  /** The JSON a hook receives: our fields plus SRS http_hooks names (action, client_id, ip, vhost, app, stream, param). */
  hookBody(event: string, req: Pick<AccessRequest, 'path' | 'protocol' | 'remoteAddress' | 'query'>, ip = clientIp(req.remoteAddress), credential?: string) {
    const slash = req.path.indexOf('/');
    const param = new URLSearchParams(req.query as Record<string, string>).toString();
    return {
      action: event,
      path: req.path,
      protocol: req.protocol,
      remoteAddress: req.remoteAddress,
      query: req.query,
      token: credential ?? req.query.token ?? null,
      // SRS-compatible names
      client_id: req.remoteAddress,
      ip,
      vhost: '__defaultVhost__',
      app: req.path.slice(0, slash),
      stream: req.path.slice(slash + 1),
      param: param ? `?${param}` : '',
      stream_url: `/${req.path}`,
    };
  }

  /** on_unpublish / on_stop: fire and forget, never blocks media. */
  notify(event: 'on_unpublish' | 'on_stop', req: Pick<AccessRequest, 'path' | 'protocol' | 'remoteAddress' | 'query'>): void {
    const url = event === 'on_unpublish' ? this.config.hooks.onUnpublish : this.config.hooks.onStop;
    if (!url) return;
    fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(this.hookBody(event, req)),
      signal: AbortSignal.timeout(this.config.hooks.timeoutMs),
    }).then(
      (res) => res.body?.cancel(),
      (error: Error) => this.log.info({ path: req.path, err: error.message }, `${event} hook failed`),
    );
  }

  /**
   * Role of an admin API caller, or undefined when the request carries no admin credential.
   * With `basic` false an HTTP Basic header counts as no credential (checking it costs a scrypt).
   */
  adminRole(req: Request, basic = true): 'admin' | 'read' | undefined | 'invalid' {
    const header = req.headers.authorization ?? '';
    let bearer: string | undefined;
    if (header.startsWith('Bearer ')) bearer = header.slice(7).trim();
    else if (typeof req.query.token === 'string') bearer = req.query.token;
    if (bearer) {
      const static_ = this.adminTokens.find((t) => safeEqual(t.token, bearer));
      if (static_) return static_.role;
      if (Object.keys(this.keys).length > 0 && verifyToken(this.keys, bearer, 'admin', '**').ok) return 'admin';
      return 'invalid';
    }
    if (header.startsWith('Basic ') && basic) {
      const [name, password] = Buffer.from(header.slice(6), 'base64').toString('utf8').split(/:(.*)/s) as [string, string];
      const user = this.config.admin.users.find((u) => u.name === name);
      if (user && password !== undefined && checkPassword(password, user.scrypt)) return user.role;
      return 'invalid';
    }
    return undefined;
  }

  /** Express middleware for /api/v1: read-only vs admin roles, loopback-only until credentials exist. */
  adminMiddleware(): RequestHandler {
    return (req: Request, res: Response, next: NextFunction) => {
      // The socket's address carries no port: clientIp would cut the last group of an IPv6 address.
      const ip = plainIp(req.socket.remoteAddress ?? '');
      const refuse = (error: UnauthorizedError | ForbiddenError) => {
        this.refused('api', error.code);
        this.log.warn({ conn: peerAddress(req.socket), path: req.path, method: req.method }, `admin API refused: ${error.message}`);
        if (error instanceof UnauthorizedError) res.setHeader('WWW-Authenticate', 'Bearer realm="streamgate"');
        sendError(res, error);
      };
      if (!this.ipAllowed('admin', ip)) return refuse(new ForbiddenError(`address ${ip} may not use the API`));
      const read = req.method === 'GET' || req.method === 'HEAD';
      // Reads that are public anyway pass whatever credential they carry (a player passes its play
      // or room token as `?token=` to every URL, the API included), so it is not checked: checking
      // a Basic password costs a blocking scrypt.
      const publicRead = read && (!this.adminProtected || this.config.admin.publicReads);
      if (publicRead) return next();
      const role = this.adminRole(req);
      if (role === 'invalid') return refuse(new ForbiddenError('the credential is not valid for the API'));
      if (!this.adminProtected) {
        if (read || isLoopback(ip)) return next();
        return refuse(new ForbiddenError('changes through the API are allowed from this machine only until auth.admin credentials are configured'));
      }
      if (read && (this.config.admin.publicReads || role === 'read' || role === 'admin')) return next();
      if (role === undefined) return refuse(new UnauthorizedError('an admin credential is required (Authorization: Bearer ... or ?token=)'));
      if (!read && role !== 'admin') return refuse(new ForbiddenError('a read-only credential cannot change anything'));
      next();
    };
  }

  /**
   * Express middleware for media served through the API (snapshots, recording downloads, room
   * message history): that is content, not metadata, so `publicReads` does not open it. A caller
   * without a read or admin credential needs the path's play (rooms: join) access, exactly as a
   * player would, with `?token=` or `Authorization: Bearer`. Runs after adminMiddleware.
   */
  contentMiddleware(contentOf: (path: string) => { action: 'play' | 'room'; path: string } | undefined): RequestHandler {
    return (req: Request, _res: Response, next: NextFunction) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return next();
      const content = contentOf(req.path);
      if (!content) return next();
      // Without publicReads, adminMiddleware has already demanded a read credential.
      if (this.adminProtected && !this.config.admin.publicReads) return next();
      const role = this.adminRole(req, false);
      if (role === 'admin' || role === 'read') return next();
      const header = req.headers.authorization ?? '';
      this.check({
        action: content.action,
        path: content.path,
        protocol: 'api',
        remoteAddress: peerAddress(req.socket),
        query: splitQuery(req.originalUrl).query,
        ...(header.startsWith('Bearer ') ? { credential: header.slice(7).trim() } : {}),
      }).then(
        () => next(),
        (error: unknown) => {
          // An API user with HTTP Basic: its scrypt check runs only when play access alone refused.
          const basicRole = header.startsWith('Basic ') ? this.adminRole(req) : undefined;
          next(basicRole === 'admin' || basicRole === 'read' ? undefined : error);
        },
      );
    };
  }

  /** Counts a new connection; returns a release function, or undefined when a limit refuses it. */
  acquireConnection(remoteAddress: string, protocol: string): (() => void) | undefined {
    const { maxConnections, maxConnectionsPerIp } = this.config.limits;
    const ip = clientIp(remoteAddress);
    const mine = this.connections.get(ip) ?? 0;
    if ((maxConnections > 0 && this.totalConnections >= maxConnections) || (maxConnectionsPerIp > 0 && mine >= maxConnectionsPerIp)) {
      this.refused(protocol, 'SG_ERR_CONNECTION_LIMIT');
      this.log.warn({ conn: remoteAddress, protocol }, `connection refused: ${maxConnectionsPerIp > 0 && mine >= maxConnectionsPerIp ? `more than ${maxConnectionsPerIp} connections from ${ip}` : `more than ${maxConnections} connections`}`);
      return undefined;
    }
    this.totalConnections++;
    this.connections.set(ip, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.totalConnections--;
      const n = (this.connections.get(ip) ?? 1) - 1;
      if (n <= 0) this.connections.delete(ip);
      else this.connections.set(ip, n);
    };
  }

  /**
   * Secrets an RTSP Digest response may be computed from for this action and path: the static
   * keys of a `keys` rule (Digest needs the password on the server; signed tokens and hooks only
   * work with Basic or `?token=`).
   */
  digestSecrets(action: 'publish' | 'play', path: string): string[] {
    const rule = this.ruleFor(path);
    if (rule?.mode !== 'keys') return [];
    const out: string[] = [];
    if (rule.publishKey) out.push(rule.publishKey);
    if (action === 'play' && rule.playKey) out.push(rule.playKey);
    return out;
  }

  /** auth.limits.maxReadersPerPath (0: none), enforced by the admission path for every protocol. */
  get maxReadersPerPath(): number {
    return this.config.limits.maxReadersPerPath;
  }

  isRefusal(error: unknown): boolean {
    return isAccessRefusal(error);
  }

  /** Per-path reader limit; throws ForbiddenError when the path is full. */
  checkReaderLimit(path: string, readers: number): void {
    const max = this.config.limits.maxReadersPerPath;
    if (max > 0 && readers >= max) throw new ForbiddenError(`${path} already has ${max} readers (auth.limits.maxReadersPerPath)`);
  }
}

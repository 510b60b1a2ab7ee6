/**
 * Who may publish, play, join rooms and administer: the one policy every protocol asks, through
 * the admission path. Protocols give what they know (path, client address, query, credential);
 * a refusal is an UnauthorizedError or ForbiddenError whose statuses come from ERRORS.
 * Beside it: webhooks.ts (hook client), middleware.ts (API), limiter.ts (connection counts),
 * address.ts (client IPs, allow/deny lists), passwords.ts (scrypt).
 */
import type { Request } from 'express';
import type { Logger } from 'pino';
import { ConfigError, StreamgateError } from '../core/errors.js';
import { matchPathPattern } from '../core/path.js';
import { IpFilter, clientIp } from './address.js';
import type { AuthConfig, AuthRule } from './config.js';
import { ForbiddenError, UnauthorizedError, isAccessRefusal } from './errors.js';
import type { Refused } from './limiter.js';
import { checkPassword } from './passwords.js';
import { type DecisionEvent, HookClient, type HookSubject } from './webhooks.js';
import { type Action, safeEqual, verifyToken } from './tokens.js';

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
  /** The path's rule lets anyone do this: no credential was checked (rooms' `publish: granted` asks for one). */
  readonly open?: true;
}

/** Resolves `env:NAME` secrets; throws a clear error when the variable is missing. */
export function resolveSecret(value: string, env: NodeJS.ProcessEnv, where: string): string {
  if (!value.startsWith('env:')) return value;
  const name = value.slice(4);
  const v = env[name];
  if (!v) throw new ConfigError(`${where} reads ${name} from the environment, but ${name} is not set`);
  return v;
}

export class Authorizer {
  private keys: Record<string, string> = {};
  private adminTokens: { token: string; role: 'admin' | 'read' }[] = [];
  private ipFilters!: Record<'publish' | 'play' | 'admin', IpFilter>;
  private resolvedRules: AuthRule[] = [];
  hooks!: HookClient;

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
    const ipFilters = { publish: new IpFilter(config.ip.publish), play: new IpFilter(config.ip.play), admin: new IpFilter(config.ip.admin) };
    if (config.rules.some((r) => r.mode === 'token') && Object.keys(keys).length === 0) {
      throw new ConfigError('auth.rules use mode token but auth.keys has no signing key');
    }
    this.config = config;
    this.keys = keys;
    this.adminTokens = adminTokens;
    this.resolvedRules = resolvedRules;
    this.ipFilters = ipFilters;
    this.hooks = new HookClient(config.hooks, this.log);
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

  ipAllowed(action: 'publish' | 'play' | 'admin', ip: string): boolean {
    return this.ipFilters[action].allows(ip);
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
    if (!rule || rule.mode === 'open') return { role: 'viewer', via: 'open', open: true };
    if (rule.mode === 'keys') {
      if (req.action === 'publish') {
        if (!rule.publishKey) return { role: 'host', via: 'keys (publish open)', open: true };
        return this.matchKey(credential, rule.publishKey, 'publish', 'host');
      }
      // play and room: the publish key works too; a room member with it is a host
      if (credential && rule.publishKey && safeEqual(credential, rule.publishKey)) return { role: 'host', via: 'publish key' };
      if (!rule.playKey) return { role: 'viewer', via: 'keys (play open)', open: true };
      return this.matchKey(credential, rule.playKey, 'play', 'viewer');
    }
    if (rule.mode === 'token') {
      if (!credential) {
        if (req.action !== 'publish' && !rule.protectPlay) return { role: 'viewer', via: 'token (play open)', open: true };
        throw new UnauthorizedError(`a token is required to ${req.action} ${req.path}; add ?token=...`);
      }
      const verdict = verifyToken(this.keys, credential, req.action, req.path);
      if (!verdict.ok) {
        if (req.action !== 'publish' && !rule.protectPlay) return { role: 'viewer', via: 'token (play open)', open: true };
        throw new ForbiddenError(verdict.reason);
      }
      const host = verdict.claims.action === 'publish' || verdict.claims.action === 'admin';
      return { role: host ? 'host' : 'viewer', via: `token ${verdict.claims.kid}` };
    }
    const event: DecisionEvent = req.action === 'publish' ? 'on_publish' : req.action === 'room' ? 'on_room_join' : 'on_play';
    const role = await this.hooks.ask(event, req, ip, credential);
    return { role: role ?? (req.action === 'publish' ? 'host' : 'viewer'), via: 'hook' };
  }

  allowsPublish(path: string, credential: string | undefined): boolean {
    return credential !== undefined && Object.keys(this.keys).length > 0 && verifyToken(this.keys, credential, 'publish', path).ok;
  }

  /** on_unpublish / on_stop, for the admission path: fire and forget. */
  notify(event: 'on_unpublish' | 'on_stop', subject: HookSubject): void {
    this.hooks.notify(event, subject);
  }

  private matchKey(credential: string | undefined, key: string, action: string, role: 'host' | 'viewer'): AccessGrant {
    if (!credential) throw new UnauthorizedError(`a key is required to ${action}; add ?token=...`);
    if (!safeEqual(credential, key)) throw new ForbiddenError(`wrong ${action} key`);
    return { role, via: `${action} key` };
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
}

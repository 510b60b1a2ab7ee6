/**
 * Edge relays: a reader asks for a path this node does not publish; the edge finds its origin
 * (the Redis directory, or a fixed `edge.upstream`), pulls it once over HTTP-FLV through the
 * admission path as a publisher (`edge-pull`), fans it out locally, and stops pulling
 * `edge.idleCloseMs` after the last local reader left. Each pull is a generic supervised Source
 * (gateway/sources/source.ts) with the HTTP-FLV driver, so reconnects, backoff, readiness waits
 * and idle close are the camera pulls' own.
 *
 * Access: the origin's rules decide. Each reader's query is checked with the origin (HEAD of the
 * FLV URL, answer cached `checkCacheMs`), and the pull itself carries a relay grant
 * (`cluster.relaySecret`) or, without one, the query of the latest reader the origin accepted.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from 'pino';
import type { Admission } from '../core/admission.js';
import { StreamgateError, StreamNotFoundError } from '../core/errors.js';
import { matchPathPattern } from '../core/path.js';
import type { DemandHandler, StreamRegistry } from '../core/registry.js';
import { ForbiddenError, UnauthorizedError } from '../auth/index.js';
import { HttpFlvPull } from '../protocols/flv/pull.js';
import { Source, type SourceInfo } from '../sources/source.js';
import type { ClusterConfig } from './config.js';
import type { Directory, DirectoryEntry } from './directory.js';
import { RELAY_QUERY, signRelay } from './relay-grant.js';

/** The edge could not find or reach the origin of a path (Redis away, origin down). */
export class OriginUnavailableError extends StreamgateError {
  constructor(path: string, detail: string, status?: number) {
    super('SG_ERR_ORIGIN_UNAVAILABLE', `the origin of ${path} is not reachable: ${detail}`, status === undefined ? {} : { status });
  }
}

/** The directory has no origin for the path (nobody publishes it in the cluster). */
class NoOriginError extends StreamNotFoundError {}

export interface EdgeDeps {
  readonly config: ClusterConfig;
  /** Relay other nodes' streams found in `directory` or at `edge.upstream` (cluster.edge.enabled). */
  readonly edgeEnabled: boolean;
  readonly directory: Directory | undefined;
  /** With `cluster.workers` > 1: the primary's directory of this box's workers, asked first. */
  readonly workers?: { lookup(path: string): Promise<DirectoryEntry | undefined> } | undefined;
  /** Signs pulls (relay grants); empty: forward the reader's query. */
  readonly relaySecret: string;
  readonly registry: StreamRegistry;
  readonly admission: () => Admission;
  /** This node's id (a directory entry naming it is not an origin to pull from: it would be a loop). */
  readonly nodeId: () => string;
  /** True when something on this node serves the path (a camera source, a rendition): not relayed. */
  readonly servedLocally: (path: string) => boolean;
  readonly log: Logger;
}

export class EdgeRelays implements DemandHandler {
  private readonly relays = new Map<string, Source>();
  /** Origin answers per path + query: expiry and the refusal (undefined: allowed). */
  private readonly checks = new Map<string, { until: number; refusal: Error | undefined }>();
  /** Without a relay secret: the query of the latest reader the origin accepted, per path. */
  private readonly acceptedQuery = new Map<string, Record<string, string>>();
  private readonly log: Logger;
  private closed = false;

  constructor(private readonly deps: EdgeDeps) {
    this.log = deps.log;
  }

  private get edge(): ClusterConfig['edge'] {
    return this.deps.config.edge;
  }

  /** Paths relayed from other nodes: edge.paths on an edge (between the workers of one box: all). */
  private fromOtherNodes(path: string): boolean {
    return this.deps.edgeEnabled && this.edge.paths.some((p) => matchPathPattern(p, path));
  }

  /** True when `path` is (or would be) relayed here rather than published locally. */
  isRelayed(path: string): boolean {
    if (!this.deps.workers && !this.fromOtherNodes(path)) return false;
    const publisher = this.deps.registry.get(path)?.publisher;
    if (publisher) return publisher.protocol === 'edge-pull';
    return !this.deps.servedLocally(path);
  }

  canServe(path: string): boolean {
    return !this.closed && this.isRelayed(path);
  }

  async start(path: string, timeoutMs: number): Promise<void> {
    let relay = this.relays.get(path);
    if (!relay) {
      // Not in the directory: answer 404 at once instead of starting a pull that cannot work.
      await this.upstreamOf(path);
      relay = this.relays.get(path) ?? this.create(path);
    }
    return relay.start(timeoutMs);
  }

  private create(path: string): Source {
    for (const [p, s] of this.relays) if (!s.running) this.relays.delete(p);
    const driver = new HttpFlvPull(path, () => this.pullUrl(path), { readTimeoutMs: this.edge.readTimeoutMs, protocol: 'edge-pull', isPermanent: (e) => e instanceof NoOriginError }, this.log.child({ relay: path }));
    const source = new Source(
      path,
      driver,
      { onDemand: true, idleCloseMs: this.edge.idleCloseMs, retryInitialMs: this.edge.retryInitialMs, retryMaxMs: this.edge.retryMaxMs, stopOnPermanent: true },
      this.deps.admission(),
      this.log,
    );
    this.relays.set(path, source);
    return source;
  }

  /** The HTTP base URL of the node to pull `path` from. */
  private async upstreamOf(path: string): Promise<string> {
    if (this.deps.workers) {
      // Another worker of this box ingests it: its private loopback listener.
      const entry = await this.deps.workers.lookup(path);
      if (entry && entry.node !== this.deps.nodeId()) return entry.url;
    }
    if (!this.fromOtherNodes(path)) throw new NoOriginError(path);
    if (this.edge.upstream) return this.edge.upstream.replace(/\/+$/, '');
    const directory = this.deps.directory;
    if (!directory) throw new OriginUnavailableError(path, 'no cluster.redis.url and no cluster.edge.upstream', 503);
    let entry;
    try {
      entry = await directory.lookup(path);
    } catch (error) {
      throw new OriginUnavailableError(path, `the stream directory (Redis) is not reachable: ${(error as Error).message}`, 503);
    }
    if (!entry || entry.node === this.deps.nodeId()) throw new NoOriginError(path);
    return entry.url.replace(/\/+$/, '');
  }

  private flvUrl(base: string, path: string, query: Record<string, string>): string {
    const qs = new URLSearchParams(query).toString();
    return `${base}/${path.split('/').map(encodeURIComponent).join('/')}.flv${qs ? `?${qs}` : ''}`;
  }

  private async pullUrl(path: string): Promise<string> {
    const base = await this.upstreamOf(path);
    const secret = this.deps.relaySecret;
    return this.flvUrl(base, path, secret ? { [RELAY_QUERY]: signRelay(secret, path) } : (this.acceptedQuery.get(path) ?? {}));
  }

  /**
   * Asks the origin whether a reader with `query` may play `path` (HEAD of the FLV URL); throws
   * the origin's refusal as ours (401, 403, 404), or OriginUnavailableError.
   */
  async checkWithOrigin(path: string, query: Readonly<Record<string, string>>): Promise<void> {
    const own = { ...query };
    delete own[RELAY_QUERY];
    const key = `${path}?${new URLSearchParams(own).toString()}`;
    const now = Date.now();
    const cached = this.checks.get(key);
    if (cached && cached.until > now) {
      if (cached.refusal) throw cached.refusal;
      return;
    }
    const base = await this.upstreamOf(path);
    const status = await head(this.flvUrl(base, path, own), this.edge.readTimeoutMs).catch((error: Error) => {
      throw new OriginUnavailableError(path, error.message);
    });
    let refusal: Error | undefined;
    if (status === 401) refusal = new UnauthorizedError(`the origin requires a credential to play ${path}; add ?token=...`);
    else if (status === 403) refusal = new ForbiddenError(`the origin refused the credential for ${path}`);
    else if (status === 404) refusal = new StreamNotFoundError(path);
    else if (status !== 200) refusal = new OriginUnavailableError(path, `the origin answered HTTP ${status}`);
    if (this.checks.size > 10_000) this.checks.clear();
    if (this.edge.checkCacheMs > 0 && status !== 404) this.checks.set(key, { until: now + this.edge.checkCacheMs, refusal });
    if (refusal) throw refusal;
    this.acceptedQuery.set(path, own);
  }

  list(): SourceInfo[] {
    return [...this.relays.values()].filter((s) => s.running).map((s) => s.info());
  }

  close(): void {
    this.closed = true;
    for (const source of this.relays.values()) source.stop('stopped', 'gateway stopping');
    this.relays.clear();
  }
}

/** Status of a HEAD request (the body of an error answer is not sent for HEAD). */
function head(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const make = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = make(url, { method: 'HEAD', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

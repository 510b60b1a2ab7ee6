/**
 * The stream directory on Redis: which node publishes which path. While a path is published
 * here by a real publisher (not an edge relay of someone else's stream), the node keeps
 * `{prefix}stream:{path}` = `{"node","url","since"}` with a TTL, refreshes it, and deletes it on
 * unpublish (only if it still names this node). A crashed node's entries expire after `ttlMs`.
 * When Redis comes back (an empty one after a restart) every live path is written again.
 *
 * One publisher per path across the nodes: a publish claims the entry first (`acquire`, one Lua
 * check-and-set: free, or already naming this node), and a path another node holds is refused
 * like a second publisher on one node (PublisherConflictError). The refresh only extends entries
 * naming this node; a crashed node's path is publishable elsewhere once its entry expired
 * (`ttlMs`). Two kinds of claim take the entry whoever holds it: a takeover path (hub.takeoverPaths:
 * the previous node closes its publisher at its next refresh) and a camera source whose hot-standby
 * lease this node holds (the lease, cluster/lease.ts, already decided who pulls the camera; the
 * dead holder's entry may outlive its lease).
 *
 * Redis away: the publish is allowed locally (a warning is logged once per outage) and the entry
 * written when Redis is back. If another node published the same path meanwhile, the first entry
 * written wins the directory (edges pull from it) and the other node logs the conflict at each
 * refresh until one of the publishers stops.
 *
 * Chained edges: relays never register, so the directory always names the origin; an edge that
 * must not reach the origin directly uses `cluster.edge.upstream` (a fixed upstream edge) instead.
 */
import type { Logger } from 'pino';
import { PublisherConflictError } from '../core/errors.js';
import type { StreamRegistry } from '../core/registry.js';
import type { PublisherInfo, Stream } from '../core/stream.js';
import type { RedisLink } from './redis.js';

export interface DirectoryEntry {
  readonly node: string;
  /** The node's HTTP base URL (`http://10.0.0.5:8080`). */
  readonly url: string;
  /** When the path was first registered (Unix ms). */
  readonly since: number;
}

/** Publisher protocols that relay another node's stream: never registered. */
export const RELAY_PROTOCOLS: ReadonlySet<string> = new Set(['edge-pull', 'worker-relay']);

/**
 * Writes our entry (ARGV[1], TTL ARGV[3] ms) when the key is free or names our node (ARGV[2]), or
 * whatever it holds when ARGV[4] is '1'; returns 1, or the other node's entry (left alone).
 */
const OWN = `local v = redis.call('get', KEYS[1])
if v and v ~= ARGV[1] and ARGV[4] ~= '1' then
  local ok, e = pcall(cjson.decode, v)
  if ok and type(e) == 'table' and e.node ~= ARGV[2] then return v end
end
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1`;

/** Deletes the key only if it still holds our value (another node may have taken the path). */
const DELETE_IF_OURS = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

export class Directory {
  /** Paths this node registers, with the value it wrote. */
  private readonly owned = new Map<string, string>();
  private readonly timer: NodeJS.Timeout;
  /** Paths whose entry another node holds while this node publishes them, with that node (logged once per change). */
  private readonly lost = new Map<string, string>();
  /** The outage was logged (once per outage). */
  private warnedAway = false;
  private readonly onPublish = (stream: Stream, info: PublisherInfo) => {
    // Claimed through admission already (acquire); anything else is written here.
    if (!RELAY_PROTOCOLS.has(info.protocol) && !this.owned.has(stream.path)) this.register(stream.path);
  };
  private readonly onUnpublish = (stream: Stream, info: PublisherInfo) => {
    if (!RELAY_PROTOCOLS.has(info.protocol)) this.unregister(stream.path);
  };
  private readonly onReady = () => {
    this.warnedAway = false;
    this.refreshAll();
  };

  constructor(
    private readonly redis: RedisLink,
    private readonly registry: StreamRegistry,
    private readonly settings: { readonly ttlMs: number; readonly refreshMs: number },
    /** This node's id and advertised URL (known once the HTTP listener has its port). */
    private readonly self: () => { node: string; url: string },
    private readonly log: Logger,
    /** Claims that take the entry whoever holds it (see the header). */
    private readonly force: { takeover(path: string): boolean; leased(path: string): boolean } = { takeover: () => false, leased: () => false },
  ) {
    registry.on('publish', this.onPublish);
    registry.on('unpublish', this.onUnpublish);
    redis.on('ready', this.onReady);
    this.timer = setInterval(() => this.refreshAll(), settings.refreshMs);
    this.timer.unref();
  }

  private key(path: string): string {
    return this.redis.key('stream', path);
  }

  /** Paths this node has registered (API, tests). */
  get paths(): string[] {
    return [...this.owned.keys()];
  }

  private entryValue(): string {
    const { node, url } = this.self();
    return JSON.stringify({ node, url, since: Date.now() } satisfies DirectoryEntry);
  }

  /** Registers `path` without a claim (a publish that did not go through `acquire`). */
  register(path: string): void {
    const value = this.entryValue();
    this.owned.set(path, value);
    this.write(path, value);
  }

  /**
   * Claims `path` for a publisher of this node; rejects with PublisherConflictError when another
   * node's entry names it. Resolves when Redis is away (see the header).
   */
  async acquire(path: string): Promise<void> {
    const value = this.entryValue();
    if (this.redis.ready) {
      let answer: unknown;
      try {
        answer = await this.redis.commands.eval(OWN, 1, this.key(path), value, this.self().node, String(this.settings.ttlMs), this.forced(path, true) ? '1' : '0');
      } catch (error) {
        this.warnAway(`the claim of ${path} failed (${(error as Error).message})`);
        answer = 1;
      }
      if (answer !== 1) throw new PublisherConflictError(path, `path ${path} already has a publisher on node ${nodeOf(answer)}; stop it first or configure takeover for this path`);
    } else {
      this.warnAway(`publishing ${path} without the cluster check`);
    }
    this.owned.set(path, value);
    this.lost.delete(path);
  }

  release(path: string): void {
    void this.unregister(path);
  }

  private forced(path: string, claiming: boolean): boolean {
    return (claiming && this.force.takeover(path)) || this.force.leased(path);
  }

  private warnAway(what: string): void {
    if (this.warnedAway) return;
    this.warnedAway = true;
    this.log.warn(`stream directory (Redis) unavailable: ${what}; one publisher per path is not checked across nodes until it is back, then this node's paths are registered again`);
  }

  unregister(path: string): Promise<void> {
    const value = this.owned.get(path);
    if (value === undefined) return Promise.resolve();
    this.owned.delete(path);
    this.lost.delete(path);
    if (!this.redis.ready) return Promise.resolve(); // the entry expires by itself
    return this.redis.commands.eval(DELETE_IF_OURS, 1, this.key(path), value).then(
      () => undefined,
      (error: Error) => this.log.debug({ path }, `directory: delete failed: ${error.message}`),
    );
  }

  /** The node that publishes `path`, or undefined (not published, or Redis away: the error says which). */
  async lookup(path: string): Promise<DirectoryEntry | undefined> {
    const raw = await this.redis.commands.get(this.key(path));
    if (raw === null) return undefined;
    try {
      const entry = JSON.parse(raw) as DirectoryEntry;
      return typeof entry.url === 'string' && typeof entry.node === 'string' ? entry : undefined;
    } catch {
      return undefined;
    }
  }

  private write(path: string, value: string): void {
    if (!this.redis.ready) return; // written again on 'ready'
    this.redis.commands
      .eval(OWN, 1, this.key(path), value, this.self().node, String(this.settings.ttlMs), this.forced(path, false) ? '1' : '0')
      .then((answer) => this.checkOwned(path, answer))
      .catch((error: Error) => this.log.debug({ path }, `directory: write failed: ${error.message}`));
  }

  /** Extends this node's entries (and writes missing ones); never another node's. */
  private refreshAll(): void {
    if (!this.redis.ready || this.owned.size === 0) return;
    // One round trip for all live paths; values keep their first `since`.
    const pipeline = this.redis.commands.pipeline();
    const paths = [...this.owned.keys()];
    for (const path of paths) pipeline.eval(OWN, 1, this.key(path), this.owned.get(path)!, this.self().node, String(this.settings.ttlMs), this.forced(path, false) ? '1' : '0');
    pipeline.exec().then(
      (results) => results?.forEach(([error, answer], i) => error || this.checkOwned(paths[i]!, answer)),
      (error: Error) => this.log.debug(`directory: refresh failed: ${error.message}`),
    );
  }

  /** Another node's entry holds a path we publish: a takeover there ends ours; else the conflict is logged. */
  private checkOwned(path: string, answer: unknown): void {
    if (answer === 1 || !this.owned.has(path)) {
      this.lost.delete(path);
      return;
    }
    const other = nodeOf(answer);
    if (this.force.takeover(path)) {
      this.owned.delete(path);
      const publisher = this.registry.get(path)?.publisher;
      if (publisher && !RELAY_PROTOCOLS.has(publisher.protocol)) publisher.close(`taken over by a publisher on node ${other}`);
      return;
    }
    if (this.lost.get(path) === other) return;
    this.lost.set(path, other);
    this.log.warn({ path }, `${path} is published here and on node ${other} (published while the directory was away?); the directory names ${other}: stop one of the publishers`);
  }

  /** Stops refreshing and deletes this node's entries (a stopping node is not an origin any more). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.registry.off('publish', this.onPublish);
    this.registry.off('unpublish', this.onUnpublish);
    this.redis.off('ready', this.onReady);
    await Promise.all([...this.owned.keys()].map((path) => this.unregister(path)));
  }
}

/** The node an entry (raw JSON from Redis) names, for messages. */
function nodeOf(raw: unknown): string {
  try {
    const node = (JSON.parse(String(raw)) as { node?: unknown }).node;
    return typeof node === 'string' ? node : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * The stream directory on Redis: which node publishes which path. While a path is published
 * here by a real publisher (not an edge relay of someone else's stream), the node keeps
 * `{prefix}stream:{path}` = `{"node","url","since"}` with a TTL, refreshes it, and deletes it on
 * unpublish (only if it still names this node). A crashed node's entries expire after `ttlMs`.
 * When Redis comes back (an empty one after a restart) every live path is written again.
 *
 * Chained edges: relays never register, so the directory always names the origin; an edge that
 * must not reach the origin directly uses `cluster.edge.upstream` (a fixed upstream edge) instead.
 */
import type { Logger } from 'pino';
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

/** Deletes the key only if it still holds our value (another node may have taken the path). */
const DELETE_IF_OURS = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

export class Directory {
  /** Paths this node registers, with the value it wrote. */
  private readonly owned = new Map<string, string>();
  private readonly timer: NodeJS.Timeout;
  private readonly onPublish = (stream: Stream, info: PublisherInfo) => {
    if (!RELAY_PROTOCOLS.has(info.protocol)) this.register(stream.path);
  };
  private readonly onUnpublish = (stream: Stream, info: PublisherInfo) => {
    if (!RELAY_PROTOCOLS.has(info.protocol)) this.unregister(stream.path);
  };
  private readonly onReady = () => this.refreshAll();

  constructor(
    private readonly redis: RedisLink,
    private readonly registry: StreamRegistry,
    private readonly settings: { readonly ttlMs: number; readonly refreshMs: number },
    /** This node's id and advertised URL (known once the HTTP listener has its port). */
    private readonly self: () => { node: string; url: string },
    private readonly log: Logger,
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

  register(path: string): void {
    const { node, url } = this.self();
    const value = JSON.stringify({ node, url, since: Date.now() } satisfies DirectoryEntry);
    this.owned.set(path, value);
    this.write(path, value);
  }

  unregister(path: string): Promise<void> {
    const value = this.owned.get(path);
    if (value === undefined) return Promise.resolve();
    this.owned.delete(path);
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
    this.redis.commands.set(this.key(path), value, 'PX', this.settings.ttlMs).catch((error: Error) => this.log.debug({ path }, `directory: write failed: ${error.message}`));
  }

  private refreshAll(): void {
    if (!this.redis.ready || this.owned.size === 0) return;
    // One round trip for all live paths; values keep their first `since`.
    const pipeline = this.redis.commands.pipeline();
    for (const [path, value] of this.owned) pipeline.set(this.key(path), value, 'PX', this.settings.ttlMs);
    pipeline.exec().catch((error: Error) => this.log.debug(`directory: refresh failed: ${error.message}`));
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

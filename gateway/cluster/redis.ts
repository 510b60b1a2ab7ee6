/**
 * The gateway's Redis connections (ioredis): one for commands (directory, leases, bus publishes)
 * and one subscriber for the room bus. Redis is never on the media path: when it goes away,
 * commands fail fast (no offline queue, so nothing stale is replayed later), local streams keep
 * playing, and whoever depends on it re-registers on `ready`. ioredis reconnects by itself.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { TypedEmitter } from '../core/events.js';

export interface RedisLinkEvents {
  /** Connected (again): re-register what this node owns. */
  ready: [];
  /** A message on a channel subscribed with `subscribe`. */
  message: [string, string];
}

/** How often a lost connection is logged (it retries every ~2 s). */
const LOG_EVERY_MS = 30_000;

export class RedisLink extends TypedEmitter<RedisLinkEvents> {
  readonly commands: Redis;
  private subscriber: Redis | undefined;
  private readonly channels = new Set<string>();
  private lastErrorLog = 0;
  private closed = false;

  constructor(
    readonly url: string,
    readonly prefix: string,
    private readonly log: Logger,
  ) {
    super();
    this.commands = this.connect('commands');
    this.commands.on('ready', () => {
      this.log.info(`redis connected (${this.safeUrl})`);
      this.safeEmit('ready');
    });
  }

  private get safeUrl(): string {
    return this.url.replace(/\/\/[^@/]*@/, '//***@');
  }

  private connect(role: string): Redis {
    const client = new Redis(this.url, {
      // Fail fast while Redis is away: a reader gets an answer now, a refresh is retried by its timer.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      retryStrategy: (times) => (this.closed ? null : Math.min(times * 200, 2000)),
      lazyConnect: false,
    });
    // ioredis emits 'error' on every failed reconnect: without a listener Node would throw.
    client.on('error', (error: Error) => {
      const now = Date.now();
      if (now - this.lastErrorLog < LOG_EVERY_MS) return;
      this.lastErrorLog = now;
      this.log.warn({ redis: role }, `redis unavailable (${this.safeUrl}): ${error.message}; retrying, local streams are not affected`);
    });
    return client;
  }

  get ready(): boolean {
    return this.commands.status === 'ready';
  }

  key(...parts: string[]): string {
    return this.prefix + parts.join(':');
  }

  /** Subscribes (on a second connection, created on first use); resubscribed after a reconnect. */
  async subscribe(channel: string): Promise<void> {
    if (this.channels.has(channel)) return;
    this.channels.add(channel);
    if (!this.subscriber) {
      // The subscriber keeps its subscriptions in ioredis (autoResubscribe) and may queue them offline.
      this.subscriber = new Redis(this.url, {
        maxRetriesPerRequest: null,
        connectTimeout: 2000,
        retryStrategy: (times) => (this.closed ? null : Math.min(times * 200, 2000)),
      });
      this.subscriber.on('error', () => {});
      this.subscriber.on('message', (ch: string, message: string) => this.safeEmit('message', ch, message));
    }
    await this.subscriber.subscribe(channel).catch(() => {});
  }

  async unsubscribe(channel: string): Promise<void> {
    if (!this.channels.delete(channel)) return;
    await this.subscriber?.unsubscribe(channel).catch(() => {});
  }

  /** Publishes; false when Redis is away (the message reaches this node's participants only). */
  async publish(channel: string, message: string): Promise<boolean> {
    try {
      await this.commands.publish(channel, message);
      return true;
    } catch {
      return false;
    }
  }

  /** Sends what is pending (QUIT) when connected, else drops the connections. */
  async close(): Promise<void> {
    this.closed = true;
    const end = async (client: Redis | undefined) => {
      if (!client) return;
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
      else client.disconnect();
    };
    await Promise.all([end(this.commands), end(this.subscriber)]);
  }
}

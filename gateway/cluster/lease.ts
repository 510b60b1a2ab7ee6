/**
 * Hot standby for camera pulls: two gateways with the same config, and each always-on camera
 * source is pulled by whichever holds its lease in Redis (`{prefix}lease:source:{path}`, SET NX
 * PX). The holder refreshes it every third of `leaseMs`; a standby tries to take it as often, so
 * after a kill -9 of the holder the standby pulls within leaseMs + leaseMs/3 (+ the camera's
 * connect and first keyframe). A gateway that stops cleanly deletes its leases: the standby takes
 * over on its next try.
 *
 * Redis away: the holder keeps pulling (it cannot be told otherwise, and the standby cannot take
 * the lease either); when Redis returns empty, the holder writes its lease again before anyone
 * else can, because its refresh sets a missing key. Availability wins over strict exclusivity: in
 * a split where only the standby sees Redis, both may pull for a while.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { SourceGate } from '../sources/manager.js';
import type { RedisLink } from './redis.js';

/** Refreshes the lease if it is ours, takes it if it is free; 1 when we hold it afterwards. */
const HOLD = `local v = redis.call('get', KEYS[1])
if v == ARGV[1] then redis.call('pexpire', KEYS[1], ARGV[2]) return 1 end
if not v then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

interface Held {
  held: boolean;
  readonly acquired: () => void;
  readonly lost: () => void;
}

export class SourceLeases implements SourceGate {
  private readonly leases = new Map<string, Held>();
  private readonly timer: NodeJS.Timeout;
  /** Unique per process, so two gateways with the same nodeId still tell their leases apart. */
  private readonly owner: string;
  private ticking = false;

  constructor(
    private readonly redis: RedisLink,
    nodeId: () => string,
    private readonly leaseMs: number,
    private readonly log: Logger,
  ) {
    this.owner = `${nodeId()}/${randomBytes(6).toString('hex')}`;
    this.timer = setInterval(() => void this.tick(), Math.max(100, Math.floor(leaseMs / 3)));
    this.timer.unref();
  }

  private key(path: string): string {
    return this.redis.key('lease', 'source', path);
  }

  /** Pulls `path` while holding its lease: `acquired` starts the pull, `lost` stops it. */
  watch(path: string, acquired: () => void, lost: () => void): void {
    this.leases.set(path, { held: false, acquired, lost });
    void this.tryHold(path);
  }

  unwatch(path: string): Promise<void> {
    const lease = this.leases.get(path);
    this.leases.delete(path);
    if (!lease?.held || !this.redis.ready) return Promise.resolve();
    return this.redis.commands.eval(RELEASE, 1, this.key(path), this.owner).then(
      () => undefined,
      () => undefined,
    );
  }

  holds(path: string): boolean {
    return this.leases.get(path)?.held ?? false;
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await Promise.all([...this.leases.keys()].map((path) => this.tryHold(path)));
    } finally {
      this.ticking = false;
    }
  }

  private async tryHold(path: string): Promise<void> {
    if (!this.redis.ready) return; // keep whatever we do now (see the header)
    let ours: boolean;
    try {
      ours = (await this.redis.commands.eval(HOLD, 1, this.key(path), this.owner, String(this.leaseMs))) === 1;
    } catch {
      return;
    }
    const lease = this.leases.get(path);
    if (!lease || lease.held === ours) return;
    lease.held = ours;
    if (ours) {
      this.log.info({ source: path }, 'camera source lease taken: pulling it here');
      lease.acquired();
    } else {
      this.log.warn({ source: path }, 'camera source lease held by another gateway: standing by');
      lease.lost();
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.leases.keys()].map((path) => this.unwatch(path)));
  }
}

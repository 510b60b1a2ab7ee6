/**
 * Several processes on one box (`cluster.workers`): the primary forks N workers with node:cluster,
 * which share the TCP listeners (HTTP, RTMP, RTSP; Node's cluster module hands new connections to
 * the workers round-robin). A stream is ingested once, by the worker its publisher reached; a
 * reader that lands on another worker is served by a loopback relay: that worker pulls the path
 * once over HTTP-FLV from the owner's private loopback listener (the edge pull of cluster/edge.ts)
 * and fans it out itself. The primary keeps the directory of which worker owns which path and
 * answers lookups over IPC; it runs no gateway itself and restarts a worker that dies.
 *
 * One publisher per path for the box: a publish claims its path with the primary first (`own`,
 * through admission and cluster/claims.ts); a path another live worker owns is refused with the
 * hub's PublisherConflictError, a takeover path is granted and the previous owner told to close
 * its publisher. The API the admin console uses answers for the whole box: `streams` and `metrics`
 * are merged here, other routes are replayed on the workers they concern (cluster/whole-node.ts).
 *
 * Limits: UDP stays with worker 0. Node 20's dgram has no SO_REUSEPORT (dgram's `reusePort`
 * came in later Node lines), so the workers cannot share a UDP port, and SRT and RTP over UDP are
 * sessions over datagrams: every packet of one must reach the process holding it, which neither
 * the cluster module nor the kernel's per-socket hashing would guarantee. SRT listens on worker 0
 * only and RTSP's UDP transport is off on the others (use RTSP over TCP, or cluster.workers: 1).
 */
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import { PublisherConflictError } from '../core/errors.js';
import type { StreamRegistry } from '../core/registry.js';
import type { PublisherInfo, Stream } from '../core/stream.js';
import type { DirectoryEntry } from './directory.js';
import { RELAY_PROTOCOLS } from './directory.js';
import type { BusEvent, RoomBus } from '../rooms/bus.js';
import type { ApiRequest, ApiTarget } from './whole-node.js';

/** Environment a worker gets from the primary. */
export const WORKER_ENV = { index: 'STREAMGATE_WORKER_INDEX', count: 'STREAMGATE_WORKER_COUNT', secret: 'STREAMGATE_WORKER_SECRET' } as const;

export interface WorkerIdentity {
  readonly index: number;
  readonly count: number;
  /** Signs the loopback relays (cluster.relaySecret, or a random one per start of the primary). */
  readonly relaySecret: string;
}

/** This process's worker identity, when the primary forked it. */
export function workerIdentity(env: NodeJS.ProcessEnv = process.env): WorkerIdentity | undefined {
  if (!cluster.isWorker || env[WORKER_ENV.index] === undefined) return undefined;
  return { index: Number(env[WORKER_ENV.index]), count: Number(env[WORKER_ENV.count]), relaySecret: env[WORKER_ENV.secret] ?? '' };
}

export function workerCount(setting: number | 'auto'): number {
  return setting === 'auto' ? availableParallelism() : setting;
}

type DirMessage =
  | { sg: 'dir'; op: 'set'; path: string; node: string; url: string }
  /** A publisher's claim (admission): granted when no other worker owns the path, or `takeover`. */
  | { sg: 'dir'; op: 'own'; id: number; path: string; node: string; url: string; takeover: boolean }
  | { sg: 'dir'; op: 'owned'; id: number; ok: boolean; owner: string }
  /** To the previous owner of a takeover path: close your publisher. */
  | { sg: 'dir'; op: 'taken'; path: string; by: string }
  | { sg: 'dir'; op: 'del'; path: string; node: string }
  /** A path this worker can start (a camera source): served by it even while nobody publishes. */
  | { sg: 'dir'; op: 'claim'; path: string; node: string; url: string }
  | { sg: 'dir'; op: 'unclaim'; path: string; node: string }
  | { sg: 'dir'; op: 'get'; id: number; path: string }
  | { sg: 'dir'; op: 'got'; id: number; entry: DirectoryEntry | null };

/**
 * Whole-box views: a worker asks, the primary collects from every worker (or from the workers
 * `target` names: API requests, cluster/whole-node.ts). `streams` and `metrics` are merged by the
 * primary; `api` answers come back as they are, merged by the worker that asked.
 */
export type AggregateKind = 'streams' | 'metrics' | 'api';
type AggMessage =
  | { sg: 'agg'; op: 'ask'; id: number; what: AggregateKind; request?: ApiRequest; target?: ApiTarget }
  | { sg: 'agg'; op: 'collect'; id: number; what: AggregateKind; request?: ApiRequest }
  | { sg: 'agg'; op: 'part'; id: number; data: unknown }
  | { sg: 'agg'; op: 'done'; id: number; data: unknown };

/** Room bus events between the workers of one box (no Redis): the primary forwards to the others. */
type BusMessage = { sg: 'bus'; room: string; event: BusEvent };

function isBusMessage(m: unknown): m is BusMessage {
  return typeof m === 'object' && m !== null && (m as { sg?: unknown }).sg === 'bus';
}

function isAggMessage(m: unknown): m is AggMessage {
  return typeof m === 'object' && m !== null && (m as { sg?: unknown }).sg === 'agg';
}

type Entry = Record<string, any>;

/**
 * One entry per path for the whole box: the owner's (its real publisher), with readers and
 * outgoing bitrate added up over the workers; each loopback relay is a reader of the owner, so
 * it is taken off the owner's count (`flv`).
 */
export function mergeStreamEntries(parts: Entry[][]): Entry[] {
  const byPath = new Map<string, Entry[]>();
  for (const part of parts) for (const e of part) byPath.set(e.path, [...(byPath.get(e.path) ?? []), e]);
  const merged: Entry[] = [];
  for (const entries of byPath.values()) {
    const relays = entries.filter((e) => e.publisher?.protocol === 'edge-pull');
    const owner = entries.find((e) => e.publisher && e.publisher.protocol !== 'edge-pull') ?? entries[0]!;
    const readers: Record<string, number> = { count: 0 };
    for (const e of entries) for (const [k, v] of Object.entries((e.readers ?? {}) as Record<string, number>)) readers[k] = (readers[k] ?? 0) + v;
    if (owner.publisher?.protocol !== 'edge-pull' && relays.length > 0) {
      readers.count = Math.max(0, readers.count! - relays.length);
      if (readers.flv !== undefined) readers.flv = Math.max(0, readers.flv - relays.length);
      if (readers.flv === 0) delete readers.flv;
    }
    const out = entries.reduce((sum, e) => sum + (e.bitrateKbps?.out ?? 0), 0);
    merged.push({ ...owner, readers, bitrateKbps: { ...(owner.bitrateKbps ?? {}), out }, workers: entries.map((e) => ({ worker: e.worker, readers: e.readers?.count ?? 0, relay: e.publisher?.protocol === 'edge-pull' })) });
  }
  return merged;
}

function isDirMessage(m: unknown): m is DirMessage {
  return typeof m === 'object' && m !== null && (m as { sg?: unknown }).sg === 'dir';
}

/**
 * The primary: forks the workers, keeps the path directory, restarts dead workers. Resolves
 * when every worker has exited after `stop()`.
 */
export class WorkerPool {
  private readonly owners = new Map<string, DirectoryEntry & { worker: number }>();
  /** Camera sources by path: the worker that runs them (worker 0). */
  private readonly claims = new Map<string, DirectoryEntry & { worker: number }>();
  private stopping = false;
  private readonly secret: string;

  constructor(
    private readonly count: number,
    relaySecret: string,
    private readonly log: Logger,
  ) {
    this.secret = relaySecret || randomBytes(24).toString('base64url');
  }

  private nextCollect = 1;
  private readonly collecting = new Map<number, { parts: unknown[]; expect: number; done: (parts: unknown[]) => void }>();

  start(): void {
    cluster.on('message', (worker, message) => {
      if (isAggMessage(message)) this.onAggregate(worker, message);
      else if (isBusMessage(message)) {
        for (const w of Object.values(cluster.workers ?? {})) if (w && w !== worker && w.isConnected()) w.send(message);
      } else this.onMessage(worker, message);
    });
    cluster.on('exit', (worker, code, signal) => {
      for (const [path, entry] of this.owners) if (entry.worker === worker.id) this.owners.delete(path);
      for (const [path, entry] of this.claims) if (entry.worker === worker.id) this.claims.delete(path);
      if (this.stopping) return;
      const index = (worker as Worker & { sgIndex?: number }).sgIndex ?? 0;
      this.log.error({ worker: index, code, signal }, `worker ${index} died; restarting it`);
      setTimeout(() => this.fork(index), 500).unref();
    });
    for (let i = 0; i < this.count; i++) this.fork(i);
  }

  private fork(index: number): void {
    if (this.stopping) return;
    const worker = cluster.fork({ [WORKER_ENV.index]: String(index), [WORKER_ENV.count]: String(this.count), [WORKER_ENV.secret]: this.secret });
    (worker as Worker & { sgIndex?: number }).sgIndex = index;
  }

  private onMessage(worker: Worker, message: unknown): void {
    if (!isDirMessage(message)) return;
    if (message.op === 'set') {
      // A publish that did not claim first: it does not displace another worker's publisher.
      const current = this.owners.get(message.path);
      if (!current || current.worker === worker.id) this.owners.set(message.path, { node: message.node, url: message.url, since: current?.since ?? Date.now(), worker: worker.id });
    } else if (message.op === 'own') {
      // Entries of dead workers are gone (the 'exit' handler): an entry here is a live publisher.
      const current = this.owners.get(message.path);
      const other = current !== undefined && current.worker !== worker.id;
      if (other && !message.takeover) {
        worker.send({ sg: 'dir', op: 'owned', id: message.id, ok: false, owner: current.node } satisfies DirMessage);
        return;
      }
      if (other) cluster.workers?.[current.worker]?.send({ sg: 'dir', op: 'taken', path: message.path, by: message.node } satisfies DirMessage);
      this.owners.set(message.path, { node: message.node, url: message.url, since: Date.now(), worker: worker.id });
      worker.send({ sg: 'dir', op: 'owned', id: message.id, ok: true, owner: message.node } satisfies DirMessage);
    } else if (message.op === 'del') {
      if (this.owners.get(message.path)?.node === message.node) this.owners.delete(message.path);
    } else if (message.op === 'claim') {
      this.claims.set(message.path, { node: message.node, url: message.url, since: Date.now(), worker: worker.id });
    } else if (message.op === 'unclaim') {
      if (this.claims.get(message.path)?.node === message.node) this.claims.delete(message.path);
    } else if (message.op === 'get') {
      const entry = this.owners.get(message.path) ?? this.claims.get(message.path);
      worker.send({ sg: 'dir', op: 'got', id: message.id, entry: entry ? { node: entry.node, url: entry.url, since: entry.since } : null } satisfies DirMessage);
    }
  }

  private onAggregate(from: Worker, message: AggMessage): void {
    if (message.op === 'part') {
      const c = this.collecting.get(message.id);
      if (!c) return;
      c.parts.push(message.data);
      if (c.parts.length >= c.expect) c.done(c.parts);
      return;
    }
    if (message.op !== 'ask') return;
    const workers = this.targets(from, message.target);
    const id = this.nextCollect++;
    const reply = (parts: unknown[]) => {
      clearTimeout(timer);
      this.collecting.delete(id);
      void this.merge(message.what, parts).then(
        (data) => from.isConnected() && from.send({ sg: 'agg', op: 'done', id: message.id, data } satisfies AggMessage),
        (error: Error) => this.log.error({ err: error }, 'aggregating the workers failed'),
      );
    };
    // A worker that does not answer in time (busy, restarting) is left out rather than holding the request.
    const timer = setTimeout(() => reply(this.collecting.get(id)?.parts ?? []), 2000);
    this.collecting.set(id, { parts: [], expect: workers.length, done: reply });
    if (workers.length === 0) return reply([]);
    for (const w of workers) w.send({ sg: 'agg', op: 'collect', id, what: message.what, ...(message.request ? { request: message.request } : {}) } satisfies AggMessage);
  }

  /** The live workers a request concerns: all, worker 0, or the one that owns a path (else the one asking). */
  private targets(from: Worker, target: ApiTarget | undefined): Worker[] {
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
    if (!target || target.kind === 'all') return workers;
    if (target.kind === 'first') return workers.filter((w) => (w as Worker & { sgIndex?: number }).sgIndex === 0);
    const owner = (this.owners.get(target.path) ?? this.claims.get(target.path))?.worker;
    return workers.filter((w) => w.id === (owner ?? from.id));
  }

  private async merge(what: AggregateKind, parts: unknown[]): Promise<unknown> {
    if (what === 'api') return parts;
    if (what === 'streams') return mergeStreamEntries(parts as Entry[][]);
    // prom-client sums each series over the workers (process metrics included).
    const registry = AggregatorRegistry.aggregate(parts as Parameters<typeof AggregatorRegistry.aggregate>[0]);
    return registry.metrics();
  }

  /** SIGTERM to every worker (each stops its gateway), then waits for them. */
  async stop(): Promise<void> {
    this.stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            w.once('exit', () => resolve());
            w.process.kill('SIGTERM');
          }),
      ),
    );
  }
}

/**
 * A worker's view of the primary's directory: registers the paths its publishers claim (not
 * relays) with its private loopback URL, and looks up the owner of a path.
 */
export class WorkerDirectory {
  private nextId = 1;
  private readonly pending = new Map<number, (entry: DirectoryEntry | undefined) => void>();
  private readonly onPublish = (stream: Stream, info: PublisherInfo) => {
    if (!RELAY_PROTOCOLS.has(info.protocol)) this.send({ sg: 'dir', op: 'set', path: stream.path, ...this.self() });
  };
  private readonly onUnpublish = (stream: Stream, info: PublisherInfo) => {
    if (!RELAY_PROTOCOLS.has(info.protocol)) this.send({ sg: 'dir', op: 'del', path: stream.path, node: this.self().node });
  };
  private readonly asks = new Map<number, (data: unknown) => void>();
  /** What this worker contributes to a whole-box view. */
  collector: ((what: AggregateKind, request?: ApiRequest) => Promise<unknown>) | undefined;
  private readonly onMessage = (message: unknown) => {
    if (isAggMessage(message)) {
      if (message.op === 'done') {
        const resolve = this.asks.get(message.id);
        this.asks.delete(message.id);
        resolve?.(message.data);
      } else if (message.op === 'collect' && this.collector) {
        const id = message.id;
        this.collector(message.what, message.request).then(
          (data) => process.connected && process.send?.({ sg: 'agg', op: 'part', id, data } satisfies AggMessage),
          () => process.connected && process.send?.({ sg: 'agg', op: 'part', id, data: message.what === 'api' ? null : [] } satisfies AggMessage),
        );
      }
      return;
    }
    if (!isDirMessage(message)) return;
    if (message.op === 'owned') {
      const answer = this.claiming.get(message.id);
      this.claiming.delete(message.id);
      answer?.(message.ok, message.owner);
    } else if (message.op === 'taken') {
      const publisher = this.registry.get(message.path)?.publisher;
      if (publisher && !RELAY_PROTOCOLS.has(publisher.protocol)) publisher.close(`taken over by a publisher on ${message.by}`);
    } else if (message.op === 'got') {
      const resolve = this.pending.get(message.id);
      this.pending.delete(message.id);
      resolve?.(message.entry ?? undefined);
    }
  };
  private readonly claiming = new Map<number, (ok: boolean, owner: string) => void>();

  constructor(
    private readonly registry: StreamRegistry,
    /** This worker's node id and private loopback URL. */
    private readonly self: () => { node: string; url: string },
    /** Paths where a new publisher takes over (hub.takeoverPaths): granted whoever owns them. */
    private readonly takeover: (path: string) => boolean = () => false,
  ) {
    registry.on('publish', this.onPublish);
    registry.on('unpublish', this.onUnpublish);
    process.on('message', this.onMessage);
  }

  private send(message: DirMessage): void {
    if (process.connected) process.send?.(message);
  }

  /**
   * Claims `path` for a publisher of this worker (admission, through cluster/claims.ts); rejects
   * with PublisherConflictError when another worker of the box publishes it. A primary that does
   * not answer within 2 s (it is restarting nothing but busy) lets the publish go on.
   */
  acquire(path: string): Promise<void> {
    if (!process.connected) return Promise.resolve();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.claiming.delete(id);
        resolve();
      }, 2000);
      timer.unref();
      this.claiming.set(id, (ok, owner) => {
        clearTimeout(timer);
        if (ok) resolve();
        else reject(new PublisherConflictError(path, `path ${path} already has a publisher on another worker of this box (${owner}); stop it first or configure takeover for this path`));
      });
      this.send({ sg: 'dir', op: 'own', id, path, ...this.self(), takeover: this.takeover(path) });
    });
  }

  release(path: string): void {
    this.send({ sg: 'dir', op: 'del', path, node: this.self().node });
  }

  /** This worker runs the camera source of `path`: the others relay it from here. */
  claim(path: string): void {
    this.send({ sg: 'dir', op: 'claim', path, ...this.self() });
  }

  unclaim(path: string): void {
    this.send({ sg: 'dir', op: 'unclaim', path, node: this.self().node });
  }

  lookup(path: string): Promise<DirectoryEntry | undefined> {
    if (!process.connected) return Promise.resolve(undefined);
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, 2000);
      timer.unref();
      this.pending.set(id, (entry) => {
        clearTimeout(timer);
        resolve(entry);
      });
      this.send({ sg: 'dir', op: 'get', id, path });
    });
  }

  /** The whole box's view (the primary asks every worker, or those `target` names); rejects after 3 s. */
  aggregate(what: AggregateKind, request?: ApiRequest, target?: ApiTarget): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.asks.delete(id);
        reject(new Error('the primary did not answer'));
      }, 3000);
      timer.unref();
      this.asks.set(id, (data) => {
        clearTimeout(timer);
        resolve(data);
      });
      process.send?.({ sg: 'agg', op: 'ask', id, what, ...(request ? { request } : {}), ...(target ? { target } : {}) } satisfies AggMessage);
    });
  }

  close(): void {
    this.registry.off('publish', this.onPublish);
    this.registry.off('unpublish', this.onUnpublish);
    process.off('message', this.onMessage);
    for (const resolve of this.pending.values()) resolve(undefined);
    this.pending.clear();
    for (const answer of this.claiming.values()) answer(true, '');
    this.claiming.clear();
  }
}

/**
 * The room bus between the workers of one box when there is no Redis: events go to the primary,
 * which forwards them to every other worker, so participants whose WebSockets reached different
 * workers share their rooms. With cluster.redis.url the Redis bus is used instead (it spans the
 * workers too: each worker is a node).
 */
export class IpcRoomBus implements RoomBus {
  private readonly handlers = new Map<string, (event: BusEvent) => void>();
  private readonly onMessage = (message: unknown) => {
    if (!isBusMessage(message)) return;
    this.handlers.get(message.room)?.(message.event);
  };

  constructor(private readonly nodeId: () => string) {
    process.on('message', this.onMessage);
  }

  get node(): string {
    return this.nodeId();
  }

  publish(room: string, event: BusEvent): void {
    if (process.connected) process.send?.({ sg: 'bus', room, event } satisfies BusMessage);
  }

  subscribe(room: string, handler: (event: BusEvent) => void): Promise<void> {
    this.handlers.set(room, handler);
    return Promise.resolve();
  }

  unsubscribe(room: string): void {
    this.handlers.delete(room);
  }

  close(): void {
    process.off('message', this.onMessage);
    this.handlers.clear();
  }
}

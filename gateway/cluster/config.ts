import { z } from 'zod';
import { pathPatternSchema } from '../schemas.js';

const ms = z.number().int().min(0);

/**
 * The `cluster` config section: the Redis directory (which node publishes which path), edge
 * relays that pull from the origin on demand, and the shared relay secret. With `redis.url`
 * empty and `edge.enabled` false the gateway is one box, exactly as without this section.
 */
export const clusterConfigSchema = z
  .strictObject({
    /**
     * Processes on this box sharing the listeners (node:cluster); `auto`: one per core. A stream is
     * ingested by one worker and relayed once over loopback to each other worker with readers.
     */
    workers: z.union([z.number().int().min(1).max(256), z.literal('auto')]).default(1),
    /** This node's name in the directory; empty: `{hostname}-{http port}`. */
    nodeId: z.string().default(''),
    /** The HTTP base URL other nodes pull this node's streams from; empty: `http://{bind or hostname}:{http port}`. */
    advertise: z.union([z.literal(''), z.url({ protocol: /^https?$/ })]).default(''),
    /**
     * Signs the pulls between nodes: an edge presents an HMAC of the path (short-lived) instead
     * of a reader's token, and the origin admits it as a relay. Set the same value on every node;
     * empty: an edge forwards the reader's own query (`?token=`) to the origin.
     */
    relaySecret: z.string().default(''),
    redis: z
      .strictObject({
        /** `redis://[:password@]host:6379/0`; empty: no directory, no room bus. */
        url: z.string().default(''),
        /** Prefix of every key and channel, so several clusters can share one Redis. */
        keyPrefix: z.string().default('streamgate:'),
      })
      .prefault({}),
    directory: z
      .strictObject({
        /** A published path's entry expires this long after its node stopped refreshing it (a crashed node). */
        ttlMs: z.number().int().min(1000).default(10000),
        /** How often a node refreshes the entries of its live paths. */
        refreshMs: z.number().int().min(100).default(3000),
      })
      .prefault({}),
    standby: z
      .strictObject({
        /** Hot standby: an always-on camera source is pulled only by the gateway holding its Redis lease. */
        enabled: z.boolean().default(false),
        /** A dead holder's lease expires after this; the standby tries every third of it. */
        leaseMs: z.number().int().min(300).default(3000),
      })
      .prefault({}),
    edge: z
      .strictObject({
        /** A reader for a path this node does not have pulls it from the origin the directory (or `upstream`) names. */
        enabled: z.boolean().default(false),
        /** Paths the edge relays; others are answered here only. */
        paths: z.array(pathPatternSchema).default(['**']),
        /** A fixed upstream (`http://origin:8080`) instead of the directory: chained edges, or no Redis. */
        upstream: z.union([z.literal(''), z.url({ protocol: /^https?$/ })]).default(''),
        /** Stop pulling a path this long after its last local reader left. */
        idleCloseMs: ms.default(10000),
        /** Ask the origin (HEAD of the FLV URL with the reader's query) whether each reader may play. */
        checkWithOrigin: z.boolean().default(true),
        /** How long an origin's answer for one path and query is reused (HLS asks per segment). */
        checkCacheMs: ms.default(5000),
        /** Give up on an origin that sends nothing for this long (then reconnect). */
        readTimeoutMs: z.number().int().min(500).default(10000),
        retryInitialMs: z.number().int().min(50).default(500),
        retryMaxMs: z.number().int().min(50).default(5000),
      })
      .prefault({}),
  })
  .refine((c) => !c.standby.enabled || c.redis.url !== '', { message: 'cluster.standby.enabled needs cluster.redis.url (the leases)', path: ['standby', 'enabled'] })
  .refine((c) => !c.edge.enabled || c.redis.url !== '' || c.edge.upstream !== '', {
    message: 'cluster.edge.enabled needs cluster.redis.url (the directory) or cluster.edge.upstream',
    path: ['edge', 'enabled'],
  })
  .prefault({});

export type ClusterConfig = z.infer<typeof clusterConfigSchema>;

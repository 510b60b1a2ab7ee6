/**
 * One publisher per path for the whole cluster. Admission (core/admission.ts) claims a path here
 * before the hub takes it: first with the primary of this box (`cluster.workers` > 1: the
 * directory of cluster/workers.ts), then in the Redis directory (cluster/directory.ts: every
 * worker is a node there). A claim refused by either is the hub's own refusal,
 * PublisherConflictError (SG_ERR_PATH_BUSY), so each protocol answers it as it answers a second
 * publisher on one node: RTMP NetStream.Publish.BadName, RTSP 409, HTTP (WHIP) 409, SRT 1409.
 *
 * Relays of another process's stream (edge-pull, worker-relay) never claim: they are readers of
 * the owner. A directory that cannot answer (Redis away, the primary busy) lets the publish go
 * on locally: a field encoder must not be refused because of the directory (see directory.ts).
 */
import type { PathClaims } from '../core/admission.js';
import { RELAY_PROTOCOLS } from './directory.js';

/** One directory a claim must pass (the box's primary, Redis). */
export interface PathClaimer {
  /** Resolves once this process owns `path` there; rejects with PublisherConflictError. */
  acquire(path: string): Promise<void>;
  release(path: string): void;
}

export class ClusterClaims implements PathClaims {
  constructor(private readonly claimers: readonly PathClaimer[]) {}

  async claim(path: string, protocol: string): Promise<void> {
    if (RELAY_PROTOCOLS.has(protocol)) return;
    const done: PathClaimer[] = [];
    try {
      for (const claimer of this.claimers) {
        await claimer.acquire(path);
        done.push(claimer);
      }
    } catch (error) {
      for (const claimer of done) claimer.release(path);
      throw error;
    }
  }

  release(path: string): void {
    for (const claimer of this.claimers) claimer.release(path);
  }
}

/**
 * The admission policy of a cluster node: the gateway's own (auth's Authorizer) plus relay
 * grants and, on an edge, the origin's word. Wrapping the policy keeps every protocol on the one
 * admission path: RTMP, RTSP, HLS and FLV readers of a relayed path are all checked the same way.
 */
import type { AdmissionGrant, AdmissionPolicy, AdmissionRequest } from '../core/admission.js';
import { ForbiddenError } from '../auth/index.js';
import type { EdgeRelays } from './edge.js';
import { RELAY_QUERY, verifyRelay } from './relay-grant.js';

export class ClusterAccess implements AdmissionPolicy {
  constructor(
    private readonly inner: AdmissionPolicy,
    private readonly relaySecret: string,
    private readonly edge: EdgeRelays | undefined,
    private readonly checkWithOrigin: boolean,
  ) {}

  get maxReadersPerPath(): number | undefined {
    return this.inner.maxReadersPerPath;
  }

  async check(req: AdmissionRequest & { readonly action: 'publish' | 'play' | 'room' }): Promise<AdmissionGrant> {
    const grant = req.query[RELAY_QUERY];
    if (grant !== undefined && req.action === 'play') {
      // Another node's pull: the grant replaces the reader's token (the edge checked its readers with us).
      if (verifyRelay(this.relaySecret, req.path, grant)) return { role: 'viewer', via: 'cluster relay grant', relay: true };
      throw new ForbiddenError(this.relaySecret ? 'invalid or expired relay grant (cluster.relaySecret differs between nodes?)' : 'relay grants are not accepted here: cluster.relaySecret is not set');
    }
    const local = await this.inner.check(req);
    if (req.action === 'play' && this.checkWithOrigin && this.edge?.isRelayed(req.path)) await this.edge.checkWithOrigin(req.path, req.query);
    return local;
  }

  notify(event: 'on_unpublish' | 'on_stop', req: Pick<AdmissionRequest, 'path' | 'protocol' | 'remoteAddress' | 'query'>): void {
    this.inner.notify(event, req);
  }

  isRefusal(error: unknown): boolean {
    return this.inner.isRefusal?.(error) ?? false;
  }
}

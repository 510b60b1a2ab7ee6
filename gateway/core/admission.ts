/**
 * One admission path for every protocol. A protocol turns its request into an AdmissionRequest and
 * calls `publish` or `play`; admission authenticates (the policy: tokens, rules, webhooks), applies
 * the limits (readers per path), waits for the stream to be ready, and when the session ends — by
 * any cause: client gone, takeover, API kick, gateway stop — fires `on_unpublish` / `on_stop` once
 * and releases the reader slot. Protocols keep only their wire: mapping the error to their status.
 *
 *   RTMP publish/play, RTSP ANNOUNCE+RECORD / DESCRIBE+PLAY, HTTP-FLV, WS-FLV, HLS sessions,
 *   camera pulls and renditions (through the RTSP/RTMP they speak)  ->  Admission  ->  registry
 *
 * Refusals other than access refusals (which the policy counts itself) are counted here per
 * protocol and error code.
 */
import { errorCode, type ErrorCode, StreamgateError, StreamNotFoundError } from './errors.js';
import { validatePath } from './path.js';
import type { StreamRegistry } from './registry.js';
import type { Reader, ReaderOutput } from './reader.js';
import type { PublisherInfo, PublishSession, Stream } from './stream.js';

export type AdmissionAction = 'publish' | 'play';

/** Who asks, in protocol-neutral terms. */
export interface AdmissionRequest {
  readonly path: string;
  /** rtmp, rtsp, flv, ws-flv, hls, rtsp-pull... (logs, hooks, metrics). */
  readonly protocol: string;
  /** peerAddress(socket) of the client, or the camera's host for a pull. */
  readonly remoteAddress: string;
  readonly query: Readonly<Record<string, string>>;
  /** A credential given outside the query (RTSP Basic password, Authorization header). */
  readonly credential?: string;
}

export interface AdmissionGrant {
  readonly role: 'host' | 'viewer';
  readonly via: string;
  /** No credential was checked: the path's rule lets anyone do this. */
  readonly open?: true;
  /** The reader is another process's relay of this stream (cluster/access.ts): its stats say so. */
  readonly relay?: boolean;
}

/**
 * A rule a feature adds to every publish after access control allowed it (rooms: who has the
 * floor, publishers per room). Throws the refusal (a StreamgateError); synchronous, so the
 * decision and the claim of the path happen in one turn.
 */
export type PublishCheck = (req: AdmissionRequest, grant: AdmissionGrant) => void;

/**
 * The access decisions admission needs (implemented by auth's Authorizer; OPEN_ACCESS allows
 * everything). Declared here so the hub does not depend on how access is decided.
 */
export interface AdmissionPolicy {
  check(req: AdmissionRequest & { readonly action: AdmissionAction | 'room' }): Promise<AdmissionGrant>;
  /** The most readers a path may have; 0 = no limit. */
  readonly maxReadersPerPath?: number;
  notify(event: 'on_unpublish' | 'on_stop', req: Pick<AdmissionRequest, 'path' | 'protocol' | 'remoteAddress' | 'query'>): void;
  /** True for refusals the policy logged and counted itself. */
  isRefusal?(error: unknown): boolean;
}

/**
 * The other processes that may publish a path: the workers of this box, the nodes sharing one
 * Redis directory. A publisher claims its path there before the hub takes it, so "one publisher
 * per path" holds for the whole cluster. Declared here, implemented in cluster/claims.ts; without
 * one a path is this process's alone.
 */
export interface PathClaims {
  /** Resolves when this process may publish `path`; rejects with PublisherConflictError when another process publishes it. */
  claim(path: string, protocol: string): Promise<void>;
  /** Gives back a claim whose publish did not happen. */
  release(path: string): void;
}

/** The path already has auth.limits.maxReadersPerPath readers (SG_ERR_FORBIDDEN: HTTP 403, RTSP 403, WS 4403). */
export class ReaderLimitError extends StreamgateError {
  constructor(readonly path: string, max: number) {
    super('SG_ERR_FORBIDDEN', `${path} already has ${max} readers (auth.limits.maxReadersPerPath)`);
  }
}

/** An admitted play: the stream, and the reader slot until `release()` (or the reader's close). */
export interface PlayTicket {
  readonly stream: Stream;
  readonly grant: AdmissionGrant;
  /** Attaches the protocol's output as a hub reader; `release()` closes it. */
  addReader(output: ReaderOutput): Reader;
  /** Ends the play (call it when the connection ends): closes the reader, fires on_stop once, frees the slot. Idempotent. */
  release(): void;
  readonly released: boolean;
}

/** An admitted publish; `session.close()` (or any other end of the publish) fires on_unpublish. */
export interface PublishTicket {
  readonly session: PublishSession;
  readonly grant: AdmissionGrant;
}

export interface PlayOptions {
  /** Wait for the stream to become ready (default); false: it must exist already. */
  readonly wait?: boolean;
  /** Skip the access check (the caller authenticated differently, e.g. RTSP Digest); hooks and limits still apply. */
  readonly authenticated?: AdmissionGrant;
}

export interface PublishOptions {
  /** Skip the access check: a publisher the operator configured (camera pull), or one authenticated otherwise. */
  readonly authenticated?: AdmissionGrant;
}

export class Admission {
  /** Active play tickets per path (the reader limit counts these). */
  private readonly playing = new Map<string, number>();
  private readonly publishChecks: PublishCheck[] = [];

  constructor(
    private readonly registry: StreamRegistry,
    private readonly policy: AdmissionPolicy,
    /** Counts a refusal for metrics (`reason` is an error code). */
    private readonly refused: (protocol: string, reason: string) => void = () => {},
    private readonly claims?: PathClaims,
  ) {}

  /** Adds a rule every later publish must pass (after access control, before the path is claimed). */
  addPublishCheck(check: PublishCheck): void {
    this.publishChecks.push(check);
  }

  /** Readers admitted on `path` right now (every protocol, HLS sessions included). */
  readersOf(path: string): number {
    return this.playing.get(path) ?? 0;
  }

  /**
   * Authorizes a publisher and claims the path. `publisher.close(reason)` is how the gateway ends
   * it (takeover, kick, stop). Throws the refusal (typed: UnauthorizedError, ForbiddenError,
   * PublisherConflictError, InvalidPathError...).
   */
  async publish(req: AdmissionRequest, publisher: Pick<PublisherInfo, 'close' | 'requestKeyframe'>, options: PublishOptions = {}): Promise<PublishTicket> {
    try {
      const grant = options.authenticated ?? (await this.policy.check({ ...req, action: 'publish' }));
      const info: PublisherInfo = {
        protocol: req.protocol,
        remoteAddress: req.remoteAddress,
        query: req.query,
        close: publisher.close,
        requestKeyframe: publisher.requestKeyframe,
      };
      const claimed = await this.claim(req);
      let session: PublishSession;
      try {
        // Checked in the same turn as the claim of the path: two publishes at once cannot both pass a limit.
        for (const check of this.publishChecks) check(req, grant);
        session = this.registry.publish(req.path, info);
      } catch (error) {
        // Not published after all (a local conflict, a publish check): the claim goes back unless a publisher of ours holds the path.
        if (claimed && !this.registry.get(req.path)?.publisher) this.claims!.release(req.path);
        throw error;
      }
      const stream = this.registry.get(req.path)!;
      // The publish is over when the stream says so for this publisher, or when another one takes
      // the path (takeover detaches the old session without an unpublish of its own).
      const done = () => {
        stream.off('unpublish', onUnpublish);
        stream.off('publisher', onPublisher);
        this.policy.notify('on_unpublish', req);
      };
      const onUnpublish = (ended: PublisherInfo) => {
        if (ended === info) done();
      };
      const onPublisher = (next: PublisherInfo) => {
        if (next !== info) done();
      };
      stream.on('unpublish', onUnpublish);
      stream.on('publisher', onPublisher);
      return { session, grant };
    } catch (error) {
      this.countRefusal(req.protocol, error);
      throw error;
    }
  }

  /**
   * Claims the path with the rest of the cluster; false when there was nothing to claim: no
   * cluster, or a publisher of this process holds the path already (the hub then refuses or
   * takes over, as on one node).
   */
  private async claim(req: AdmissionRequest): Promise<boolean> {
    if (!this.claims) return false;
    validatePath(req.path);
    if (this.registry.get(req.path)?.publisher) return false;
    await this.claims.claim(req.path, req.protocol);
    return true;
  }

  /**
   * The access decision alone, for a request that is not a session of its own (an HLS segment
   * fetched without a session id). Throws the refusal.
   */
  async authorize(req: AdmissionRequest, action: AdmissionAction): Promise<AdmissionGrant> {
    try {
      return await this.policy.check({ ...req, action });
    } catch (error) {
      this.countRefusal(req.protocol, error);
      throw error;
    }
  }

  /** Authorizes a reader, waits for the stream, applies the reader limit. Throws the refusal. */
  async play(req: AdmissionRequest, options: PlayOptions = {}): Promise<PlayTicket> {
    let stream: Stream;
    let grant: AdmissionGrant;
    try {
      grant = options.authenticated ?? (await this.policy.check({ ...req, action: 'play' }));
      if (options.wait === false) {
        const existing = this.registry.get(req.path);
        if (!existing) throw new StreamNotFoundError(req.path);
        stream = existing;
      } else {
        stream = await this.registry.waitReady(req.path);
      }
      const max = this.policy.maxReadersPerPath ?? 0;
      if (max > 0 && this.readersOf(req.path) >= max) throw new ReaderLimitError(req.path, max);
    } catch (error) {
      this.countRefusal(req.protocol, error);
      throw error;
    }
    return this.ticket(req, stream, grant);
  }

  private ticket(req: AdmissionRequest, stream: Stream, grant: AdmissionGrant): PlayTicket {
    const path = req.path;
    this.playing.set(path, this.readersOf(path) + 1);
    let released = false;
    let reader: Reader | undefined;
    const release = () => {
      if (released) return;
      released = true;
      const n = this.readersOf(path) - 1;
      if (n <= 0) this.playing.delete(path);
      else this.playing.set(path, n);
      reader?.close();
      this.policy.notify('on_stop', req);
    };
    return {
      stream,
      grant,
      get released() {
        return released;
      },
      addReader: (output) => {
        // The protocol releases the ticket when its connection ends (every reader close ends it,
        // except an RTSP PAUSE, which keeps the session and its slot).
        reader = stream.addReader(output);
        if (grant.relay) reader.relay = true;
        return reader;
      },
      release,
    };
  }

  /**
   * Counts a refusal a protocol made itself: a URL that names no valid path, a connection closed
   * for breaking the protocol (`fallback`: the code of errors that are not ours).
   */
  refuse(protocol: string, error: unknown, fallback?: ErrorCode): void {
    this.countRefusal(protocol, error, fallback);
  }

  private countRefusal(protocol: string, error: unknown, fallback?: ErrorCode): void {
    if (this.policy.isRefusal?.(error)) return;
    this.refused(protocol, errorCode(error, fallback));
  }
}

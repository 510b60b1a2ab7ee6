/**
 * The composition root: builds every server from one Config. Nothing here is process-wide, so
 * several gateways can run side by side in one process (tests start them on port 0).
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { hostname } from 'node:os';
import express, { type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { Metrics } from './api/metrics.js';
import { Authorizer, ConnectionLimiter, adminMiddleware, contentMiddleware } from './auth/index.js';
import { ConfigError } from './core/errors.js';
import { contentOf } from './api/content.js';
import { streamEntry, streamsRouter } from './api/streams.js';
import { tokensRouter } from './api/tokens.js';
import type { Config } from './config.js';
import { Admission } from './core/admission.js';
import { sourcesRouter } from './sources/api.js';
import { SourceManager } from './sources/manager.js';
import { rtspPullKind } from './protocols/rtsp/pull.js';
import { StreamRegistry } from './core/registry.js';
import { matchPathPattern } from './core/path.js';
import { HttpServer } from './http/server.js';
import { playerDir } from './http/static.js';
import { createLogger, type RootLogger } from './log.js';
import { FlvServer } from './protocols/flv/server.js';
import { RtmpServer } from './protocols/rtmp/server.js';
import { RtspServer } from './protocols/rtsp/server.js';
import { SrtServer } from './protocols/srt/server.js';
import { WebRtcServer } from './protocols/webrtc/server.js';
import { Rooms } from './rooms/rooms.js';
import { HlsServer } from './protocols/hls/server.js';
import { Recorder } from './record/recorder.js';
import { Transcoder } from '../transcode/transcoder.js';
import { ClusterAccess } from './cluster/access.js';
import { ClusterClaims } from './cluster/claims.js';
import { Directory } from './cluster/directory.js';
import { EdgeRelays } from './cluster/edge.js';
import { RedisLink } from './cluster/redis.js';
import { RedisRoomBus } from './cluster/bus.js';
import { SourceLeases } from './cluster/lease.js';
import { IpcRoomBus, WorkerDirectory, type WorkerIdentity } from './cluster/workers.js';
import { type ApiPart, isReplay, replay, wholeNodeMiddleware } from './cluster/whole-node.js';

export interface GatewayPorts {
  http: number;
  rtmp: number | undefined;
  rtsp: number | undefined;
  /** UDP. */
  srt: number | undefined;
  https: number | undefined;
  rtmps: number | undefined;
}

/** What a reload (SIGHUP) did with each changed setting. */
export interface ReloadResult {
  applied: string[];
  failed: string[];
  /** Changed settings the running gateway cannot take over (dotted keys, e.g. `http.port`). */
  restartNeeded: string[];
}

/** Dotted keys (two levels deep at most, e.g. `hub.maxReaderLagMs`, `sources`) whose values differ. */
export function changedSettings(a: Config, b: Config): string[] {
  const out: string[] = [];
  const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y);
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = (a as Record<string, unknown>)[key];
    const y = (b as Record<string, unknown>)[key];
    if (same(x, y)) continue;
    const plain = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (plain(x) && plain(y) && key !== 'sources') {
      const xs = x as Record<string, unknown>;
      const ys = y as Record<string, unknown>;
      for (const sub of new Set([...Object.keys(xs), ...Object.keys(ys)])) if (!same(xs[sub], ys[sub])) out.push(`${key}.${sub}`);
    } else out.push(key);
  }
  return out;
}

export interface GatewayOptions {
  /** A logger to use instead of one built from config.log (tests pass a silent one). */
  logger?: Logger;
  /** Set when the primary of `cluster.workers` forked this process (cluster/workers.ts). */
  worker?: WorkerIdentity;
}

export class Gateway {
  readonly log: Logger;
  readonly registry: StreamRegistry;
  readonly http: HttpServer;
  readonly rtmp: RtmpServer | undefined;
  readonly rtsp: RtspServer | undefined;
  readonly srt: SrtServer | undefined;
  readonly webrtc: WebRtcServer | undefined;
  readonly rooms: Rooms;
  readonly hls: HlsServer;
  readonly metrics: Metrics;
  readonly auth: Authorizer;
  private readonly limiter: ConnectionLimiter;
  private readonly apiGate: RequestHandler;
  /** The one admission path every protocol goes through (auth, limits, readiness, stop hooks). */
  readonly admission: Admission;
  /** Supervised camera pulls (GET/POST/DELETE /api/v1/sources). */
  readonly sources: SourceManager;
  readonly recorder: Recorder;
  readonly transcoder: Transcoder;
  private readonly flv: FlvServer;
  /** Redis (directory, room bus, leases) when cluster.redis.url is set. */
  readonly redis: RedisLink | undefined;
  readonly directory: Directory | undefined;
  /** Edge relays when cluster.edge.enabled. */
  readonly edge: EdgeRelays | undefined;
  /** With cluster.workers > 1: the primary's directory of this box's workers. */
  readonly workers: WorkerDirectory | undefined;
  private readonly worker: WorkerIdentity | undefined;
  /** This worker's own loopback HTTP port (other workers pull from it); 0 when not a worker. */
  privatePort = 0;
  private started = false;
  readonly startedAt = Date.now();
  ports: GatewayPorts = { http: 0, rtmp: undefined, rtsp: undefined, srt: undefined, https: undefined, rtmps: undefined };

  constructor(
    readonly config: Config,
    options: GatewayOptions = {},
  ) {
    this.log = options.logger ?? createLogger(config.log.level, undefined, config.log.format);
    const hub = config.hub;
    this.registry = new StreamRegistry(
      {
        maxReaderLagMs: hub.maxReaderLagMs,
        maxReaderQueueBytes: hub.maxReaderQueueBytes,
        readerStallTimeoutMs: hub.readerStallTimeoutMs,
        publisherGraceMs: hub.publisherGraceMs,
        readyTimeoutMs: hub.readyTimeoutMs,
        takeoverPaths: hub.takeoverPaths,
        writeMergeMs: hub.writeMergeMs,
        holdAudioForVideo: hub.holdAudioForVideo,
        maxBytes: hub.gopCacheMaxBytes,
        maxDurationMs: hub.gopCacheMaxDurationMs,
      },
      this.log.child({ component: 'hub' }),
    );
    this.registry.on('listenerError', (error, event) => this.log.error({ err: error, event }, 'hub listener failed'));

    this.metrics = new Metrics(this.registry);
    const refused = (protocol: string, reason: string) => this.metrics.refused(protocol, reason);
    const authLog = this.log.child({ component: 'auth' });
    this.auth = new Authorizer(config.auth, authLog, refused);
    this.limiter = new ConnectionLimiter(() => this.auth.config.limits, authLog, refused);
    this.apiGate = adminMiddleware(this.auth, authLog, refused);
    const cluster = config.cluster;
    const clusterLog = this.log.child({ component: 'cluster' });
    this.redis = cluster.redis.url ? new RedisLink(cluster.redis.url, cluster.redis.keyPrefix, clusterLog) : undefined;
    const leases = this.redis && cluster.standby.enabled ? new SourceLeases(this.redis, () => this.nodeId, cluster.standby.leaseMs, clusterLog.child({ role: 'standby' })) : undefined;
    const takeover = (path: string) => hub.takeoverPaths.some((p) => matchPathPattern(p, path));
    this.directory = this.redis
      ? new Directory(this.redis, this.registry, cluster.directory, () => ({ node: this.nodeId, url: this.advertisedUrl }), clusterLog, { takeover, leased: (path) => leases?.holds(path) ?? false })
      : undefined;
    this.worker = options.worker && options.worker.count > 1 ? options.worker : undefined;
    this.workers = this.worker ? new WorkerDirectory(this.registry, () => ({ node: this.nodeId, url: `http://127.0.0.1:${this.privatePort}` }), takeover) : undefined;
    const relaySecret = this.worker?.relaySecret || cluster.relaySecret;
    this.edge =
      cluster.edge.enabled || this.workers
        ? new EdgeRelays({
            config: cluster,
            edgeEnabled: cluster.edge.enabled,
            directory: this.directory,
            workers: this.workers,
            relaySecret,
            registry: this.registry,
            admission: () => this.admission,
            nodeId: () => this.nodeId,
            servedLocally: (path) => this.sources.canServe(path) || (config.transcode.enabled && this.transcoder.renditions.canServe(path)),
            log: clusterLog.child({ role: 'edge' }),
          })
        : undefined;
    // The workers of one box share one auth config: no origin check between them, only on an edge.
    const policy = relaySecret || this.edge ? new ClusterAccess(this.auth, relaySecret, this.edge, cluster.edge.enabled && cluster.edge.checkWithOrigin) : this.auth;
    // One publisher per path for the whole cluster: the box's workers first, then the Redis directory.
    const claimers = [this.workers, this.directory].filter((c) => c !== undefined);
    const claims = claimers.length > 0 ? new ClusterClaims(claimers) : undefined;
    this.admission = new Admission(this.registry, policy, (p, r) => this.metrics.refused(p, r), claims);
    // Camera pulls, whatever the listeners: rtsp.enabled turns the RTSP server off, not the pulls.
    this.sources = new SourceManager([rtspPullKind(config.rtsp, this.log.child({ component: 'sources' }))], this.admission, this.log.child({ component: 'sources' }), leases);
    this.registry.addDemandHandler(this.sources);
    this.http = new HttpServer(config.http, this.log.child({ component: 'http' }));
    this.rtsp = config.rtsp.enabled
      ? new RtspServer({ admission: this.admission, config: config.rtsp, log: this.log.child({ component: 'rtsp' }), access: this.auth })
      : undefined;
    this.transcoder = new Transcoder({
      registry: this.registry,
      config: config.transcode,
      log: this.log.child({ component: 'transcode' }),
      ports: () => this.ports,
      auth: this.auth,
      roomAudio: {
        muted: (path) => this.rooms.audioMuted(path),
        cleanup: (path) => config.rooms.audioCleanup.find((c) => matchPathPattern(c.paths, path))?.filter,
      },
    });
    // SRT runs libsrt in an ffmpeg child per connection: the transcoder's binary (FFMPEG_PATH, PATH, bundled).
    this.srt = config.srt.enabled
      ? new SrtServer({ admission: this.admission, config: config.srt, log: this.log.child({ component: 'srt' }), ffmpegPath: () => this.transcoder.binary().path })
      : undefined;
    this.webrtc = config.webrtc.enabled
      ? new WebRtcServer({
          admission: this.admission,
          // Workers cannot share an ICE mux socket: worker i takes udpPort + i (open that range).
          config: this.worker && config.webrtc.udpPort > 0 ? { ...config.webrtc, udpPort: config.webrtc.udpPort + this.worker.index } : config.webrtc,
          log: this.log.child({ component: 'webrtc' }),
          bindAddress: config.bind,
          // A directory per worker: two workers creating the files at once could pair one's key with the other's certificate.
          certificateDir: this.worker ? join(config.dataDir, 'webrtc', `worker-${this.worker.index}`) : join(config.dataDir, 'webrtc'),
          peek: (path) => this.registry.get(path),
          renditionFor: (path, needs) => this.webrtcRendition(path, needs),
        })
      : undefined;
    this.hls = new HlsServer({ registry: this.registry, config: config.hls, log: this.log.child({ component: 'hls' }), admission: this.admission });
    this.recorder = new Recorder({ registry: this.registry, config: config.record, dataDir: config.dataDir, log: this.log.child({ component: 'record' }) });
    const bus = this.redis
      ? new RedisRoomBus(this.redis, () => this.nodeId, this.log.child({ component: 'rooms', bus: 'redis' }))
      : options.worker && options.worker.count > 1
        ? new IpcRoomBus(() => this.nodeId)
        : undefined;
    this.rooms = new Rooms({
      registry: this.registry,
      config: config.rooms,
      dataDir: config.dataDir,
      log: this.log.child({ component: 'rooms' }),
      access: this.auth,
      derived: (path) => this.transcoder.derives(path),
      onFloorChanged: (room) => this.transcoder.mixes.refresh(room),
      ...(bus ? { bus } : {}),
    });
    // Talkback: who may publish into a room's path space (rooms.publish, maxPublishers, revokes).
    this.admission.addPublishCheck(this.rooms.checkPublish);
    this.flv = new FlvServer(this.admission, this.log.child({ component: 'flv' }));
    const app = this.http.app;
    if (this.worker) {
      // Which worker answered (node:cluster spreads connections): for operators and the scale tests.
      const index = String(this.worker.index);
      app.use((_req, res, next) => {
        res.setHeader('x-streamgate-worker', index);
        next();
      });
    }
    app.get('/healthz', (_req, res) => {
      res.json({ status: 'ok', uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000), streams: this.registry.list().length });
    });
    if (config.tls.redirectHttp && config.tls.cert) {
      // Pages and API move to HTTPS; media URLs stay reachable on HTTP for players that need it.
      app.use((req, res, next) => {
        if ((req.socket as { encrypted?: boolean }).encrypted || /\.(flv|m3u8|m4s|mp4|ts)$/.test(req.path)) return next();
        const host = (req.headers.host ?? 'localhost').replace(/:\d+$/, '');
        res.redirect(301, `https://${host}:${this.ports.https}${req.originalUrl}`);
      });
    }
    app.get('/', (_req, res) => res.redirect(302, '/player/admin.html'));
    app.use('/player', express.static(playerDir(), { index: 'index.html', fallthrough: true, maxAge: 0 }));
    // A request another worker replays here for the whole box (cluster/whole-node.ts) was admitted there.
    const replayed = (req: IncomingMessage) => this.worker !== undefined && isReplay(req, this.worker.relaySecret, this.privatePort);
    app.use('/api/v1', (req, res, next) => (replayed(req) ? next() : this.apiGate(req, res, next)));
    // Metrics name every path: they are an API read (open unless admin.publicReads is false).
    app.use('/metrics', this.apiGate);
    app.use('/api/v1', contentMiddleware(this.auth, contentOf));
    const workers = this.workers;
    // With cluster.workers > 1 the console's endpoints answer for the whole box.
    if (workers) app.use(wholeNodeMiddleware({ ask: (request, target) => workers.aggregate('api', request, target) as Promise<(ApiPart | null)[]>, isReplay: replayed }));
    // What a console needs to build URLs: the listeners' ports (0 = not listening).
    app.get('/api/v1/server', (_req, res) => {
      res.json({ name: 'streamgate', startedAt: new Date(this.startedAt).toISOString(), ports: this.ports });
    });
    // SRT connections with their relay and MPEG-TS counters (continuity errors, resyncs...).
    app.get('/api/v1/srt/connections', (_req, res) => {
      res.json({ enabled: this.srt !== undefined, connections: (this.srt?.list() ?? []).map((c) => c.info()) });
    });
    // WHIP/WHEP sessions with their ICE pair and RTCP counters (RTT, NACKs, loss).
    app.get('/api/v1/webrtc/sessions', (_req, res) => {
      res.json({ enabled: this.webrtc !== undefined, sessions: this.webrtc?.infos() ?? [] });
    });
    app.use(this.recorder.router());
    app.use(this.transcoder.router());
    if (workers) {
      // The whole box: every worker's streams merged by the primary (`?local=1`: this worker's only).
      workers.collector = async (what, request) => {
        if (what === 'api') return request ? replay(this.worker!.index, this.privatePort, this.worker!.relaySecret, request) : null;
        if (what === 'streams') return this.registry.list().map((s) => ({ ...streamEntry(s), ...this.transcoder.streamExtras(s), worker: this.worker!.index }));
        return this.metrics.registry.getMetricsAsJSON();
      };
      app.get('/api/v1/streams', (req, res, next) => {
        if (req.query.local !== undefined) return next();
        workers.aggregate('streams').then((streams) => res.json({ streams }), next);
      });
      app.get('/metrics', (req, res, next) => {
        if (req.query.local !== undefined) return next();
        workers.aggregate('metrics').then((text) => res.type(this.metrics.registry.contentType).send(text), next);
      });
    }
    app.use(streamsRouter(this.registry, this.transcoder.streamExtras));
    app.use(
      tokensRouter(this.auth, () => ({
        http: this.ports.http,
        rtmp: this.ports.rtmp ?? config.rtmp.port,
        rtsp: this.ports.rtsp ?? config.rtsp.port,
      })),
    );
    app.use(this.metrics.router());
    // Sources added or removed through the API (on worker 0, cluster/whole-node.ts): the other workers relay them from there.
    app.use(sourcesRouter(this.sources, this.log.child({ component: 'sources' }), workers ? (path, added) => (added ? workers.claim(path) : workers.unclaim(path)) : undefined));
    if (config.rooms.enabled) app.use(this.rooms.router());
    if (this.webrtc) app.use(this.webrtc.handle);
    app.use(this.hls.router());
    app.use((req, res, next) => {
      if ((req.method === 'GET' || req.method === 'HEAD') && req.path.endsWith('.flv')) {
        void this.flv.handleHttp(req, res);
        return;
      }
      next();
    });
    this.metrics.addSources(() => this.sources.list().map((source) => source.info()));
    const renditions = this.transcoder.renditions;
    this.metrics.addGauge('streamgate_transcode_jobs', 'Transcode jobs by state', ['state'], () => {
      const counts = new Map<string, number>();
      for (const job of renditions.jobs()) counts.set(job.state, (counts.get(job.state) ?? 0) + 1);
      return [...counts].map(([state, value]) => ({ labels: { state }, value }));
    });
    this.metrics.addGauge('streamgate_transcode_job_restarts', 'Restarts of each running transcode job', ['path'], () =>
      renditions.jobs().map((job) => ({ labels: { path: job.path }, value: job.restarts })),
    );
    this.metrics.addGauge('streamgate_srt_connections', 'SRT caller connections by state', ['state'], () => {
      const counts = new Map<string, number>();
      for (const c of this.srt?.list() ?? []) counts.set(c.state, (counts.get(c.state) ?? 0) + 1);
      return [...counts].map(([state, value]) => ({ labels: { state }, value }));
    });
    this.metrics.addGauge('streamgate_webrtc_sessions', 'WHIP/WHEP sessions by kind and state', ['kind', 'state'], () => {
      const counts = new Map<string, { kind: string; state: string; value: number }>();
      for (const s of this.webrtc?.list() ?? []) {
        const key = `${s.kind}/${s.state}`;
        const c = counts.get(key) ?? { kind: s.kind, state: s.state, value: 0 };
        c.value++;
        counts.set(key, c);
      }
      return [...counts.values()].map((c) => ({ labels: { kind: c.kind, state: c.state }, value: c.value }));
    });
    this.metrics.addGauge('streamgate_webrtc_overload', 'WebRTC overload guard: event loop delay p99 (ms) over the last second, and sessions closed to shed load', ['what'], () =>
      this.webrtc?.overload ? [{ labels: { what: 'lag_ms' }, value: this.webrtc.overload.lagMs }, { labels: { what: 'shed_sessions' }, value: this.webrtc.overload.shed }] : [],
    );
    this.metrics.addRooms(() => this.rooms.list().map((room) => ({ path: room.path, participants: room.participants.size, messages: room.lastMessageId })));
    // Camera sources run in one process: worker 0 of cluster.workers (the others relay them from it,
    // so a camera gets one connection, not one per worker).
    if (!this.worker || this.worker.index === 0) for (const [path, source] of Object.entries(config.sources)) this.sources.add(path, source);
    // Edge relays come last: a local camera source or rendition of the path wins over the origin.
    if (this.edge) this.registry.addDemandHandler(this.edge);
    app.get('/api/v1/cluster', (_req, res) => {
      res.json({
        nodeId: this.nodeId,
        advertise: this.advertisedUrl,
        worker: this.worker ? { index: this.worker.index, count: this.worker.count, pid: process.pid } : null,
        redis: { configured: this.redis !== undefined, connected: this.redis?.ready ?? false },
        directory: this.directory?.paths ?? [],
        edge: { enabled: this.edge !== undefined, relays: this.edge?.list() ?? [] },
      });
    });
    this.metrics.addGauge('streamgate_cluster_redis_up', 'Whether the Redis of the cluster directory and room bus is connected (absent without cluster.redis.url)', [], () =>
      this.redis ? [{ labels: {}, value: this.redis.ready ? 1 : 0 }] : [],
    );
    this.metrics.addGauge('streamgate_edge_relays', 'Paths this edge pulls from their origin', [], () => (this.edge ? [{ labels: {}, value: this.edge.list().length }] : []));
    this.http.addUpgradeHandler(this.rooms.handleUpgrade);
    this.http.addUpgradeHandler(this.flv.handleUpgrade);
    this.http.finish();

    this.rtmp = config.rtmp.enabled
      ? new RtmpServer(this.admission, config.rtmp, this.log.child({ component: 'rtmp' }))
      : undefined;
  }

  /**
   * The rendition a WebRTC reader of `path` plays when the stream's codecs cannot go over WebRTC:
   * `webrtc` (H.264 + Opus) when both need work, else `h264` for the video or `opus` for the audio,
   * whichever profile the transcoder has. Undefined: play the stream as it is (what can be sent).
   */
  private webrtcRendition(path: string, needs: { video: boolean; audio: boolean }): string | undefined {
    const t = this.config.transcode;
    if (!t.enabled) return undefined;
    const has = (p: string) => Object.hasOwn(t.profiles, p);
    const pick = needs.video && needs.audio ? ['webrtc', 'h264'] : needs.video ? ['h264', 'webrtc'] : ['opus', 'webrtc'];
    const profile = pick.find(has);
    return profile ? `${path}_${profile}` : undefined;
  }

  /** This node's name in the cluster directory. */
  get nodeId(): string {
    const base = this.config.cluster.nodeId || `${hostname()}-${this.ports.http}`;
    return this.worker ? `${base}-w${this.worker.index}` : base;
  }

  /** The HTTP base URL other nodes pull this node's streams from. */
  get advertisedUrl(): string {
    if (this.config.cluster.advertise) return this.config.cluster.advertise.replace(/\/+$/, '');
    const bind = this.config.bind;
    const host = bind === '0.0.0.0' || bind === '::' ? hostname() : bind.includes(':') ? `[${bind}]` : bind;
    return `http://${host}:${this.ports.http}`;
  }

  /** Starts every listener; logs one line per listener with the port it got. */
  async start(): Promise<GatewayPorts> {
    if (this.started) return this.ports;
    this.started = true;
    const host = this.config.bind;
    this.http.connectionGate = (address) => this.limiter.acquire(address, 'http');
    if (this.rtmp) this.rtmp.connectionGate = (address) => this.limiter.acquire(address, 'rtmp');
    if (this.rtsp) this.rtsp.connectionGate = (address) => this.limiter.acquire(address, 'rtsp');
    if (this.srt) this.srt.connectionGate = (address) => this.limiter.acquire(address, 'srt');
    try {
      // Recordings are indexed (and crash leftovers trimmed) before anything listens, so the
      // first API answer already lists them.
      await this.recorder.start();
      this.ports.http = await this.http.listen(this.config.http.port, host);
      this.log.info({ listener: 'http', port: this.ports.http }, `HTTP (FLV, WS-FLV, HLS, API, player) listening on http://${host}:${this.ports.http}`);
      if (this.worker) {
        this.privatePort = await this.http.listenPrivate();
        this.log.info({ listener: 'http-private', port: this.privatePort, worker: this.worker.index }, `worker ${this.worker.index}: loopback relay listener on http://127.0.0.1:${this.privatePort}`);
      }
      if (this.rtmp) {
        this.ports.rtmp = await this.rtmp.listen(this.config.rtmp.port, host);
        this.log.info({ listener: 'rtmp', port: this.ports.rtmp }, `RTMP listening on rtmp://${host}:${this.ports.rtmp}`);
      }
      const tls = this.tlsCredentials();
      if (tls) {
        this.ports.https = await this.http.listenTls(this.config.tls.httpsPort, host, tls);
        this.log.info({ listener: 'https', port: this.ports.https }, `HTTPS (FLV, WSS-FLV, HLS, API, player) listening on https://${host}:${this.ports.https}`);
        if (this.rtmp) {
          this.ports.rtmps = await this.rtmp.listenTls(this.config.tls.rtmpsPort, host, tls);
          this.log.info({ listener: 'rtmps', port: this.ports.rtmps }, `RTMPS listening on rtmps://${host}:${this.ports.rtmps}`);
        }
      }
      if (this.rtsp) {
        this.ports.rtsp = await this.rtsp.listen(this.config.rtsp.port, host);
        this.log.info({ listener: 'rtsp', port: this.ports.rtsp }, `RTSP listening on rtsp://${host}:${this.ports.rtsp}`);
      }
      if (this.srt) {
        this.ports.srt = await this.srt.listen(this.config.srt.port, host);
        this.log.info({ listener: 'srt', port: this.ports.srt }, `SRT listening on srt://${host}:${this.ports.srt} (UDP; streamid=#!::r={app}/{name},m=publish)`);
      }
      if (this.webrtc) {
        this.webrtc.listen();
        const udp = this.webrtc.udpPort;
        this.log.info(
          { component: 'webrtc', udpPort: udp },
          `WebRTC: WHEP/WHIP on http://${host}:${this.ports.http}/{app}/{name}/whep|whip; ICE over UDP ${udp > 0 ? `port ${udp} (shared by every session)` : 'on a port per session'}`,
        );
      }
      // Always-on camera pulls start once everything listens (renditions of them need the listeners).
      this.sources.run();
      // The other workers learn where the camera sources run (the private port is known now).
      if (this.workers) for (const source of this.sources.list()) this.workers.claim(source.path);
      await this.transcoder.start();
      if (this.srt) void this.srt.checkFfmpeg();
    } catch (error) {
      await this.stop();
      throw error;
    }
    return this.ports;
  }

  private tlsCredentials(): { cert: Buffer; key: Buffer } | undefined {
    const { cert, key } = this.config.tls;
    if (!cert || !key) return undefined;
    try {
      return { cert: readFileSync(cert), key: readFileSync(key) };
    } catch (error) {
      throw new ConfigError(`cannot read tls.cert/tls.key: ${(error as Error).message}`);
    }
  }

  /** Re-reads the certificate and key (SIGHUP); live connections keep theirs, nothing is dropped. */
  reloadTls(): void {
    const tls = this.tlsCredentials();
    if (!tls) return;
    this.http.reloadTls(tls);
    this.rtmp?.reloadTls(tls);
    this.log.info('TLS certificate reloaded');
  }

  /**
   * SIGHUP: applies what can change without dropping a stream (log.level, auth, the TLS certificate
   * re-read from its files) and logs every other changed setting as needing a restart. A part that
   * fails to apply is logged and the running one kept.
   */
  reload(next: Config): ReloadResult {
    const result: ReloadResult = { applied: [], failed: [], restartNeeded: [] };
    const changed = changedSettings(this.config, next);
    const setLevel = (this.log as Partial<RootLogger>).setLevelEverywhere;
    if (next.log.level !== this.log.level && setLevel) {
      setLevel(next.log.level);
      result.applied.push('log.level');
    }
    if (JSON.stringify(next.auth) !== JSON.stringify(this.auth.config)) {
      try {
        this.auth.reload(next.auth);
        result.applied.push('auth');
      } catch (error) {
        result.failed.push('auth');
        this.log.error({ err: error }, `reload: auth not applied, keeping the running rules: ${(error as Error).message}`);
      }
    }
    for (const key of changed) {
      if (key.startsWith('auth.') || (key === 'log.level' && setLevel)) continue;
      result.restartNeeded.push(key);
    }
    if (this.tlsCredentials() && !result.restartNeeded.some((k) => k.startsWith('tls.'))) {
      try {
        this.reloadTls();
        result.applied.push('tls certificate');
      } catch (error) {
        result.failed.push('tls certificate');
        this.log.error({ err: error }, `reload: TLS certificate not reloaded, keeping the current one: ${(error as Error).message}`);
      }
    }
    const applied = result.applied.length ? result.applied.join(', ') : 'nothing changed that applies live';
    const restart = result.restartNeeded.length ? `; restart to apply: ${result.restartNeeded.join(', ')}` : '';
    this.log.info({ applied: result.applied, restartNeeded: result.restartNeeded }, `reload: applied ${applied}${restart}`);
    return result;
  }

  /** Stops listeners, ends every stream and closes every connection. Idempotent. */
  async stop(): Promise<void> {
    this.edge?.close();
    this.sources.close();
    this.transcoder.close();
    this.registry.close();
    this.flv.close();
    this.webrtc?.close();
    // Rooms first, so participants get a proper close frame before the HTTP sockets go.
    await this.rooms.close();
    await Promise.all([this.rtmp?.close(), this.rtsp?.close(), this.srt?.close(), this.hls.close(), this.recorder.close(), this.http.close()]);
    // Directory entries go last but before Redis: a stopped node must not stay an origin.
    this.workers?.close();
    await this.sources.closeGate();
    await this.directory?.close();
    await this.redis?.close();
  }
}

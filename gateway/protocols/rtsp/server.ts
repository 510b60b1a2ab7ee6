/**
 * The RTSP server (ANNOUNCE/RECORD push, DESCRIBE/PLAY play; TCP interleaved and UDP) and the
 * camera pulls (sources) with their API under /api/v1/sources.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import express, { type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { StreamgateError } from '../../core/errors.js';
import { isValidPath } from '../../core/path.js';
import { sendError } from '../../http/errors.js';
import type { StreamRegistry } from '../../core/registry.js';
import type { Stream } from '../../core/stream.js';
import { type RtspConfig, sourceConfigSchema, type sourcesConfigSchema } from './config.js';
import { RtspStreamFormat } from './from-stream.js';
import { RtspConnection, type RtspSessionContext } from './session.js';
import { SourceManager } from './source.js';
import { UdpServerPair } from './udp.js';
import { admit, type ConnectionGate, listenOn } from '../../net/listen.js';
import { type AccessControl, OPEN_ACCESS } from '../../auth/index.js';

export interface RtspDeps {
  readonly registry: StreamRegistry;
  readonly config: RtspConfig;
  /** Who may publish and play; absent means open. */
  readonly access?: AccessControl;
  readonly sources: z.infer<typeof sourcesConfigSchema>;
  readonly log: Logger;
}

export class RtspServer {
  private server: Server | undefined;
  private udp: UdpServerPair | undefined;
  private readonly connections = new Set<RtspConnection>();
  /** RTP state per stream (one RtspStreamFormat each); dropped with the stream. */
  private readonly formats = new WeakMap<Stream, RtspStreamFormat>();
  readonly sources: SourceManager;
  private readonly context: RtspSessionContext;
  /** Admits or refuses a new connection (connection limits); returns its release function. */
  connectionGate: ConnectionGate | undefined;

  constructor(readonly deps: RtspDeps) {
    const { registry, config, log } = deps;
    this.sources = new SourceManager(config, registry, log.child({ role: 'pull' }));
    for (const [path, source] of Object.entries(deps.sources)) this.sources.add(path, source);
    registry.addDemandHandler(this.sources);
    const self = this;
    this.context = {
      paths: registry,
      config,
      access: deps.access ?? OPEN_ACCESS,
      get udp() {
        return self.udp;
      },
      formatFor: (stream) => {
        let format = this.formats.get(stream);
        if (!format) {
          format = new RtspStreamFormat(stream);
          this.formats.set(stream, format);
        }
        return format;
      },
    };
  }

  /** Routes under /api/v1/sources: list, add, show, remove camera pulls. */
  router(): Router {
    const router = express.Router();
    const json = express.json({ limit: '16kb' });
    const pathOf = (req: Request) => {
      const parts = (req.params as Record<string, string[] | string>).path;
      return Array.isArray(parts) ? parts.join('/') : String(parts ?? '');
    };
    const error = (res: Response, status: number, code: string, message: string) => res.status(status).json({ error: { code, message } });
    router.get('/api/v1/sources', (_req, res) => {
      res.json({ sources: this.sources.list().map((s) => s.info()) });
    });
    router.post('/api/v1/sources', json, (req, res) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const path = typeof body.path === 'string' ? body.path : '';
      if (!isValidPath(path)) return error(res, 400, 'SG_ERR_INVALID_PATH', 'body.path must be a stream path like cams/gate1');
      const { path: _omit, ...rest } = body;
      const parsed = sourceConfigSchema.safeParse(rest);
      if (!parsed.success) {
        const message = parsed.error.issues.map((i) => (i.code === 'unrecognized_keys' ? `unknown key ${i.keys.join(', ')}` : `${i.path.join('.') || 'body'}: ${i.message}`)).join('; ');
        return error(res, 400, 'SG_ERR_CONFIG', message);
      }
      try {
        const source = this.sources.add(path, parsed.data);
        this.deps.log.info({ source: path }, 'source added through the API');
        res.status(201).json(source.info());
      } catch (e) {
        if (e instanceof StreamgateError) return sendError(res, e);
        throw e;
      }
    });
    router.get('/api/v1/sources/*path', (req, res) => {
      const source = this.sources.get(pathOf(req));
      if (!source) return error(res, 404, 'SG_ERR_STREAM_NOT_FOUND', `no source for ${pathOf(req)}`);
      res.json(source.info());
    });
    router.delete('/api/v1/sources/*path', (req, res) => {
      if (!this.sources.remove(pathOf(req))) return error(res, 404, 'SG_ERR_STREAM_NOT_FOUND', `no source for ${pathOf(req)}`);
      this.deps.log.info({ source: pathOf(req) }, 'source removed through the API');
      res.status(204).end();
    });
    return router;
  }

  async listen(port: number, host: string): Promise<number> {
    const { config, log } = this.deps;
    if (config.udp) {
      this.udp = await UdpServerPair.open(config.udpRtpPort, host);
      const [rtp, rtcp] = this.udp.ports;
      log.info({ rtpPort: rtp, rtcpPort: rtcp }, `RTSP UDP transport on ports ${rtp}-${rtcp}`);
    }
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    try {
      await listenOn(server, port, host, (error) => log.error({ err: error }, 'RTSP listener error'));
    } catch (error) {
      this.udp?.close();
      this.udp = undefined;
      throw error;
    }
    this.sources.run();
    return (server.address() as AddressInfo).port;
  }

  private accept(socket: Socket): void {
    if (!admit(socket, this.connectionGate)) return;
    const connection = new RtspConnection(socket, this.context, this.deps.log, (c) => this.connections.delete(c));
    this.connections.add(connection);
  }

  async close(): Promise<void> {
    this.sources.close();
    for (const c of [...this.connections]) c.close();
    const server = this.server;
    this.server = undefined;
    this.udp?.close();
    this.udp = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { httpStatusOf, InvalidRequestError, NotFoundError } from '../core/errors.js';
import { admit, type ConnectionGate, listenOn, peerAddress } from '../net/listen.js';
import { rejectUpgrade, sendError } from './errors.js';

/** Handles a WebSocket upgrade for the paths it claims; returns false to pass. */
export type UpgradeHandler = (req: IncomingMessage, socket: Socket, head: Buffer, pathname: string) => boolean;

export interface HttpOptions {
  readonly corsOrigin: string;
  readonly maxPathLength: number;
  readonly headersTimeoutMs: number;
}

/**
 * The one HTTP server: an express app for requests, and a dispatch table for WebSocket upgrades
 * (WS-FLV, rooms). Tracks its sockets so stop() does not wait for long-lived FLV responses.
 */
export class HttpServer {
  readonly app: Express;
  readonly server: Server;
  private readonly upgradeHandlers: UpgradeHandler[] = [];
  private readonly sockets = new Set<Socket>();
  private tlsServer: HttpsServer | undefined;
  private privateServer: Server | undefined;
  /** Admits or refuses a new connection (connection limits); returns its release function. */
  connectionGate: ConnectionGate | undefined;

  constructor(
    private readonly options: HttpOptions,
    private readonly log: Logger,
  ) {
    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);
    app.use((req: Request, res: Response, next: NextFunction) => {
      if (req.url.length > options.maxPathLength) {
        res.status(414).json({ error: { code: 'SG_ERR_INVALID_PATH', message: `request path longer than ${options.maxPathLength} characters` } });
        return;
      }
      res.setHeader('Access-Control-Allow-Origin', options.corsOrigin);
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PATCH, DELETE, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, Range');
      res.setHeader('Access-Control-Expose-Headers', 'Content-Length, Content-Range');
      if (req.method === 'OPTIONS') {
        res.status(204).end();
        return;
      }
      next();
    });
    this.app = app;
    // Check header timeouts every second instead of Node's default 30 s (slowloris).
    this.server = createServer({ connectionsCheckingInterval: 1000 }, app);
    this.server.on('connection', (socket: Socket) => this.track(socket));
    this.configure(this.server);
  }

  /** What HTTP and HTTPS share: slowloris timeouts, answers to malformed requests, upgrades. */
  private configure(server: Server | HttpsServer): void {
    server.headersTimeout = this.options.headersTimeoutMs;
    server.requestTimeout = Math.max(this.options.headersTimeoutMs, 30_000);
    server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') {
        socket.destroy();
        return;
      }
      this.log.info({ conn: peerAddress(socket as Socket), err: error.message }, 'bad HTTP request');
      const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      if ((socket as Socket).writable) (socket as Socket).end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`, () => socket.destroy());
      else socket.destroy();
    });
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
  }

  private track(socket: Socket): void {
    if (!admit(socket, this.connectionGate)) return;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }

  /** HTTPS (and WSS) on the same app and upgrade handlers. */
  async listenTls(port: number, host: string, credentials: { cert: Buffer; key: Buffer }): Promise<number> {
    const server = createHttpsServer({ cert: credentials.cert, key: credentials.key, connectionsCheckingInterval: 1000 }, this.app);
    server.on('secureConnection', (socket: Socket) => this.track(socket));
    this.configure(server);
    server.on('tlsClientError', (error, socket) => {
      this.log.info({ conn: peerAddress(socket), err: error.message }, 'TLS handshake failed');
    });
    this.tlsServer = server;
    return listenOn(server, port, host, (error) => this.log.error({ err: error }, 'HTTPS listener error'));
  }

  /** New certificate and key for new connections; established ones keep theirs. */
  reloadTls(credentials: { cert: Buffer; key: Buffer }): void {
    this.tlsServer?.setSecureContext({ cert: credentials.cert, key: credentials.key });
  }

  addUpgradeHandler(handler: UpgradeHandler): void {
    this.upgradeHandlers.push(handler);
  }

  /** Registered after every route: JSON 404 and error handlers. */
  finish(): void {
    this.app.use((req: Request, res: Response) => {
      sendError(res, new NotFoundError(`nothing at ${req.method} ${req.path}`));
    });
    this.app.use((error: Error, req: Request, res: Response, _next: NextFunction) => {
      const status = httpStatusOf(error);
      if (status >= 500) this.log.error({ err: error, path: req.path }, 'request failed');
      // express's own errors (a body over the parser's limit: 413) keep their status; their code is SG_ERR_INVALID_REQUEST.
      if (!res.headersSent) sendError(res, error, status < 500 ? 'SG_ERR_INVALID_REQUEST' : 'SG_ERR_INTERNAL');
      else res.end();
    });
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://x').pathname;
    } catch {
      rejectUpgrade(socket, new InvalidRequestError('bad request URL'));
      return;
    }
    if ((req.url ?? '').length > this.options.maxPathLength) {
      rejectUpgrade(socket, new InvalidRequestError('request path too long'));
      return;
    }
    for (const handler of this.upgradeHandlers) {
      if (handler(req, socket, head, pathname)) return;
    }
    rejectUpgrade(socket, new NotFoundError(`no WebSocket endpoint at ${pathname}`));
  }

  /**
   * A second listener on loopback, port 0, this process's own (`exclusive`: under node:cluster it
   * is not shared with the other workers): how the other workers pull this worker's streams.
   */
  async listenPrivate(): Promise<number> {
    const server = createServer({ connectionsCheckingInterval: 1000 }, this.app);
    server.on('connection', (socket: Socket) => this.track(socket));
    this.configure(server);
    this.privateServer = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => resolve((server.address() as { port: number }).port));
    });
  }

  async listen(port: number, host: string): Promise<number> {
    return listenOn(this.server, port, host, (error) => this.log.error({ err: error }, 'HTTP listener error'));
  }

  async close(): Promise<void> {
    const servers: (Server | HttpsServer)[] = [this.server];
    if (this.tlsServer) servers.push(this.tlsServer);
    if (this.privateServer) servers.push(this.privateServer);
    const closed = servers.map((server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve())));
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(closed);
  }
}

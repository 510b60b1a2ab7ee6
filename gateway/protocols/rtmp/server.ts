import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { admit, type ConnectionGate, listenOn, peerAddress } from '../../net/listen.js';
import { routeEngineLogs } from './engine.js';
import { rtmpFormat } from './from-stream.js';
import type { Admission } from '../../core/admission.js';
import { RtmpSession, type RtmpSessionOptions } from './session.js';

/** Listens for RTMP connections and owns their sessions. */
export class RtmpServer {
  private server: Server | undefined;
  private tlsServer: TlsServer | undefined;
  /** Admits or refuses a new connection (connection limits); returns its release function. */
  connectionGate: ConnectionGate | undefined;
  private readonly sessions = new Set<RtmpSession>();
  private readonly format;
  private unrouteLogs: (() => void) | undefined;

  constructor(
    private readonly admission: Admission,
    private readonly options: RtmpSessionOptions,
    private readonly log: Logger,
  ) {
    this.format = rtmpFormat(options.outChunkSize);
  }

  async listen(port: number, host: string): Promise<number> {
    const engineLog = this.log.child({ engine: 'node-media-server' });
    this.unrouteLogs = routeEngineLogs((level, message) => {
      const fn = level === 'error' ? engineLog.warn : level === 'warn' ? engineLog.info : engineLog.debug;
      fn.call(engineLog, message);
    });
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    return listenOn(server, port, host, (error) => this.log.error({ err: error }, 'RTMP listener error'));
  }

  /** RTMPS: the same sessions over TLS. */
  async listenTls(port: number, host: string, credentials: { cert: Buffer; key: Buffer }): Promise<number> {
    const server = createTlsServer({ cert: credentials.cert, key: credentials.key }, (socket) => this.accept(socket));
    server.on('tlsClientError', (error, socket) => this.log.info({ conn: peerAddress(socket), err: error.message }, 'RTMPS handshake failed'));
    this.tlsServer = server;
    return listenOn(server, port, host, (error) => this.log.error({ err: error }, 'RTMPS listener error'));
  }

  reloadTls(credentials: { cert: Buffer; key: Buffer }): void {
    this.tlsServer?.setSecureContext({ cert: credentials.cert, key: credentials.key });
  }

  private accept(socket: Socket): void {
    if (!admit(socket, this.connectionGate)) return;
    const session = new RtmpSession(socket, this.admission, this.format, this.options, this.log, (s) => this.sessions.delete(s));
    this.sessions.add(session);
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  async close(): Promise<void> {
    this.unrouteLogs?.();
    for (const session of [...this.sessions]) session.close();
    for (const server of [this.server, this.tlsServer]) {
      if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    this.server = undefined;
    this.tlsServer = undefined;
  }
}

/**
 * The RTSP server: ANNOUNCE/RECORD push, DESCRIBE/PLAY play; TCP interleaved and UDP. Camera
 * pulls are not here: gateway/sources supervises them, with protocols/rtsp/pull.ts as the driver.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Admission } from '../../core/admission.js';
import type { Stream } from '../../core/stream.js';
import type { RtspConfig } from './config.js';
import { RtspStreamFormat } from './from-stream.js';
import { RtspConnection, type RtspSessionContext } from './connection.js';
import { UdpServerPair } from './udp.js';
import { admit, type ConnectionGate, listenOn } from '../../net/listen.js';
import { type AccessControl, OPEN_ACCESS } from '../../auth/index.js';

export interface RtspDeps {
  /** Every ANNOUNCE and DESCRIBE goes through it. */
  readonly admission: Admission;
  readonly config: RtspConfig;
  /** Static keys for RTSP Digest (keys mode); absent means none. */
  readonly access?: Pick<AccessControl, 'digestSecrets'>;
  readonly log: Logger;
}

export class RtspServer {
  private server: Server | undefined;
  private udp: UdpServerPair | undefined;
  private readonly connections = new Set<RtspConnection>();
  /** RTP state per stream (one RtspStreamFormat each); dropped with the stream. */
  private readonly formats = new WeakMap<Stream, RtspStreamFormat>();
  private readonly context: RtspSessionContext;
  /** Admits or refuses a new connection (connection limits); returns its release function. */
  connectionGate: ConnectionGate | undefined;

  constructor(readonly deps: RtspDeps) {
    const { admission, config } = deps;
    const self = this;
    this.context = {
      admission,
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
    return (server.address() as AddressInfo).port;
  }

  private accept(socket: Socket): void {
    if (!admit(socket, this.connectionGate)) return;
    const connection = new RtspConnection(socket, this.context, this.deps.log, (c) => this.connections.delete(c));
    this.connections.add(connection);
  }

  async close(): Promise<void> {
    for (const c of [...this.connections]) c.close();
    const server = this.server;
    this.server = undefined;
    this.udp?.close();
    this.udp = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

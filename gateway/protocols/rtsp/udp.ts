/**
 * UDP transport (RFC 2326 §12.39 client_port/server_port): a pair of sockets, RTP on an even
 * port and RTCP on the next one. The server shares one pair among all sessions and tells
 * packets apart by source address; the client opens one pair per track.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

export type UdpHandler = (packet: Buffer, rtcp: boolean) => void;

const BIND_ATTEMPTS = 20;

function bindSocket(port: number, host: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
    socket.once('error', (error) => {
      socket.close();
      reject(error);
    });
    socket.bind(port, host, () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}

/** Binds an even/odd pair; port 0 tries free even ports until the odd neighbour is free too. */
export async function bindUdpPair(rtpPort: number, host: string): Promise<[Socket, Socket]> {
  let lastError: unknown;
  for (let attempt = 0; attempt < (rtpPort === 0 ? BIND_ATTEMPTS : 1); attempt++) {
    let rtp: Socket | undefined;
    try {
      rtp = await bindSocket(rtpPort, host);
      const port = rtp.address().port;
      if (port % 2 !== 0) {
        rtp.close();
        continue;
      }
      const rtcp = await bindSocket(port + 1, host);
      return [rtp, rtcp];
    } catch (error) {
      lastError = error;
      rtp?.close();
    }
  }
  throw new Error(`cannot bind a UDP port pair for RTP/RTCP on ${host}:${rtpPort}: ${lastError instanceof Error ? lastError.message : 'no even/odd pair free'}`);
}

/** The server's shared pair: packets are routed to the session registered for their source. */
export class UdpServerPair {
  private readonly routes = new Map<string, UdpHandler>();
  /** Packets from unknown sources, and send errors: counters, not log lines. */
  unknownPackets = 0;
  sendErrors = 0;

  private constructor(
    readonly rtp: Socket,
    readonly rtcp: Socket,
  ) {
    rtp.on('message', (msg, rinfo) => this.route(msg, rinfo, false));
    rtcp.on('message', (msg, rinfo) => this.route(msg, rinfo, true));
    // A send to a closed client port yields ICMP errors on some systems: never fatal.
    rtp.on('error', () => this.sendErrors++);
    rtcp.on('error', () => this.sendErrors++);
  }

  static async open(rtpPort: number, host: string): Promise<UdpServerPair> {
    const [rtp, rtcp] = await bindUdpPair(rtpPort, host);
    return new UdpServerPair(rtp, rtcp);
  }

  get ports(): [number, number] {
    return [this.rtp.address().port, this.rtcp.address().port];
  }

  private route(msg: Buffer, rinfo: RemoteInfo, rtcp: boolean): void {
    // IPv4 peers of a dual-stack socket appear as ::ffff:a.b.c.d; sessions register plain IPv4.
    const address = rinfo.address.startsWith('::ffff:') ? rinfo.address.slice(7) : rinfo.address;
    const handler = this.routes.get(`${address}:${rinfo.port}`);
    if (handler) handler(msg, rtcp);
    else this.unknownPackets++;
  }

  /** Routes packets from `address:port` to `handler` until the returned function is called. */
  register(address: string, port: number, handler: UdpHandler): () => void {
    const key = `${address}:${port}`;
    this.routes.set(key, handler);
    return () => {
      if (this.routes.get(key) === handler) this.routes.delete(key);
    };
  }

  private readonly onSent = (error: Error | null) => {
    if (error) this.sendErrors++;
  };

  send(rtcp: boolean, bytes: Buffer, offset: number, length: number, port: number, address: string): void {
    (rtcp ? this.rtcp : this.rtp).send(bytes, offset, length, port, address, this.onSent);
  }

  close(): void {
    this.routes.clear();
    this.rtp.close();
    this.rtcp.close();
  }
}

/** auth.limits.maxConnections / maxConnectionsPerIp, counted across RTMP, RTSP and HTTP. */
import type { Logger } from 'pino';
import { clientIp } from './address.js';
import type { AuthConfig } from './config.js';

export type Refused = (protocol: string, reason: string) => void;

export class ConnectionLimiter {
  private readonly perIp = new Map<string, number>();
  private total = 0;

  constructor(
    /** Read per connection, so a reload (SIGHUP) applies to the next one. */
    private readonly limits: () => AuthConfig['limits'],
    private readonly log: Logger,
    private readonly refused: Refused = () => {},
  ) {}

  /** Counts a new connection; returns a release function, or undefined when a limit refuses it. */
  acquire(remoteAddress: string, protocol: string): (() => void) | undefined {
    const { maxConnections, maxConnectionsPerIp } = this.limits();
    const ip = clientIp(remoteAddress);
    const mine = this.perIp.get(ip) ?? 0;
    const ipFull = maxConnectionsPerIp > 0 && mine >= maxConnectionsPerIp;
    if (ipFull || (maxConnections > 0 && this.total >= maxConnections)) {
      this.refused(protocol, 'SG_ERR_CONNECTION_LIMIT');
      this.log.warn({ conn: remoteAddress, protocol }, `connection refused: ${ipFull ? `more than ${maxConnectionsPerIp} connections from ${ip}` : `more than ${maxConnections} connections`}`);
      return undefined;
    }
    this.total++;
    this.perIp.set(ip, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const n = (this.perIp.get(ip) ?? 1) - 1;
      if (n <= 0) this.perIp.delete(ip);
      else this.perIp.set(ip, n);
    };
  }
}

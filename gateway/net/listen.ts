import type { AddressInfo, Server, Socket } from 'node:net';

/**
 * Starts listening; resolves with the bound port (port 0 picks one) or rejects with the listen
 * error. Errors after that (an accept failing with EMFILE) go to `onError`: a listener without an
 * 'error' handler would end the process.
 */
export async function listenOn(server: Server, port: number, host: string, onError: (error: Error) => void): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', onError);
  return (server.address() as AddressInfo).port;
}

/** Admits or refuses a new connection (connection limits); returns its release function. */
export type ConnectionGate = (remoteAddress: string) => (() => void) | undefined;

/** Applies a gate to an accepted socket: false (and the socket destroyed) when refused. */
export function admit(socket: Socket, gate: ConnectionGate | undefined): boolean {
  if (!gate) return true;
  const release = gate(peerAddress(socket));
  if (!release) {
    socket.destroy();
    return false;
  }
  socket.once('close', release);
  return true;
}

/**
 * A peer as the gateway names it in logs, limits and access checks: `address:port`
 * (`10.0.0.5:51234`, `::1:51234`; clientIp in auth takes the address back out).
 */
export function peerAddress(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  return `${socket.remoteAddress}:${socket.remotePort}`;
}

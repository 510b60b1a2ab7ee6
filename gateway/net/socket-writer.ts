import type { Socket } from 'node:net';

/**
 * Bytes a reader's socket may hold in Node's own buffer before the hub treats the reader as
 * congested and starts queueing (and, past maxReaderLagMs, dropping) frames. Larger than a
 * socket's default highWaterMark (16 KiB) so a write-merge window or one big keyframe does not
 * count as congestion; small enough that 1000 stalled readers cost little memory beyond the
 * kernel's buffers.
 */
export const SOCKET_BUFFER_LIMIT = 256 * 1024;

/** socket.write for hub readers: true while the socket's backlog is under SOCKET_BUFFER_LIMIT. */
export function writeToSocket(socket: Socket, bytes: Buffer): boolean {
  socket.write(bytes);
  return socket.writableLength < SOCKET_BUFFER_LIMIT;
}

/** cork/uncork hooks for the hub's write-merge window (hub.writeMergeMs). */
export function socketCorking(socket: Socket): { cork(): void; uncork(): void } {
  return {
    cork: () => socket.cork(),
    uncork: () => {
      if (!socket.destroyed) socket.uncork();
    },
  };
}

/** How long a closed reader's socket may take to flush its last bytes before it is destroyed. */
export const CLOSE_LINGER_MS = 2000;

/**
 * Ends a reader's socket: what is queued may still go out for CLOSE_LINGER_MS, then the socket is
 * destroyed. A peer that stopped reading but keeps its connection open (a frozen tab, a hung NVR)
 * would otherwise hold the descriptor, the queued bytes and its connection slot forever: end()
 * alone waits for a flush that never comes.
 */
export function endSocket(socket: Socket): void {
  if (socket.destroyed) return;
  socket.end();
  const timer = setTimeout(() => socket.destroy(), CLOSE_LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

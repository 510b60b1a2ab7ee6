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

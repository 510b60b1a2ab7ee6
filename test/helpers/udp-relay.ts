import { createSocket, type Socket } from 'node:dgram';
import { prng } from './prng.js';

export interface LossyRelay {
  /** The relay's port on 127.0.0.1: callers connect here instead of to the target. */
  readonly port: number;
  readonly stats: { forwarded: number; dropped: number };
  close(): Promise<void>;
}

/**
 * A UDP relay on loopback between callers and `targetPort`, dropping `loss` (0-1) of the packets
 * in each direction: a lossy link for SRT without netem (which needs root and a namespace).
 * Each caller gets its own upstream socket, so the target sees one peer per caller.
 */
export async function lossyRelay(targetPort: number, loss: number, seed = 1): Promise<LossyRelay> {
  const random = prng(seed);
  const front = createSocket('udp4');
  const uplinks = new Map<string, Socket>();
  const stats = { forwarded: 0, dropped: 0 };
  const pass = () => {
    if (random() < loss) {
      stats.dropped++;
      return false;
    }
    stats.forwarded++;
    return true;
  };
  front.on('message', (msg, from) => {
    const key = `${from.address}:${from.port}`;
    let up = uplinks.get(key);
    if (!up) {
      up = createSocket('udp4');
      up.on('message', (back) => {
        if (pass()) front.send(back, from.port, from.address);
      });
      up.bind(0, '127.0.0.1');
      uplinks.set(key, up);
    }
    if (pass()) up.send(msg, targetPort, '127.0.0.1');
  });
  await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', () => resolve()));
  return {
    port: front.address().port,
    stats,
    async close() {
      for (const up of uplinks.values()) up.close();
      await new Promise<void>((resolve) => front.close(() => resolve()));
    },
  };
}

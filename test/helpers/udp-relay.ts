import { createSocket, type Socket } from 'node:dgram';
import { prng } from './prng.js';

export interface LossyRelay {
  /** The relay's port on 127.0.0.1: callers connect here instead of to the target. */
  readonly port: number;
  readonly stats: { forwarded: number; dropped: number };
  close(): Promise<void>;
}

export interface RelayOptions {
  /** Only packets this accepts may be dropped (e.g. RTP media, never STUN or DTLS). */
  only?: (msg: Buffer) => boolean;
  /** Drop in one direction only: `up` is caller to target, `down` target to caller. */
  direction?: 'up' | 'down';
}

/**
 * RTP media of a WebRTC transport, told apart from STUN (first byte 0-3), DTLS (20-63) and RTCP
 * (payload types 192-223 with the marker bit) as RFC 7983 and RFC 5761 do. The packets stay
 * SRTP-encrypted; only the clear header is read. `video` narrows it to the payload types listed.
 */
export function isRtpMedia(payloadTypes?: readonly number[]): (msg: Buffer) => boolean {
  return (msg) => {
    if (msg.length < 12 || msg[0]! < 128 || msg[0]! > 191) return false;
    const pt = msg[1]! & 0x7f;
    if (pt >= 64 && pt <= 95) return false;
    return payloadTypes === undefined || payloadTypes.includes(pt);
  };
}

/**
 * A UDP relay on loopback between callers and `targetPort`, dropping `loss` (0-1) of the packets
 * in each direction: a lossy link for SRT and WebRTC without netem (which needs root and a namespace).
 * Each caller gets its own upstream socket, so the target sees one peer per caller.
 */
export async function lossyRelay(targetPort: number, loss: number, seed = 1, opts: RelayOptions = {}): Promise<LossyRelay> {
  const random = prng(seed);
  const droppable = opts.only ?? (() => true);
  const front = createSocket('udp4');
  const uplinks = new Map<string, Socket>();
  const stats = { forwarded: 0, dropped: 0 };
  const pass = (msg: Buffer, dir: 'up' | 'down') => {
    if ((opts.direction === undefined || opts.direction === dir) && droppable(msg) && random() < loss) {
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
        if (pass(back, 'down')) front.send(back, from.port, from.address);
      });
      up.bind(0, '127.0.0.1');
      uplinks.set(key, up);
    }
    if (pass(msg, 'up')) up.send(msg, targetPort, '127.0.0.1');
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

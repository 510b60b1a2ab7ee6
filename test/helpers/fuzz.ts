/** Mutation fuzzing helpers shared by the fuzz suites (seeded by test/helpers/prng.ts). */
import { connect, type Socket } from 'node:net';

/** Byte flips, truncation, insertion and duplication of a valid input. */
export function mutate(input: Buffer, rnd: () => number): Buffer {
  let b = Buffer.from(input);
  const ops = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < ops; i++) {
    const r = rnd();
    const at = Math.floor(rnd() * Math.max(1, b.length));
    if (r < 0.5 && b.length > 0) b[at] = Math.floor(rnd() * 256);
    else if (r < 0.65) b = b.subarray(0, at);
    else if (r < 0.8) b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 16) }, () => Math.floor(rnd() * 256))), b.subarray(at)]);
    else if (r < 0.9) b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + 64), b.subarray(at)]);
    else if (b.length > 4) b.writeUInt32BE(Math.floor(rnd() * 2 ** 32), Math.min(at, b.length - 4));
  }
  return b;
}

/** Sends `bytes` on a new connection and waits for the server to close it or a short timeout. */
export function shoot(port: number, bytes: Buffer, waitMs = 150): Promise<void> {
  return new Promise((resolve) => {
    const s: Socket = connect(port, '127.0.0.1');
    s.on('error', () => {});
    s.on('data', () => {});
    const done = () => {
      clearTimeout(t);
      s.destroy();
      resolve();
    };
    const t = setTimeout(done, waitMs);
    s.on('close', done);
    s.on('connect', () => s.write(bytes));
  });
}

export async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

import { createServer, connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { CLOSE_LINGER_MS, endSocket } from '../../../gateway/net/socket-writer.js';

describe('endSocket', () => {
  it('destroys a socket whose peer stopped reading once the linger has passed (end() alone waits forever)', async () => {
    let serverSide!: Socket;
    const server = createServer((s) => (serverSide = s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const client = connect((server.address() as { port: number }).port, '127.0.0.1');
    client.pause(); // a frozen tab: connected, never reading
    try {
      await new Promise<void>((r) => client.once('connect', () => r()));
      while (!serverSide) await new Promise((r) => setTimeout(r, 5));
      serverSide.on('error', () => {});
      // Fill the kernel buffers and Node's own: the flush end() waits for cannot happen.
      for (let i = 0; i < 64 && serverSide.writableLength < 4 * 1024 * 1024; i++) serverSide.write(Buffer.alloc(256 * 1024));
      await new Promise((r) => setTimeout(r, 100));
      expect(serverSide.writableLength).toBeGreaterThan(0);
      const started = Date.now();
      const closed = new Promise<void>((r) => serverSide.once('close', () => r()));
      endSocket(serverSide);
      await closed;
      expect(Date.now() - started).toBeGreaterThanOrEqual(CLOSE_LINGER_MS - 50);
      expect(Date.now() - started).toBeLessThan(CLOSE_LINGER_MS + 1000);
    } finally {
      client.destroy();
      await new Promise((r) => server.close(r));
    }
  });

  it('lets a reading peer get everything before the socket closes', async () => {
    let serverSide!: Socket;
    const server = createServer((s) => (serverSide = s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const client = connect((server.address() as { port: number }).port, '127.0.0.1');
    let received = 0;
    client.on('data', (d: Buffer) => (received += d.length));
    try {
      await new Promise<void>((r) => client.once('connect', () => r()));
      while (!serverSide) await new Promise((r) => setTimeout(r, 5));
      serverSide.write(Buffer.alloc(1024 * 1024));
      endSocket(serverSide);
      await new Promise<void>((r) => client.once('end', () => r()));
      expect(received).toBe(1024 * 1024);
    } finally {
      client.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});

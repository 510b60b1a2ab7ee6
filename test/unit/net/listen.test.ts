import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { listenOn } from '../../../gateway/net/listen.js';

describe('listenOn', () => {
  it('hands errors after listening (an accept failing with EMFILE) to onError instead of ending the process', async () => {
    const server = createServer();
    const errors: Error[] = [];
    const port = await listenOn(server, 0, '127.0.0.1', (error) => errors.push(error));
    expect(port).toBeGreaterThan(0);
    // With no 'error' listener, this emit would throw (and, from an accept, end the process).
    expect(() => server.emit('error', Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' }))).not.toThrow();
    expect(errors.map((e) => e.message)).toEqual(['accept EMFILE']);
    await new Promise((r) => server.close(r));
  });

  it('rejects with the listen error (a port in use)', async () => {
    const first = createServer();
    const port = await listenOn(first, 0, '127.0.0.1', () => {});
    await expect(listenOn(createServer(), port, '127.0.0.1', () => {})).rejects.toThrow(/EADDRINUSE/);
    await new Promise((r) => first.close(r));
  });
});

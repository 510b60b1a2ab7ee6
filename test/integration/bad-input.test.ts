import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeAmf0 } from '../../gateway/formats/amf0.js';
import { publish, type Publisher } from '../helpers/ffmpeg.js';
import { readFlv, type FlvCapture } from '../helpers/flv-client.js';
import { sleep, startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { rawRtmp, waitForText } from '../helpers/rtmp-client.js';
import { hasTool } from '../helpers/tools.js';

/**
 * Each case sends one kind of bad input on its own connection. The connection must close with a
 * log line naming the peer, and the live stream beside it must keep flowing.
 */
describe.skipIf(!hasTool('ffmpeg'))('bad input closes only the offending connection', () => {
  let g: TestGateway;
  let pub: Publisher;
  let watcher: FlvCapture;
  let rtmpPort: number;
  let httpPort: number;

  beforeAll(async () => {
    g = await startGateway({ rtmp: { handshakeTimeoutMs: 800, maxMessageSize: 1024 * 1024 } });
    rtmpPort = Number(new URL(g.rtmp).port);
    httpPort = Number(new URL(g.http).port);
    pub = publish(`${g.rtmp}/live/steady`, {});
    await waitFor('stream ready', () => g.gw.registry.get('live/steady')?.ready, 15_000);
    watcher = readFlv(`${g.http}/live/steady.flv`);
    await waitFor('watcher receiving', () => watcher.tags.length > 10);
  });

  afterAll(async () => {
    watcher?.close();
    await pub?.stop();
    await g?.stop();
  });

  /** The stream keeps flowing: the watcher gets new tags, the publisher is still there. */
  async function expectStreamStillFlowing(): Promise<void> {
    const n = watcher.tags.length;
    await waitFor('new tags on the healthy stream', () => watcher.tags.length > n + 10, 5000);
    expect(g.gw.registry.get('live/steady')?.publisher).toBeDefined();
  }

  function loggedFor(port: number, text: string): boolean {
    return g.logs.some((l) => String(l.msg).includes(`127.0.0.1:${port}`) && String(l.msg).includes(text));
  }

  it('garbage bytes instead of a handshake', async () => {
    const s = connect(rtmpPort, '127.0.0.1');
    s.on('error', () => {});
    await new Promise((r) => s.once('connect', r));
    const port = s.localPort!;
    s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n' + 'x'.repeat(3000));
    await new Promise((r) => s.once('close', r));
    await waitFor('log line', () => loggedFor(port, 'not an RTMP client'));
    await expectStreamStillFlowing();
  });

  it('a truncated handshake that never finishes', async () => {
    const s = connect(rtmpPort, '127.0.0.1');
    s.on('error', () => {});
    await new Promise((r) => s.once('connect', r));
    const port = s.localPort!;
    s.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(100)]));
    const closed = await Promise.race([new Promise((r) => s.once('close', () => r('closed'))), sleep(5000).then(() => 'open')]);
    expect(closed).toBe('closed');
    await waitFor('log line', () => loggedFor(port, 'no publish or play within'));
    await expectStreamStillFlowing();
  });

  it('an absurd chunk size', async () => {
    const c = await rawRtmp(rtmpPort);
    const port = c.socket.localPort!;
    c.setChunkSize(0x7fffffff);
    await c.closed;
    await waitFor('log line', () => loggedFor(port, 'chunk size 2147483647 is out of range'));
    await expectStreamStillFlowing();
  });

  it('a chunk size of zero', async () => {
    const c = await rawRtmp(rtmpPort);
    const port = c.socket.localPort!;
    c.setChunkSize(0);
    await c.closed;
    await waitFor('log line', () => loggedFor(port, 'chunk size 0 is out of range'));
  });

  it('a message longer than maxMessageSize', async () => {
    const c = await rawRtmp(rtmpPort);
    const port = c.socket.localPort!;
    const h = Buffer.from([0x06, 0, 0, 0, 0xff, 0xff, 0xff, 9, 1, 0, 0, 0, 0x17]);
    c.send(h);
    await c.closed;
    await waitFor('log line', () => loggedFor(port, 'exceeds the limit'));
  });

  it('a type 0 header in the middle of a message (it handed readers a half-filled buffer)', async () => {
    const c = await rawRtmp(rtmpPort);
    const port = c.socket.localPort!;
    // Audio message of 1000 bytes announced; 128 bytes (one chunk) follow; then a new type 0 header on the same chunk stream.
    const first = Buffer.concat([Buffer.from([0x04, 0, 0, 0, 0, 0x03, 0xe8, 8, 1, 0, 0, 0]), Buffer.alloc(128, 0xaf)]);
    const second = Buffer.concat([Buffer.from([0x04, 0, 0, 0, 0, 0, 200, 8, 1, 0, 0, 0]), Buffer.alloc(72, 0xaf)]);
    c.send(Buffer.concat([first, second]));
    await c.closed;
    await waitFor('log line', () => loggedFor(port, 'a type 0 header in the middle of a message'));
    await expectStreamStillFlowing();
  });

  it('a malformed AMF command (unknown type marker)', async () => {
    const c = await rawRtmp(rtmpPort);
    const port = c.socket.localPort!;
    c.message(3, 20, 0, 0, Buffer.from([0x0d, 1, 2, 3]));
    await c.closed;
    await waitFor('log line', () => loggedFor(port, 'malformed AMF0 command'));
    await expectStreamStillFlowing();
  });

  it('a malformed AMF command (truncated connect object)', async () => {
    const c = await rawRtmp(rtmpPort);
    const port = c.socket.localPort!;
    const full = encodeAmf0('connect', 1, { app: 'live', tcUrl: 'rtmp://x/live' });
    c.message(3, 20, 0, 0, full.subarray(0, full.length - 9));
    await c.closed;
    await waitFor('log line', () => loggedFor(port, 'closing RTMP connection'));
  });

  it('a publish with a path that escapes the app', async () => {
    const c = await rawRtmp(rtmpPort);
    c.command('connect', 1, { app: 'live', tcUrl: 'rtmp://x/live' });
    await waitForText(c, 'NetConnection.Connect.Success');
    c.command('createStream', 2, null);
    c.message(8, 20, 1, 0, encodeAmf0('publish', 3, null, '../../etc/passwd', 'live'));
    await waitForText(c, 'NetStream.Publish.BadName');
    await c.closed;
    expect(g.logs.some((l) => String(l.msg).includes('publish refused') && String(l.msg).includes('invalid stream path'))).toBe(true);
  });

  it('a second publish (or a play) on a connection that already publishes', async () => {
    // Once an unhandled rejection that ended the process: now it closes this connection only.
    for (const second of ['publish', 'play']) {
      const c = await rawRtmp(rtmpPort);
      const port = c.socket.localPort!;
      c.command('connect', 1, { app: 'live', tcUrl: 'rtmp://x/live' });
      await waitForText(c, 'NetConnection.Connect.Success');
      c.command('createStream', 2, null);
      c.message(8, 20, 1, 0, encodeAmf0('publish', 3, null, `twice-${second}`, 'live'));
      await waitForText(c, 'NetStream.Publish.Start');
      c.message(8, 20, 1, 0, encodeAmf0(second, 4, null, `twice-${second}`, 'live'));
      await c.closed;
      await waitFor('log line', () => loggedFor(port, 'on a connection that is already'));
    }
    await expectStreamStillFlowing();
  });

  it('five HTTP-FLV requests pipelined on one connection get one stream and one reader', async () => {
    const s = connect(httpPort, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    let received = Buffer.alloc(0);
    s.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
    s.write('GET /live/steady.flv HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(5));
    await waitFor('FLV data', () => received.length > 20_000, 5000);
    const text = received.toString('latin1');
    expect(text.split('HTTP/1.1 200 OK').length - 1, 'response heads').toBe(1);
    expect(text.split('FLV\x01').length - 1, 'FLV file headers').toBe(1);
    const mine = g.gw.registry.get('live/steady')!.readerStats().filter((r) => r.remoteAddress.endsWith(`:${s.localPort}`));
    expect(mine).toHaveLength(1);
    s.destroy();
    await expectStreamStillFlowing();
  });

  it('an FLV request with a path traversal', async () => {
    for (const target of ['/live/../../etc/passwd.flv', '/live/..%2F..%2Fetc%2Fpasswd.flv', '/%2e%2e/x.flv']) {
      const s = connect(httpPort, '127.0.0.1');
      await new Promise((r) => s.once('connect', r));
      const port = s.localPort!;
      let response = '';
      s.on('data', (d) => (response += String(d)));
      s.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      await new Promise((r) => s.once('close', r));
      expect(response).toMatch(/^HTTP\/1\.1 400/);
      expect(response).toContain('SG_ERR_INVALID_PATH');
      expect(g.logs.some((l) => l.conn === `127.0.0.1:${port}` && String(l.msg).includes('refused'))).toBe(true);
    }
    await expectStreamStillFlowing();
  });

  it('a WebSocket upgrade to a path traversal', async () => {
    const cap = readFlv(`${g.ws}/live/..%2F..%2Fx.flv`);
    expect(await cap.status).toBe(400);
    await expectStreamStillFlowing();
  });
});

/**
 * A small RTMP client for tests: a plain handshake, connect/createStream/publish|play and raw
 * message sending. It builds bytes itself (independent of the gateway's serializer) so tests can
 * send what ffmpeg cannot (HEVC tag forms, malformed commands, absurd chunk sizes).
 */
import { connect, type Socket } from 'node:net';
import { encodeAmf0, type Amf0Value } from '../../gateway/formats/amf0.js';

export interface RawRtmp {
  socket: Socket;
  /** Everything received so far. */
  received(): Buffer;
  closed: Promise<void>;
  send(bytes: Buffer): void;
  /** One message as chunks of `chunkSize` (csid < 64, type-0 header then type-3). */
  message(csid: number, type: number, streamId: number, timestamp: number, body: Buffer, chunkSize?: number): void;
  command(name: string, transId: number, ...args: Amf0Value[]): void;
  setChunkSize(size: number): void;
  close(): void;
}

export function chunkMessage(csid: number, type: number, streamId: number, timestamp: number, body: Buffer, chunkSize = 128): Buffer {
  const parts: Buffer[] = [];
  const h = Buffer.alloc(12);
  h[0] = csid;
  h.writeUIntBE(Math.min(timestamp, 0xffffff), 1, 3);
  h.writeUIntBE(body.length, 4, 3);
  h[7] = type;
  h.writeUInt32LE(streamId, 8);
  parts.push(h);
  if (timestamp >= 0xffffff) {
    const e = Buffer.alloc(4);
    e.writeUInt32BE(timestamp);
    parts.push(e);
  }
  for (let pos = 0; pos < body.length; pos += chunkSize) {
    if (pos > 0) parts.push(Buffer.from([0xc0 | csid]));
    parts.push(body.subarray(pos, Math.min(body.length, pos + chunkSize)));
  }
  return Buffer.concat(parts);
}

/** Connects and completes the plain handshake (C0+C1, wait for S0+S1+S2, send C2). */
export async function rawRtmp(port: number, options: { handshake?: boolean } = {}): Promise<RawRtmp> {
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  let received = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  let chunkSize = 128;
  const client: RawRtmp = {
    socket,
    received: () => received,
    closed,
    send: (bytes) => {
      if (!socket.destroyed) socket.write(bytes);
    },
    message: (csid, type, streamId, timestamp, body, size = chunkSize) => client.send(chunkMessage(csid, type, streamId, timestamp, body, size)),
    command: (name, transId, ...args) => client.message(3, 20, 0, 0, encodeAmf0(name, transId, ...args)),
    setChunkSize: (size) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(size >>> 0);
      client.message(2, 1, 0, 0, b);
      chunkSize = size;
    },
    close: () => socket.destroy(),
  };
  if (options.handshake !== false) {
    const c1 = Buffer.alloc(1536);
    socket.write(Buffer.concat([Buffer.from([3]), c1]));
    const deadline = Date.now() + 5000;
    while (received.length < 1 + 1536 * 2) {
      if (Date.now() > deadline || socket.destroyed) throw new Error('RTMP handshake did not complete');
      await new Promise((r) => setTimeout(r, 10));
    }
    socket.write(received.subarray(1, 1537)); // C2 echoes S1
    received = received.subarray(1 + 1536 * 2);
  }
  return client;
}

/** Waits until the received bytes contain `text` (AMF strings are plain UTF-8 in the stream). */
export async function waitForText(client: RawRtmp, text: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!client.received().includes(text)) {
    if (Date.now() > deadline) throw new Error(`did not receive ${text}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** connect + createStream + publish on `app/name`; resolves once NetStream.Publish.Start arrives. */
export async function rtmpPublisher(port: number, app: string, name: string): Promise<RawRtmp> {
  const c = await rawRtmp(port);
  c.command('connect', 1, { app, tcUrl: `rtmp://127.0.0.1:${port}/${app}`, flashVer: 'FMLE/3.0', objectEncoding: 0 });
  await waitForText(c, 'NetConnection.Connect.Success');
  c.setChunkSize(60000);
  c.command('createStream', 2, null);
  c.message(8, 20, 1, 0, encodeAmf0('publish', 3, null, name, 'live'));
  await waitForText(c, 'NetStream.Publish.Start');
  return c;
}

/**
 * A raw RTSP client for tests that need what ffmpeg and GStreamer will not do on demand: a
 * scripted pusher's timing, PAUSE, a SETUP without DESCRIBE. Requests go out one at a time with
 * CSeq numbered here; answers (bodies read by Content-Length) and interleaved frames are split
 * from one byte stream, as a real client must.
 */
import { connect, type Socket } from 'node:net';

export interface RtspAnswer {
  status: number;
  /** Status line and headers. */
  head: string;
  body: string;
  /** The Session header's id, without ;timeout. */
  session: string | undefined;
  header(name: string): string | undefined;
}

export interface RawRtsp {
  socket: Socket;
  /** Sends `METHOD url RTSP/1.0` with `headers` (CSeq added) and resolves with the answer. */
  request(method: string, url: string, headers?: string[], body?: string): Promise<RtspAnswer>;
  /** Called for every interleaved frame the server sends ($, channel, length, payload). */
  onInterleaved: (channel: number, payload: Buffer) => void;
  /** Writes an interleaved frame. */
  interleave(channel: number, payload: Buffer): void;
  close(): void;
}

export async function rawRtsp(port: number): Promise<RawRtsp> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  socket.on('error', () => {});
  let pending = Buffer.alloc(0);
  let cseq = 0;
  const waiting: ((answer: RtspAnswer) => void)[] = [];
  const client: RawRtsp = {
    socket,
    onInterleaved: () => {},
    request(method, url, headers = [], body = '') {
      const lines = [`${method} ${url} RTSP/1.0`, `CSeq: ${++cseq}`, ...headers];
      if (body) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
      socket.write(lines.join('\r\n') + '\r\n\r\n' + body);
      return new Promise((resolve) => waiting.push(resolve));
    },
    interleave(channel, payload) {
      const head = Buffer.from([0x24, channel, 0, 0]);
      head.writeUInt16BE(payload.length, 2);
      socket.write(Buffer.concat([head, payload]));
    },
    close: () => socket.destroy(),
  };
  socket.on('data', (d: Buffer) => {
    pending = Buffer.concat([pending, d]);
    while (pending.length > 0) {
      if (pending[0] === 0x24) {
        if (pending.length < 4) return;
        const length = pending.readUInt16BE(2);
        if (pending.length < 4 + length) return;
        client.onInterleaved(pending[1]!, pending.subarray(4, 4 + length));
        pending = pending.subarray(4 + length);
        continue;
      }
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = pending.subarray(0, end).toString('latin1');
      const header = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(head)?.[1]?.trim();
      const bodyLength = Number(header('Content-Length') ?? 0);
      if (pending.length < end + 4 + bodyLength) return;
      const body = pending.subarray(end + 4, end + 4 + bodyLength).toString('utf8');
      pending = pending.subarray(end + 4 + bodyLength);
      const status = Number(/^RTSP\/1\.0 (\d{3})/.exec(head)?.[1] ?? 0);
      waiting.shift()?.({ status, head, body, session: header('Session')?.split(';')[0], header });
    }
  });
  return client;
}

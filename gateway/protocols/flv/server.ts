/**
 * HTTP-FLV (`GET /{app}/{name}.flv`) and WS-FLV (`ws://.../{app}/{name}.flv`) readers. Both
 * write the same FLV bytes (one cache slot), so a frame is serialized once for all of them.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { httpStatusOf, InvalidPathError, wsCloseCodeOf } from '../../core/errors.js';
import { rejectUpgrade, sendError } from '../../http/errors.js';
import { splitQuery, validatePath } from '../../core/path.js';
import type { Admission, PlayTicket } from '../../core/admission.js';
import { isAccessRefusal } from '../../auth/index.js';
import type { ReaderOutput } from '../../core/reader.js';
import type { Stream } from '../../core/stream.js';
import { endSocket, socketCorking, writeToSocket } from '../../net/socket-writer.js';
import { flvAudioTrack } from '../../formats/flv-tag.js';
import { flvFileHeader, flvFormat, flvHeaderTags, wsBinaryFrame, wsFlvFormat } from './mux.js';
import { peerAddress } from '../../net/listen.js';
import { maskSecrets } from '../../log.js';

/** `/live/cam1.flv` -> `live/cam1`; undefined when the URL is not an FLV stream URL. */
export function flvStreamPath(pathname: string): string | undefined {
  if (!pathname.endsWith('.flv') || pathname.length < 6) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname.slice(1, -4));
  } catch {
    throw new InvalidPathError(pathname);
  }
  return validatePath(decoded);
}

function headersFor(stream: Stream, initial: boolean): readonly Buffer[] {
  const tags = stream.cachedHeaders('flv', () => flvHeaderTags(stream));
  if (!initial) return tags;
  return [flvFileHeader(flvAudioTrack(stream.audioTrack) !== undefined, stream.videoTrack !== undefined), ...tags];
}

export class FlvServer {
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 });
  /** Sockets with an HTTP-FLV request under way or playing. */
  private readonly claimed = new WeakSet<Socket>();

  constructor(
    private readonly admission: Admission,
    private readonly log: Logger,
  ) {}

  /** Express handler for GET/HEAD requests whose path ends in .flv. */
  async handleHttp(req: Request, res: Response): Promise<void> {
    const remoteAddress = peerAddress(req.socket);
    // One FLV body per connection: requests pipelined behind it on the same socket are ignored
    // (each would write its own response head and add a reader to the same socket).
    if (this.claimed.has(req.socket)) {
      this.log.debug({ conn: remoteAddress }, 'HTTP-FLV: pipelined request on a connection that already plays, ignored');
      return;
    }
    this.claimed.add(req.socket);
    let ticket: PlayTicket;
    const query = splitQuery(req.originalUrl).query;
    try {
      const path = this.streamPath('flv', req.path);
      ticket = await this.admission.play({ path, protocol: 'flv', remoteAddress, query });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.log.info({ conn: remoteAddress, url: maskSecrets(req.originalUrl.slice(0, 256)), status: httpStatusOf(error) }, `HTTP-FLV request refused: ${message}`);
      sendError(res, error);
      this.claimed.delete(req.socket); // a keep-alive connection may ask again
      return;
    }
    const socket = req.socket;
    const stream = ticket.stream;
    if (socket.destroyed) return ticket.release();
    socket.setNoDelay(true);
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'Content-Type': 'video/x-flv', 'Cache-Control': 'no-cache, no-store' });
      res.end();
      this.claimed.delete(socket);
      ticket.release();
      return;
    }
    // The body is written straight to the socket, close-delimited (no chunked encoding): one
    // write per frame instead of three, and the same Buffer for every reader. The HTTP server
    // keeps the socket but never writes to it again for this request.
    const head = ['HTTP/1.1 200 OK', 'Content-Type: video/x-flv', 'Cache-Control: no-cache, no-store', 'Pragma: no-cache', 'Expires: -1', 'Connection: close'];
    for (const [name, value] of Object.entries(res.getHeaders())) {
      if (value !== undefined && /^access-control-/i.test(name)) head.push(`${name}: ${String(value)}`);
    }
    socket.write(head.join('\r\n') + '\r\n\r\n');
    const output: ReaderOutput = {
      protocol: 'flv',
      remoteAddress,
      format: flvFormat,
      headers: (initial) => headersFor(stream, initial),
      write: (bytes) => writeToSocket(socket, bytes),
      ...socketCorking(socket),
      close: (error) => {
        if (error) this.log.debug({ conn: remoteAddress, path: stream.path }, `HTTP-FLV reader closed: ${error.message}`);
        endSocket(socket);
      },
    };
    const reader = ticket.addReader(output);
    socket.on('drain', () => reader.drain());
    socket.on('close', () => ticket.release());
    // Anything the client sends now (a pipelined request) is ignored.
  }

  /** Upgrade handler for WS-FLV; claims paths ending in .flv. */
  handleUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer, pathname: string): boolean => {
    if (!pathname.endsWith('.flv')) return false;
    void this.upgrade(req, socket, head, pathname);
    return true;
  };

  private async upgrade(req: IncomingMessage, socket: Socket, head: Buffer, pathname: string): Promise<void> {
    const remoteAddress = peerAddress(socket);
    const query = splitQuery(req.url ?? '').query;
    let ticket: PlayTicket;
    try {
      const path = this.streamPath('ws-flv', pathname);
      ticket = await this.admission.play({ path, protocol: 'ws-flv', remoteAddress, query });
    } catch (error) {
      if (socket.destroyed) return;
      // Browsers cannot read the status of a failed handshake: an access refusal is accepted and
      // closed with 4401/4403; anything else (bad path, no stream, reader limit) is an HTTP answer.
      if (isAccessRefusal(error)) {
        this.wss.handleUpgrade(req, socket, head, (ws) => ws.close(wsCloseCodeOf(error), (error as Error).message.slice(0, 120)));
        return;
      }
      this.refuseUpgrade(req, socket, remoteAddress, error);
      return;
    }
    const stream = ticket.stream;
    if (socket.destroyed) return ticket.release();
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      socket.setNoDelay(true);
      const output: ReaderOutput = {
        protocol: 'ws-flv',
        remoteAddress,
        format: wsFlvFormat,
        headers: (initial) => stream.cachedHeaders(initial ? 'ws-flv-initial' : 'ws-flv', () => headersFor(stream, initial).map(wsBinaryFrame)),
        // Whole, pre-built WebSocket frames (server frames are unmasked, so every reader can get
        // the same bytes); ws itself only writes control frames, also whole, so they interleave safely.
        write: (bytes) => (ws.readyState === ws.OPEN ? writeToSocket(socket, bytes) : true),
        ...socketCorking(socket),
        close: (error) => {
          if (ws.readyState === ws.OPEN) ws.close(1000, error ? error.message.slice(0, 120) : 'closed');
          else ws.terminate();
        },
      };
      const reader = ticket.addReader(output);
      socket.on('drain', () => reader.drain());
      ws.on('close', () => ticket.release());
      ws.on('error', () => ticket.release());
      // Readers send nothing; a client that does is ignored (not an error).
    });
  }

  /** The stream path of an FLV URL; an invalid one is counted as a refusal and thrown. */
  private streamPath(protocol: string, pathname: string): string {
    try {
      return flvStreamPath(pathname)!;
    } catch (error) {
      this.admission.refuse(protocol, error);
      throw error;
    }
  }

  private refuseUpgrade(req: IncomingMessage, socket: Socket, remoteAddress: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.log.info({ conn: remoteAddress, url: (req.url ?? '').slice(0, 256), status: httpStatusOf(error) }, `WS-FLV request refused: ${message}`);
    rejectUpgrade(socket, error);
  }

  close(): void {
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
  }
}

/**
 * RTSP 1.0 message framing (RFC 2326 §6, §7) and TCP interleaved binary data (§10.12) on one
 * byte stream, for both ends: requests on the server, responses on the client. Every size is
 * bounded; a peer past a bound gets a ProtocolError, which closes its connection only.
 */
import { ProtocolError } from '../../core/errors.js';

export interface RtspLimits {
  readonly maxHeaderBytes: number;
  readonly maxHeaders: number;
  readonly maxBodyBytes: number;
}

export const DEFAULT_LIMITS: RtspLimits = { maxHeaderBytes: 16384, maxHeaders: 64, maxBodyBytes: 65536 };

/** Header names are case-insensitive (RFC 2326 §4.2): stored lower-cased. */
export type RtspHeaders = Map<string, string>;

export interface RtspRequest {
  readonly kind: 'request';
  readonly method: string;
  readonly url: string;
  readonly headers: RtspHeaders;
  readonly body: Buffer;
}

export interface RtspResponse {
  readonly kind: 'response';
  readonly status: number;
  readonly reason: string;
  readonly headers: RtspHeaders;
  readonly body: Buffer;
}

export type RtspMessage = RtspRequest | RtspResponse;

export interface RtspParserSink {
  message(message: RtspMessage): void;
  /** One interleaved frame: `channel` and a view of its payload (valid only during the call). */
  interleaved(channel: number, payload: Buffer): void;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);
const METHOD = /^[A-Z_]{1,32}$/;
const STATUS_LINE = /^RTSP\/1\.0 (\d{3})(?: (.*))?$/;

/**
 * Incremental parser: `push(chunk)` consumes what it can and keeps the rest (at most one
 * message's worth, bounded by the limits) for the next chunk.
 */
export class RtspParser {
  private pending: Buffer | undefined;
  /** Set once a message head is parsed and its body is still arriving. */
  private head: { start: Omit<RtspRequest, 'body'> | Omit<RtspResponse, 'body'>; length: number } | undefined;

  constructor(
    private readonly sink: RtspParserSink,
    private readonly limits: RtspLimits = DEFAULT_LIMITS,
  ) {}

  push(chunk: Buffer): void {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    let pos = 0;
    while (pos < buf.length) {
      const used = this.parseOne(buf, pos);
      if (used === 0) break;
      pos += used;
    }
    if (pos < buf.length) {
      // Copy the tail so the caller's chunk is not retained (it may be a large socket buffer).
      this.pending = Buffer.from(buf.subarray(pos));
    }
    buf = undefined as unknown as Buffer;
  }

  /** Bytes consumed from `buf` at `pos`, or 0 when more input is needed. */
  private parseOne(buf: Buffer, pos: number): number {
    const available = buf.length - pos;
    if (this.head) {
      const { start, length } = this.head;
      if (available < length) return 0;
      this.head = undefined;
      const body = Buffer.from(buf.subarray(pos, pos + length));
      this.sink.message({ ...start, body } as RtspMessage);
      return length;
    }
    if (buf[pos] === 0x24) {
      // '$' channel(1) length(2) data (RFC 2326 §10.12)
      if (available < 4) return 0;
      const length = buf.readUInt16BE(pos + 2);
      if (available < 4 + length) return 0;
      this.sink.interleaved(buf[pos + 1]!, buf.subarray(pos + 4, pos + 4 + length));
      return 4 + length;
    }
    const end = buf.indexOf(CRLFCRLF, pos);
    if (end < 0) {
      if (available > this.limits.maxHeaderBytes) {
        throw new ProtocolError('rtsp', `message head exceeds ${this.limits.maxHeaderBytes} bytes without an empty line`);
      }
      // A stray byte that cannot start a message (binary garbage) fails early rather than at the limit.
      const c = buf[pos]!;
      if (c < 0x41 || c > 0x5a) throw new ProtocolError('rtsp', `garbage on the connection: byte 0x${c.toString(16)} where a message or '$' frame must start`);
      return 0;
    }
    if (end - pos > this.limits.maxHeaderBytes) {
      throw new ProtocolError('rtsp', `message head of ${end - pos} bytes exceeds ${this.limits.maxHeaderBytes}`);
    }
    const text = buf.toString('latin1', pos, end);
    const lines = text.split('\r\n');
    const first = lines[0]!;
    if (lines.length - 1 > this.limits.maxHeaders) {
      throw new ProtocolError('rtsp', `${lines.length - 1} header lines exceed the limit of ${this.limits.maxHeaders}`);
    }
    const headers: RtspHeaders = new Map();
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new ProtocolError('rtsp', `malformed header line ${JSON.stringify(line.slice(0, 80))}`);
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      const prev = headers.get(name);
      headers.set(name, prev === undefined ? value : `${prev}, ${value}`);
    }
    let start: Omit<RtspRequest, 'body'> | Omit<RtspResponse, 'body'>;
    const status = STATUS_LINE.exec(first);
    if (status) {
      start = { kind: 'response', status: Number(status[1]), reason: status[2] ?? '', headers };
    } else {
      const parts = first.split(' ');
      if (parts.length !== 3 || !METHOD.test(parts[0]!) || parts[2] !== 'RTSP/1.0' || parts[1]!.length === 0) {
        throw new ProtocolError('rtsp', `malformed request line ${JSON.stringify(first.slice(0, 120))}`);
      }
      start = { kind: 'request', method: parts[0]!, url: parts[1]!, headers };
    }
    const lengthHeader = headers.get('content-length');
    let length = 0;
    if (lengthHeader !== undefined) {
      if (!/^\d{1,9}$/.test(lengthHeader)) throw new ProtocolError('rtsp', `bad Content-Length ${JSON.stringify(lengthHeader.slice(0, 40))}`);
      length = Number(lengthHeader);
      if (length > this.limits.maxBodyBytes) {
        throw new ProtocolError('rtsp', `body of ${length} bytes exceeds the limit of ${this.limits.maxBodyBytes}`);
      }
    }
    const headLength = end + 4 - pos;
    if (length === 0) this.sink.message({ ...start, body: EMPTY } as RtspMessage);
    else this.head = { start, length };
    return headLength;
  }
}

const REASONS: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  415: 'Unsupported Media Type',
  454: 'Session Not Found',
  455: 'Method Not Valid in This State',
  459: 'Aggregate Operation Not Allowed',
  461: 'Unsupported Transport',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  505: 'RTSP Version Not Supported',
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? 'Error';
}

/** Serializes a response; Content-Length is added for a body. */
export function encodeResponse(status: number, headers: Record<string, string>, body?: Buffer | string, reason = reasonPhrase(status)): Buffer {
  let head = `RTSP/1.0 ${status} ${reason}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  const bodyBuf = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
  if (bodyBuf && bodyBuf.length > 0) head += `Content-Length: ${bodyBuf.length}\r\n`;
  head += '\r\n';
  return bodyBuf && bodyBuf.length > 0 ? Buffer.concat([Buffer.from(head, 'latin1'), bodyBuf]) : Buffer.from(head, 'latin1');
}

/** Serializes a request. */
export function encodeRequest(method: string, url: string, headers: Record<string, string>, body?: Buffer | string): Buffer {
  let head = `${method} ${url} RTSP/1.0\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  const bodyBuf = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
  if (bodyBuf && bodyBuf.length > 0) head += `Content-Length: ${bodyBuf.length}\r\n`;
  head += '\r\n';
  return bodyBuf && bodyBuf.length > 0 ? Buffer.concat([Buffer.from(head, 'latin1'), bodyBuf]) : Buffer.from(head, 'latin1');
}

/** A parsed Transport header entry (RFC 2326 §12.39): what the two ends agree on. */
export interface TransportSpec {
  readonly protocol: 'tcp' | 'udp';
  readonly multicast: boolean;
  /** Interleaved channel pair (TCP). */
  readonly interleaved?: readonly [number, number];
  /** client_port pair (UDP). */
  readonly clientPort?: readonly [number, number];
  readonly serverPort?: readonly [number, number];
  readonly mode?: string;
  readonly ssrc?: string;
}

function portPair(value: string, what: string): [number, number] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(value);
  if (!m) throw new ProtocolError('rtsp', `bad ${what} ${JSON.stringify(value.slice(0, 40))} in Transport`);
  const a = Number(m[1]);
  const b = m[2] === undefined ? a + 1 : Number(m[2]);
  if (a > 65535 || b > 65535) throw new ProtocolError('rtsp', `${what} ${value} out of range in Transport`);
  return [a, b];
}

/**
 * Parses the first acceptable entry of a Transport header (entries are comma-separated
 * alternatives, RFC 2326 §12.39). Throws ProtocolError naming what is wrong.
 */
export function parseTransport(header: string | undefined): TransportSpec {
  if (header === undefined || header.trim() === '') throw new ProtocolError('rtsp', 'SETUP without a Transport header');
  let lastError: ProtocolError | undefined;
  for (const entry of header.split(',')) {
    try {
      const parts = entry.trim().split(';').map((p) => p.trim());
      const spec = parts[0]!.toUpperCase();
      let protocol: 'tcp' | 'udp';
      if (spec === 'RTP/AVP' || spec === 'RTP/AVP/UDP') protocol = 'udp';
      else if (spec === 'RTP/AVP/TCP') protocol = 'tcp';
      else throw new ProtocolError('rtsp', `unsupported transport ${JSON.stringify(parts[0]!.slice(0, 40))}; supported: RTP/AVP (UDP), RTP/AVP/TCP`);
      let multicast = false;
      let interleaved: [number, number] | undefined;
      let clientPort: [number, number] | undefined;
      let serverPort: [number, number] | undefined;
      let mode: string | undefined;
      let ssrc: string | undefined;
      for (const p of parts.slice(1)) {
        const eq = p.indexOf('=');
        const key = (eq < 0 ? p : p.slice(0, eq)).toLowerCase();
        const value = eq < 0 ? '' : p.slice(eq + 1);
        if (key === 'multicast') multicast = true;
        else if (key === 'interleaved') {
          interleaved = portPair(value, 'interleaved');
          if (interleaved[0] > 255 || interleaved[1] > 255) throw new ProtocolError('rtsp', `interleaved channel ${value} out of range 0-255`);
        } else if (key === 'client_port') clientPort = portPair(value, 'client_port');
        else if (key === 'server_port') serverPort = portPair(value, 'server_port');
        else if (key === 'mode') mode = value.replace(/"/g, '').toUpperCase();
        else if (key === 'ssrc') ssrc = value;
      }
      return { protocol, multicast, interleaved, clientPort, serverPort, mode, ssrc };
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      lastError = error;
    }
  }
  throw lastError!;
}

/** The Session header's id and timeout (RFC 2326 §12.37). */
export function parseSession(header: string | undefined): { id: string; timeoutS: number } | undefined {
  if (!header) return undefined;
  const [id, ...params] = header.split(';');
  let timeoutS = 60;
  for (const p of params) {
    const m = /^\s*timeout\s*=\s*(\d+)/i.exec(p);
    if (m) timeoutS = Number(m[1]);
  }
  return { id: id!.trim(), timeoutS };
}

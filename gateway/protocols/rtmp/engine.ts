/**
 * The typed adapter over node-media-server's RTMP protocol engine (handshake, chunk stream
 * parsing, AMF0 commands). This file is the only one that imports node-media-server's RTMP code.
 *
 * What we take from it: the simple and complex (digest) handshake, the chunk parser with its
 * per-chunk-stream state, AMF0 command decoding/encoding and the control-message writers.
 * What we override, and why:
 *  - message allocation (bounded by maxMessageSize, a fresh buffer per message so payloads can
 *    be handed to the hub without a copy);
 *  - SET_CHUNK_SIZE (bounded; 0 would make the parser spin);
 *  - command dispatch (our session decides how to answer publish/play, e.g. BadName);
 *  - the 3-byte chunk basic header (the engine computes the chunk stream id wrongly);
 *  - its console logger, routed into pino.
 */
import { createRequire } from 'node:module';
import { ProtocolError } from '../../core/errors.js';

const require = createRequire(import.meta.url);

interface NmsRtmpPacket {
  header: { fmt: number; cid: number; timestamp: number; length: number; type: number; stream_id: number };
  clock: number;
  payload: Buffer;
  capacity: number;
  bytes: number;
}

interface NmsRtmp {
  parserBuffer: Buffer;
  parserBasicBytes: number;
  parserPacket: NmsRtmpPacket;
  inPackets: Map<number, NmsRtmpPacket>;
  inChunkSize: number;
  outChunkSize: number;
  ackSize?: number;
  flv: unknown;
  onOutputCallback: (buffer: Buffer) => void;
  parserData(buffer: Buffer): string | null;
  chunkMessageHeaderRead(): number;
  sendACK(size: number): void;
  sendWindowACK(size: number): void;
  setPeerBandwidth(size: number, type: number): void;
  setChunkSize(size: number): void;
  sendStreamStatus(status: number, streamId: number): void;
  sendInvokeMessage(streamId: number, message: Record<string, unknown>): void;
  sendDataMessage(message: Record<string, unknown>, streamId: number): void;
  sendStatusMessage(streamId: number, level: string, code: string, description: string): void;
}

type NmsRtmpClass = new () => NmsRtmp;

interface NmsAmf {
  decodeAmf0Cmd(buf: Buffer): Record<string, unknown>;
}

interface NmsLogger {
  log(message: string, level?: string): void;
}

const NmsRtmpBase = require('node-media-server/src/protocol/rtmp.js') as NmsRtmpClass;
const nmsAmf = require('node-media-server/src/protocol/amf.js') as NmsAmf;
const nmsLogger = require('node-media-server/src/core/logger.js') as NmsLogger;

/** Sinks for node-media-server's process-wide logger; the first live one gets its lines. */
const logSinks = new Set<(level: string, message: string) => void>();
nmsLogger.log = (message: string, level = 'info') => {
  for (const sink of logSinks) {
    sink(level, String(message));
    return;
  }
};

/** Routes node-media-server's own log lines into `sink` until the returned function is called. */
export function routeEngineLogs(sink: (level: string, message: string) => void): () => void {
  logSinks.add(sink);
  return () => logSinks.delete(sink);
}

export const RTMP_TYPE_SET_CHUNK_SIZE = 1;
export const RTMP_TYPE_WINDOW_ACK_SIZE = 5;
export const RTMP_TYPE_AUDIO = 8;
export const RTMP_TYPE_VIDEO = 9;
export const RTMP_TYPE_DATA_AMF3 = 15;
export const RTMP_TYPE_COMMAND_AMF3 = 17;
export const RTMP_TYPE_DATA = 18;

export interface RtmpCommand {
  readonly name: string;
  readonly transId: number;
  readonly streamId: number;
  readonly fields: Record<string, unknown>;
}

export interface EngineLimits {
  readonly maxChunkSize: number;
  readonly maxMessageSize: number;
  readonly outChunkSize: number;
}

export interface EngineHandlers {
  output(bytes: Buffer): void;
  command(command: RtmpCommand): void;
  /** Audio, video or data message; `payload` is owned by the receiver (no copy needed). */
  media(type: number, timestamp: number, streamId: number, payload: Buffer): void;
}

// Subclassing the engine's JS class: the overridden methods are called by its parser.
const EngineBase = NmsRtmpBase as unknown as new () => NmsRtmp & Record<string, unknown>;

class Engine extends EngineBase {
  handlers!: EngineHandlers;
  limits!: EngineLimits;

  packetAlloc(): void {
    // Called right after the engine adds a timestamp delta: RTMP time is 32-bit and wraps (after
    // 49.7 days, or sooner for an encoder whose clock does not start at 0). The engine drops every
    // message whose clock passed 2^32, which froze the stream for good; wrap it here instead.
    this.parserPacket.clock = this.parserPacket.clock >>> 0;
    const length = this.parserPacket.header.length;
    if (length > this.limits.maxMessageSize) {
      throw new ProtocolError('rtmp', `message of ${length} bytes exceeds the limit of ${this.limits.maxMessageSize}`);
    }
    this.parserPacket.payload = Buffer.allocUnsafe(length);
    this.parserPacket.capacity = length;
  }

  packetParse(): void {
    const b = this.parserBuffer;
    const fmt = b[0]! >> 6;
    let cid: number;
    if (this.parserBasicBytes === 2) cid = 64 + b[1]!;
    else if (this.parserBasicBytes === 3) cid = 64 + b[1]! + b[2]! * 256;
    else cid = b[0]! & 0x3f;
    let packet = this.inPackets.get(cid);
    if (!packet) {
      if (this.inPackets.size >= 64) throw new ProtocolError('rtmp', 'more than 64 chunk streams');
      if (fmt !== 0) throw new ProtocolError('rtmp', `chunk stream ${cid} starts with a type ${fmt} header`);
      packet = {
        header: { fmt, cid, timestamp: 0, length: 0, type: 0, stream_id: 0 },
        clock: 0,
        payload: Buffer.alloc(0),
        capacity: 0,
        bytes: 0,
      };
      this.inPackets.set(cid, packet);
    }
    this.parserPacket = packet;
    // A message under way continues with type-3 chunks only (RTMP 1.0 §5.3.1.2): a type 0 or 1
    // header would change its length mid-way and hand readers a half-filled (uninitialized) buffer.
    if (packet.bytes > 0 && fmt <= 1) {
      throw new ProtocolError('rtmp', `chunk stream ${cid}: a type ${fmt} header in the middle of a message`);
    }
    packet.header.fmt = fmt;
    packet.header.cid = cid;
    this.chunkMessageHeaderRead();
  }

  controlHandler(): void {
    const { type } = this.parserPacket.header;
    const payload = this.parserPacket.payload;
    if (payload.length < 4) throw new ProtocolError('rtmp', `control message ${type} is truncated`);
    if (type === RTMP_TYPE_SET_CHUNK_SIZE) {
      const size = payload.readUInt32BE(0);
      if (size < 1 || size > this.limits.maxChunkSize) {
        throw new ProtocolError('rtmp', `chunk size ${size} is out of range 1..${this.limits.maxChunkSize}`);
      }
      this.inChunkSize = size;
    } else if (type === RTMP_TYPE_WINDOW_ACK_SIZE) {
      this.ackSize = payload.readUInt32BE(0);
    }
  }

  invokeHandler(): void {
    const { type, length, stream_id } = this.parserPacket.header;
    const body = this.parserPacket.payload.subarray(type === RTMP_TYPE_COMMAND_AMF3 ? 1 : 0, length);
    let decoded: Record<string, unknown>;
    try {
      decoded = nmsAmf.decodeAmf0Cmd(body);
    } catch (error) {
      throw new ProtocolError('rtmp', `malformed AMF0 command: ${(error as Error).message}`);
    }
    const name = decoded.cmd;
    if (typeof name !== 'string' || name.length === 0 || name.length > 256) {
      throw new ProtocolError('rtmp', 'malformed AMF0 command: no command name');
    }
    const transId = typeof decoded.transId === 'number' ? decoded.transId : 0;
    this.handlers.command({ name, transId, streamId: stream_id, fields: decoded });
  }

  dataHandler(): void {
    const p = this.parserPacket;
    this.handlers.media(p.header.type, p.clock, p.header.stream_id, p.payload);
  }
}

/**
 * One RTMP connection's protocol state. `feed` throws ProtocolError (or a RangeError from a
 * malformed message) and the session closes that connection only.
 */
export class RtmpEngine {
  private readonly engine: Engine;

  constructor(handlers: EngineHandlers, limits: EngineLimits) {
    const engine = new Engine();
    // The engine builds an FLV demuxer (1 MiB buffer) per connection that we never use.
    engine.flv = undefined;
    engine.handlers = handlers;
    engine.limits = limits;
    engine.outChunkSize = limits.outChunkSize;
    engine.onOutputCallback = (bytes: Buffer) => handlers.output(bytes);
    this.engine = engine;
  }

  feed(bytes: Buffer): void {
    const error = this.engine.parserData(bytes);
    if (error) throw new ProtocolError('rtmp', error);
  }

  get peerAckWindow(): number {
    return this.engine.ackSize ?? 0;
  }

  sendAck(bytesReceived: number): void {
    this.engine.sendACK(bytesReceived >>> 0);
  }

  /** Window ack size, peer bandwidth and our chunk size: what a server says after `connect`. */
  sendConnectPreamble(): void {
    this.engine.sendWindowACK(5_000_000);
    this.engine.setPeerBandwidth(5_000_000, 2);
    this.engine.setChunkSize(this.engine.outChunkSize);
  }

  sendCommand(streamId: number, command: Record<string, unknown>): void {
    this.engine.sendInvokeMessage(streamId, command);
  }

  sendStatus(streamId: number, level: 'status' | 'error', code: string, description: string): void {
    this.engine.sendStatusMessage(streamId, level, code, description);
  }

  sendStreamBegin(streamId: number): void {
    this.engine.sendStreamStatus(0, streamId);
  }

  sendData(streamId: number, message: Record<string, unknown>): void {
    this.engine.sendDataMessage(message, streamId);
  }
}

import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Admission, PlayTicket } from '../../core/admission.js';
import { ProtocolError, rtmpStatusOf, StreamgateError } from '../../core/errors.js';
import type { WireFormat } from '../../core/media.js';
import type { Reader } from '../../core/reader.js';
import type { PublishSession } from '../../core/stream.js';
import {
  type EngineLimits,
  RTMP_TYPE_AUDIO,
  RTMP_TYPE_DATA,
  RTMP_TYPE_DATA_AMF3,
  RTMP_TYPE_VIDEO,
  type RtmpCommand,
  RtmpEngine,
} from './engine.js';
import { endSocket, socketCorking, writeToSocket } from '../../net/socket-writer.js';
import { PLAY_STREAM_ID, rtmpHeaderMessages } from './from-stream.js';
import { RtmpToStream } from './to-stream.js';
import { peerAddress } from '../../net/listen.js';
import { splitQuery } from '../../core/path.js';

export interface RtmpSessionOptions extends EngineLimits {
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
}

type Role = 'none' | 'authorizing' | 'publisher' | 'player' | 'closed';

/**
 * One RTMP connection: handshake and commands through the engine, then either a publisher
 * (messages mapped to the hub by RtmpToStream) or a player (a hub Reader writing shared chunks).
 */
export class RtmpSession {
  private readonly engine: RtmpEngine;
  private readonly remoteAddress: string;
  private role: Role = 'none';
  private app = '';
  private connectQuery: Record<string, string> = {};
  private nextStreamId = 1;
  private publishSession: PublishSession | undefined;
  private toStream: RtmpToStream | undefined;
  private reader: Reader | undefined;
  private playTicket: PlayTicket | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private bytesReceived = 0;
  private lastAck = 0;
  private sawFirstByte = false;
  readonly log: Logger;

  constructor(
    private readonly socket: Socket,
    private readonly admission: Admission,
    private readonly format: WireFormat,
    private readonly options: RtmpSessionOptions,
    parentLog: Logger,
    readonly onClosed: (session: RtmpSession) => void,
  ) {
    this.remoteAddress = peerAddress(socket);
    this.log = parentLog.child({ conn: this.remoteAddress });
    this.engine = new RtmpEngine(
      {
        output: (bytes) => this.write(bytes),
        command: (command) => this.onCommand(command),
        media: (type, timestamp, _streamId, payload) => this.onMedia(type, timestamp, payload),
      },
      options,
    );
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.cleanup());
    socket.on('error', (error) => this.log.debug({ err: error.message }, 'socket error'));
    socket.on('drain', () => this.reader?.drain());
    if (options.handshakeTimeoutMs > 0) {
      this.handshakeTimer = setTimeout(() => {
        this.fail(new ProtocolError('rtmp', `no publish or play within ${options.handshakeTimeoutMs} ms`));
      }, options.handshakeTimeoutMs);
      this.handshakeTimer.unref();
    }
  }

  private write(bytes: Buffer): boolean {
    if (this.role === 'closed' || this.socket.destroyed) return true;
    return writeToSocket(this.socket, bytes);
  }

  private onData(chunk: Buffer): void {
    if (this.role === 'closed') return;
    try {
      if (!this.sawFirstByte && chunk.length > 0) {
        this.sawFirstByte = true;
        // C0: RTMP version 3. Anything else (an HTTP request, RTMPE's 6, garbage) is not for us.
        if (chunk[0] !== 3) {
          throw new ProtocolError('rtmp', `not an RTMP client: handshake version byte 0x${chunk[0]!.toString(16)} (expected 0x03)`);
        }
      }
      this.bytesReceived += chunk.length;
      this.engine.feed(chunk);
      const window = this.engine.peerAckWindow;
      if (window > 0 && this.bytesReceived - this.lastAck >= window) {
        this.lastAck = this.bytesReceived;
        this.engine.sendAck(this.bytesReceived);
      }
    } catch (error) {
      this.fail(error);
    }
  }

  /** Closes this connection only, with a log line naming the peer and the reason. */
  fail(error: unknown): void {
    if (this.role === 'closed') return;
    const message = error instanceof Error ? error.message : String(error);
    const expected = error instanceof StreamgateError || error instanceof RangeError;
    this.admission.refuse('rtmp', error, 'SG_ERR_PROTOCOL');
    this.log.warn({ code: error instanceof StreamgateError ? error.code : undefined }, `closing RTMP connection from ${this.remoteAddress}: ${message}`);
    if (!expected) this.log.error({ err: error }, 'unexpected error in RTMP session');
    this.socket.destroy();
    this.cleanup();
  }

  private onCommand(command: RtmpCommand): void {
    switch (command.name) {
      case 'connect':
        return this.onConnect(command);
      case 'createStream':
        this.engine.sendCommand(0, { cmd: '_result', transId: command.transId, cmdObj: null, info: this.nextStreamId++ });
        return;
      case 'publish':
        // Async: a refusal is answered inside; anything else thrown closes this connection only.
        this.onPublish(command).catch((error: unknown) => this.fail(error));
        return;
      case 'play':
        this.onPlay(command).catch((error: unknown) => this.fail(error));
        return;
      case 'FCUnpublish':
      case 'deleteStream':
      case 'closeStream':
        if (this.role === 'publisher') this.endPublish('publisher sent ' + command.name);
        else if (this.role === 'player') this.reader?.close();
        return;
      case 'releaseStream':
      case 'FCPublish':
      case 'getStreamLength':
        if (command.transId > 0) this.engine.sendCommand(0, { cmd: '_result', transId: command.transId, cmdObj: null });
        return;
      default:
        // receiveAudio, receiveVideo, pause, _checkbw...: accepted and ignored.
        return;
    }
  }

  private onConnect(command: RtmpCommand): void {
    const cmdObj = command.fields.cmdObj as Record<string, unknown> | undefined;
    const rawApp = typeof cmdObj?.app === 'string' ? cmdObj.app : '';
    const { name: app, query } = splitQuery(rawApp.replace(/\/+$/, ''));
    this.app = app;
    this.connectQuery = query;
    const tcUrl = typeof cmdObj?.tcUrl === 'string' ? cmdObj.tcUrl : '';
    Object.assign(this.connectQuery, splitQuery(tcUrl).query);
    this.engine.sendConnectPreamble();
    const objectEncoding = typeof cmdObj?.objectEncoding === 'number' ? cmdObj.objectEncoding : 0;
    this.engine.sendCommand(0, {
      cmd: '_result',
      transId: command.transId,
      cmdObj: { fmsVer: 'FMS/3,0,1,123', capabilities: 31 },
      info: { level: 'status', code: 'NetConnection.Connect.Success', description: 'Connection succeeded.', objectEncoding },
    });
  }

  private resolvePath(command: RtmpCommand): { path: string; query: Record<string, string> } {
    const raw = typeof command.fields.streamName === 'string' ? command.fields.streamName : '';
    const { name, query } = splitQuery(raw);
    return { path: `${this.app}/${name}`, query: { ...this.connectQuery, ...query } };
  }

  /** Refuses with the protocol's own status (and closes shortly after, so the client reads it). */
  private refuse(streamId: number, code: string, path: string, action: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.log.warn({ path }, `${action} refused for ${this.remoteAddress}: ${message}`);
    this.engine.sendStatus(streamId, 'error', code, message);
    this.clearHandshakeTimer();
    this.role = 'closed';
    setTimeout(() => this.socket.destroy(), 100).unref();
  }

  private async onPublish(command: RtmpCommand): Promise<void> {
    if (this.role !== 'none') throw new ProtocolError('rtmp', `publish on a connection that is already ${this.role}`);
    const streamId = command.streamId || PLAY_STREAM_ID;
    const { path, query } = this.resolvePath(command);
    this.role = 'authorizing';
    try {
      const ticket = await this.admission.publish(
        { path, protocol: 'rtmp', remoteAddress: this.remoteAddress, query },
        {
          close: (reason) => {
            this.log.info({ path }, `publisher closed by the gateway: ${reason}`);
            this.close();
          },
        },
      );
      this.publishSession = ticket.session;
      // The connection went while access was being decided: the publish ends at once (on_unpublish fires).
      if (this.socket.destroyed) return this.endPublish('publisher disconnected');
    } catch (error) {
      if (!this.socket.destroyed) this.refuse(streamId, rtmpStatusOf(error, 'publish'), path, 'publish', error);
      return;
    }
    this.role = 'publisher';
    this.clearHandshakeTimer();
    this.toStream = new RtmpToStream(this.publishSession);
    if (this.options.idleTimeoutMs > 0) {
      this.socket.setTimeout(this.options.idleTimeoutMs, () => {
        this.fail(new ProtocolError('rtmp', `publisher sent nothing for ${this.options.idleTimeoutMs} ms`));
      });
    }
    this.engine.sendStatus(streamId, 'status', 'NetStream.Publish.Start', `/${path} is now published.`);
    this.log.info({ path }, 'publishing');
  }

  private async onPlay(command: RtmpCommand): Promise<void> {
    if (this.role !== 'none') throw new ProtocolError('rtmp', `play on a connection that is already a ${this.role}`);
    const streamId = command.streamId || PLAY_STREAM_ID;
    const { path, query } = this.resolvePath(command);
    this.role = 'player';
    this.clearHandshakeTimer();
    let ticket: PlayTicket;
    try {
      ticket = await this.admission.play({ path, protocol: 'rtmp', remoteAddress: this.remoteAddress, query });
    } catch (error) {
      if (this.socket.destroyed) return;
      this.refuse(streamId, rtmpStatusOf(error, 'play'), path, 'play', error);
      return;
    }
    this.playTicket = ticket;
    const stream = ticket.stream;
    if (this.socket.destroyed || this.role !== 'player') return this.cleanup();
    if (streamId !== PLAY_STREAM_ID) {
      this.fail(new ProtocolError('rtmp', `play on message stream ${streamId}; only stream ${PLAY_STREAM_ID} is supported`));
      return;
    }
    this.engine.sendStreamBegin(streamId);
    this.engine.sendStatus(streamId, 'status', 'NetStream.Play.Reset', 'Playing and resetting stream.');
    this.engine.sendStatus(streamId, 'status', 'NetStream.Play.Start', 'Started playing stream.');
    this.engine.sendData(streamId, { cmd: '|RtmpSampleAccess', bool1: false, bool2: false });
    const chunkSize = this.options.outChunkSize;
    this.reader = ticket.addReader({
      protocol: 'rtmp',
      remoteAddress: this.remoteAddress,
      format: this.format,
      headers: () => stream.cachedHeaders(this.format.name, () => rtmpHeaderMessages(stream, chunkSize)),
      write: (bytes) => this.write(bytes),
      ...socketCorking(this.socket),
      close: (error) => {
        if (error && !this.socket.destroyed) {
          this.log.info({ path }, `player closed: ${error.message}`);
          this.engine.sendStatus(streamId, 'status', 'NetStream.Play.UnpublishNotify', error.message);
        }
        endSocket(this.socket);
      },
    });
    this.log.info({ path }, 'playing');
  }

  private onMedia(type: number, timestamp: number, payload: Buffer): void {
    const toStream = this.toStream;
    if (!toStream) return; // media from a non-publisher is ignored
    if (type === RTMP_TYPE_VIDEO) toStream.video(timestamp, payload);
    else if (type === RTMP_TYPE_AUDIO) toStream.audio(timestamp, payload);
    else if (type === RTMP_TYPE_DATA) toStream.data(payload);
    else if (type === RTMP_TYPE_DATA_AMF3 && payload.length > 1) toStream.data(payload.subarray(1));
  }

  private endPublish(reason: string): void {
    this.publishSession?.close(reason);
    this.publishSession = undefined;
    this.toStream = undefined;
  }

  private clearHandshakeTimer(): void {
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
  }

  private cleanup(): void {
    if (this.role === 'closed' && !this.publishSession && !this.reader && !this.playTicket) {
      this.clearHandshakeTimer();
      this.onClosed(this);
      return;
    }
    const wasPublisher = this.role === 'publisher';
    this.role = 'closed';
    this.clearHandshakeTimer();
    if (wasPublisher) this.log.info('publisher disconnected');
    this.endPublish('publisher disconnected');
    this.reader = undefined;
    const ticket = this.playTicket;
    this.playTicket = undefined;
    ticket?.release();
    this.onClosed(this);
  }

  close(): void {
    this.socket.destroy();
    this.cleanup();
  }
}

/**
 * One SRT caller, from its first handshake packet to its last byte. The server relays the
 * caller's UDP packets to a private ffmpeg/libsrt listener on loopback and reads the handshake
 * on the way, so the stream id routes and authorizes the caller before libsrt completes the
 * connection:
 *
 *   induction      caller <-> libsrt, relayed (libsrt issues its SYN cookie)
 *   concluding     the caller's conclusion (its stream id parsed, its encryption matched against
 *                  srt.passphrase) goes on to libsrt, which checks the passphrase (AES key unwrap)
 *   publishing     libsrt's accepting answer is held while admission decides (tokens, rules,
 *                  on_publish hook) and claims the path
 *   authorizing    (play, m=request) the same, admission.play: access, reader limit, readiness
 *   live           everything relayed; ffmpeg's stdout (the caller's TS) goes to the hub
 *   switching      (play, m=request) admitted as a reader: the receiving child is replaced by a
 *                  sending one, whose SYN cookie the gateway learns with its own induction request
 *                  and writes into the caller's conclusion
 *   refused        each conclusion is answered with a rejection (1000 + HTTP status, or libsrt's)
 *
 * A caller refused at any step is told so in its handshake (ffmpeg: "Connection rejected"), never
 * left connected. The relay adds one loopback hop per packet and no buffering.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import type { Admission, AdmissionRequest, PlayTicket } from '../../core/admission.js';
import type { WireFormat } from '../../core/media.js';
import type { Reader } from '../../core/reader.js';
import { errorCode, srtRejectReasonOf, UnsupportedCodecError } from '../../core/errors.js';
import type { PublishSession } from '../../core/stream.js';
import type { SrtConfig } from './config.js';
import { SrtHandshakeError } from './errors.js';
import { TsContinuity, tsTables } from './from-stream.js';
import { buildInduction, buildRejection, HS_CONCLUSION, HS_INDUCTION, isHandshake, withCookie, parseHandshake, rejectionReason, SRT_REJECT, type SrtHandshake } from './handshake.js';
import { freeUdpPort, SrtListenerChild } from './listener.js';
import { maskStreamId, parseStreamId, type SrtStreamId } from './stream-id.js';
import { TsToStream } from './to-stream.js';

export type SrtState = 'induction' | 'authorizing' | 'switching' | 'concluding' | 'publishing' | 'live' | 'refused' | 'closed';

export interface SrtSessionContext {
  readonly admission: Admission;
  readonly config: SrtConfig;
  /** The ffmpeg binary (with libsrt) to run per connection. */
  ffmpegPath(): string;
  /** MPEG-TS for SRT players, one per server (frames cache its bytes). */
  readonly tsFormat: WireFormat;
  /** Sends a packet to the caller from the public socket. */
  sendToCaller(packet: Buffer, port: number, address: string): void;
}

/** How long a refused caller's conclusions are still answered with the rejection. */
const REFUSED_LINGER_MS = 1500;
const TIMER_MS = 500;

/** libsrt's own rejections, named for logs. */
const LIBSRT_REASONS: Record<number, string> = {
  [SRT_REJECT.BADSECRET]: 'wrong passphrase (srt.passphrase)',
  [SRT_REJECT.UNSECURE]: 'passphrase on one side only (srt.passphrase)',
};

export interface SrtConnectionStats {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
}

export class SrtConnection {
  state: SrtState = 'induction';
  readonly remoteAddress: string;
  readonly stats: SrtConnectionStats = { packetsIn: 0, packetsOut: 0, bytesIn: 0 };
  streamId: SrtStreamId | undefined;
  private relay: Socket | undefined;
  private child: SrtListenerChild | undefined;
  private childPort = 0;
  /** Caller packets that arrived before the child's port was known (the first induction). */
  private early: Buffer[] = [];
  private conclusion: SrtHandshake | undefined;
  private conclusionPacket: Buffer | undefined;
  private heldAnswer: Buffer | undefined;
  private request: AdmissionRequest | undefined;
  private session: PublishSession | undefined;
  toStream: TsToStream | undefined;
  private readonly started = Date.now();
  private lastCallerPacket = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private rejection: Buffer | undefined;
  private log: Logger;
  private binary = '';
  /** Play: the reader slot, the hub reader, the sending child's SYN cookie. */
  private playTicket: PlayTicket | undefined;
  private reader: Reader | undefined;
  private cookie: number | undefined;
  private inductionTimer: NodeJS.Timeout | undefined;
  /** The caller's induction, resent to a child that has not answered yet (it may still be binding its port). */
  private pendingInduction: Buffer | undefined;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: SrtSessionContext,
    readonly address: string,
    readonly port: number,
    log: Logger,
    private readonly onClosed: (c: SrtConnection) => void,
  ) {
    this.remoteAddress = `${address}:${port}`;
    this.log = log.child({ conn: this.remoteAddress });
    this.timer = setInterval(() => this.tick(), TIMER_MS);
    this.timer.unref();
    void this.start();
  }

  private async start(): Promise<void> {
    try {
      this.binary = this.ctx.ffmpegPath();
      this.childPort = await freeUdpPort();
    } catch (error) {
      this.log.error({ err: error }, `SRT caller dropped: ${(error as Error).message}`);
      this.close('no ffmpeg');
      return;
    }
    if (this.state === 'closed') return;
    const relay = createSocket('udp4');
    this.relay = relay;
    relay.on('message', (pkt) => this.fromListener(pkt));
    relay.on('error', (error) => this.log.debug({ err: error.message }, 'SRT relay socket error'));
    await new Promise<void>((resolve) => relay.bind(0, '127.0.0.1', () => resolve()));
    if ((this.state as SrtState) === 'closed') return;
    this.child = this.spawnChild('receive');
    const early = this.early;
    this.early = [];
    for (const pkt of early) this.toListener(pkt);
  }

  private spawnChild(mode: 'receive' | 'send'): SrtListenerChild {
    const child: SrtListenerChild = new SrtListenerChild(
      this.binary,
      this.childPort,
      this.ctx.config,
      {
        data: (chunk) => this.media(chunk),
        drain: () => this.reader?.drain(),
        exit: (code, signal, stderr) => {
          if (child === this.child) this.childExit(code, signal, stderr);
        },
      },
      mode,
    );
    return child;
  }

  /** A UDP packet from the caller. */
  fromCaller(pkt: Buffer): void {
    this.lastCallerPacket = Date.now();
    this.stats.packetsIn++;
    this.stats.bytesIn += pkt.length;
    switch (this.state) {
      case 'live':
      case 'concluding':
      case 'publishing':
        this.toListener(pkt);
        return;
      case 'induction': {
        const hs = isHandshake(pkt) ? parseHandshake(pkt) : undefined;
        if (!hs) return; // nothing but handshakes before the caller is admitted
        if (hs.type === HS_CONCLUSION) {
          if (hs.version >= 5) this.onConclusion(hs, pkt);
          else {
            this.conclusion = hs;
            this.refuse(new SrtHandshakeError('SG_ERR_PROTOCOL', 'SRT caller uses the version 4 handshake (libsrt before 1.3), which carries no stream id; update the encoder', SRT_REJECT.VERSION));
          }
          return;
        }
        if (hs?.type === HS_INDUCTION && !this.retryTimer) {
          // Resent every 20 ms until the child answers, instead of waiting for the caller's 250 ms retry.
          this.pendingInduction = pkt;
          this.retryTimer = setInterval(() => {
            if (this.pendingInduction && this.child) this.toListener(this.pendingInduction);
          }, 20);
          this.retryTimer.unref();
        }
        this.toListener(pkt);
        return;
      }
      case 'authorizing':
      case 'switching':
        if (isHandshake(pkt)) this.conclusionPacket = pkt; // the latest retransmission goes on
        return;
      case 'refused':
        if (this.rejection && isHandshake(pkt)) this.ctx.sendToCaller(this.rejection, this.port, this.address);
        return;
      case 'closed':
        return;
    }
  }

  private toListener(pkt: Buffer): void {
    if (!this.relay || !this.child) {
      if (this.early.length < 8) this.early.push(pkt);
      return;
    }
    // Before the child has bound its port the packet is lost; the caller resends its induction.
    if (this.cookie !== undefined && isHandshake(pkt)) pkt = withCookie(pkt, this.cookie);
    this.relay.send(pkt, this.childPort, '127.0.0.1');
  }

  /** A UDP packet from the child's libsrt, for the caller. */
  private fromListener(pkt: Buffer): void {
    if (this.retryTimer) {
      clearInterval(this.retryTimer);
      this.retryTimer = undefined;
      this.pendingInduction = undefined;
    }
    switch (this.state) {
      case 'closed':
        if (this.toStream || this.reader) this.send(pkt); // a live connection's shutdown
        return;
      case 'switching': {
        const hs = isHandshake(pkt) ? parseHandshake(pkt) : undefined;
        if (!hs || hs.type !== HS_INDUCTION || hs.version < 5) return;
        // The sending child's cookie: the caller's conclusion goes on with it.
        clearInterval(this.inductionTimer);
        this.cookie = hs.cookie;
        this.state = 'concluding';
        if (this.conclusionPacket) this.toListener(this.conclusionPacket);
        return;
      }
      case 'live':
      case 'induction':
        this.send(pkt);
        return;
      case 'concluding': {
        const hs = isHandshake(pkt) ? parseHandshake(pkt) : undefined;
        if (!hs) return;
        const reason = rejectionReason(hs);
        if (reason !== undefined) {
          this.send(pkt);
          const known = LIBSRT_REASONS[reason];
          const error =
            reason === SRT_REJECT.UNSECURE
              ? new SrtHandshakeError('SG_ERR_UNAUTHORIZED', `SRT caller refused: ${known}`, reason)
              : new SrtHandshakeError('SG_ERR_FORBIDDEN', `SRT caller refused by libsrt: ${known ?? `rejection reason ${reason}`}`, reason);
          this.refuse(error, pkt);
          return;
        }
        if (hs.type === HS_CONCLUSION) {
          if (this.playTicket) {
            this.startPlaying(pkt);
          } else if (this.streamId?.mode === 'request') {
            // The receiving child vouched for the passphrase; the player gets a sending one.
            this.state = 'authorizing';
            void this.play(this.request!);
          } else {
            this.heldAnswer = pkt;
            this.state = 'publishing';
            void this.publish();
          }
        }
        return;
      }
      case 'publishing': {
        if (isHandshake(pkt)) this.heldAnswer = pkt;
        return;
      }
      default:
        return;
    }
  }

  private send(pkt: Buffer): void {
    this.stats.packetsOut++;
    this.ctx.sendToCaller(pkt, this.port, this.address);
  }

  private onConclusion(hs: SrtHandshake, pkt: Buffer): void {
    this.conclusion = hs;
    this.conclusionPacket = pkt;
    let id: SrtStreamId;
    try {
      id = parseStreamId(hs.streamId);
    } catch (error) {
      this.refuse(error);
      return;
    }
    this.streamId = id;
    this.log = this.log.child({ path: id.path });
    const wantsKey = this.ctx.config.passphrase !== '';
    if (wantsKey !== hs.encrypted) {
      const message = wantsKey
        ? 'SRT caller refused: this listener needs a passphrase (srt.passphrase); set passphrase= on the caller'
        : 'SRT caller refused: it uses a passphrase and this listener has none (srt.passphrase)';
      this.refuse(new SrtHandshakeError('SG_ERR_UNAUTHORIZED', message, SRT_REJECT.UNSECURE));
      return;
    }
    this.request = { path: id.path, protocol: 'srt', remoteAddress: this.remoteAddress, query: id.query };
    // libsrt checks the passphrase first, so hooks only hear of callers that have the right one.
    this.state = 'concluding';
    this.toListener(pkt);
  }

  /** m=request: admitted as a reader, then the caller is moved to a sending child (see `switching`). */
  private async play(request: AdmissionRequest): Promise<void> {
    let ticket: PlayTicket;
    try {
      ticket = await this.ctx.admission.play(request);
    } catch (error) {
      this.refuse(error, undefined, true);
      return;
    }
    if (this.state !== 'authorizing') {
      ticket.release();
      return;
    }
    this.playTicket = ticket;
    this.state = 'switching';
    let port: number;
    try {
      port = await freeUdpPort();
    } catch (error) {
      this.refuse(error);
      return;
    }
    if ((this.state as SrtState) !== 'switching') return;
    this.child?.stop();
    this.childPort = port;
    const child = this.spawnChild('send');
    this.child = child;
    // The tables get ffmpeg past its (minimal) input probing, so it opens the SRT listener.
    child.write(tsTables(ticket.stream));
    const induction = buildInduction(Math.floor(Math.random() * 0x3fffffff) + 1);
    const ask = () => this.relay?.send(induction, port, '127.0.0.1');
    ask();
    this.inductionTimer = setInterval(ask, 50);
    this.inductionTimer.unref();
  }

  private startPlaying(answer: Buffer): void {
    const ticket = this.playTicket!;
    const child = this.child!;
    const stream = ticket.stream;
    this.state = 'live';
    this.send(answer);
    const continuity = new TsContinuity(() => tsTables(stream));
    this.reader = ticket.addReader({
      protocol: 'srt',
      remoteAddress: this.remoteAddress,
      format: this.ctx.tsFormat,
      headers: () => [tsTables(stream)],
      write: (bytes) => child.write(continuity.apply(bytes)),
      close: (error) => this.close(error ? error.message : 'reader closed'),
    });
    this.log.info({ streamId: maskStreamId(this.conclusion?.streamId), latencyMs: this.ctx.config.latencyMs }, 'SRT player connected');
  }

  private async publish(): Promise<void> {
    const request = this.request!;
    try {
      const { session } = await this.ctx.admission.publish(
        request,
        {
          close: (reason) => {
            this.log.info(`SRT publisher closed by the gateway: ${reason}`);
            this.close(reason);
          },
        },
      );
      this.session = session;
    } catch (error) {
      this.refuse(error, undefined, true);
      return;
    }
    if (this.state !== 'publishing') {
      this.session.close('SRT caller gone');
      return;
    }
    this.state = 'live';
    this.toStream = new TsToStream(this.session);
    this.log.info({ streamId: maskStreamId(this.conclusion?.streamId), latencyMs: this.ctx.config.latencyMs, encrypted: this.conclusion?.encrypted }, 'SRT publisher connected');
    if (this.heldAnswer) this.send(this.heldAnswer);
  }

  /** The caller's transport stream, from the child's stdout. */
  private media(chunk: Buffer): void {
    const toStream = this.toStream;
    if (!toStream || this.state !== 'live') return;
    try {
      toStream.push(chunk);
    } catch (error) {
      if (error instanceof UnsupportedCodecError) {
        this.log.warn({ code: error.code }, `SRT publisher refused: ${error.message}`);
        this.ctx.admission.refuse('srt', error);
        this.close(error.message);
        return;
      }
      throw error;
    }
  }

  /**
   * Refuses the caller in its handshake and ends the connection after a short linger (its
   * retransmitted conclusions get the same answer). `counted`: admission counted it already.
   * `answer`: libsrt's own rejection, already relayed.
   */
  private refuse(error: unknown, answer?: Buffer, counted = false): void {
    if (this.state === 'closed' || this.state === 'refused') return;
    this.state = 'refused';
    const reason = error instanceof SrtHandshakeError ? error.reason : srtRejectReasonOf(error);
    if (this.conclusion) this.rejection = answer ?? buildRejection(this.conclusion, reason, 0);
    if (this.rejection && !answer) this.ctx.sendToCaller(this.rejection, this.port, this.address);
    if (!counted) this.ctx.admission.refuse('srt', error, 'SG_ERR_PROTOCOL');
    this.log.info({ code: errorCode(error, 'SG_ERR_PROTOCOL'), srtReason: reason, streamId: maskStreamId(this.conclusion?.streamId) }, `SRT caller refused: ${(error as Error).message}`);
    this.child?.stop();
    setTimeout(() => this.close('refused'), REFUSED_LINGER_MS).unref();
  }

  private childExit(code: number | null, signal: NodeJS.Signals | null, stderr: string): void {
    if (this.state === 'closed' || this.state === 'refused') return;
    if (this.state === 'live' && this.reader) {
      this.log.info('SRT player disconnected');
      this.close('SRT caller disconnected');
      return;
    }
    if (this.state === 'live') {
      this.toStream?.demuxer.flush();
      this.log.info({ ...this.toStream?.stats }, 'SRT publisher disconnected');
      this.close('SRT caller disconnected');
      return;
    }
    this.log.warn({ code, signal, stderr }, `SRT listener (ffmpeg) ended during the handshake: ${stderr || 'no output'}`);
    this.close('SRT listener ended');
  }

  private tick(): void {
    const now = Date.now();
    if (this.state === 'live') {
      if (now - this.lastCallerPacket > this.ctx.config.idleTimeoutMs) {
        this.log.info(`SRT caller sent nothing for ${this.ctx.config.idleTimeoutMs} ms (srt.idleTimeoutMs): closed`);
        this.close('SRT caller idle');
      }
    } else if (this.state !== 'refused' && this.state !== 'closed' && now - this.started > this.ctx.config.handshakeTimeoutMs) {
      this.log.info({ state: this.state }, `SRT handshake did not finish within ${this.ctx.config.handshakeTimeoutMs} ms (srt.handshakeTimeoutMs): closed`);
      this.close('SRT handshake timeout');
    }
  }

  /** What the API shows of the connection (no stream id: it may carry a token). */
  info(): Record<string, unknown> {
    return {
      remoteAddress: this.remoteAddress,
      state: this.state,
      path: this.streamId?.path ?? null,
      mode: this.streamId?.mode ?? null,
      encrypted: this.conclusion?.encrypted ?? false,
      since: new Date(this.started).toISOString(),
      packetsIn: this.stats.packetsIn,
      packetsOut: this.stats.packetsOut,
      bytesIn: this.stats.bytesIn,
      ffmpegPid: this.child?.pid ?? null,
      ...(this.toStream ? { mpegts: { ...this.toStream.stats } } : {}),
    };
  }

  /** Resolves once the connection is closed and its ffmpeg child is gone. */
  get done(): Promise<void> {
    return this.closedPromise.then(() => this.child?.done);
  }

  private resolveClosed!: () => void;
  private readonly closedPromise = new Promise<void>((resolve) => (this.resolveClosed = resolve));

  /** True while the handshake (and its ffmpeg child) is pending. */
  get pending(): boolean {
    return this.state !== 'live' && this.state !== 'closed';
  }

  /** Ends the connection: the child (a clean SRT shutdown), the relay socket, the publish. Idempotent. */
  close(reason = 'closed'): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearInterval(this.timer);
    clearInterval(this.inductionTimer);
    clearInterval(this.retryTimer);
    this.playTicket?.release();
    this.child?.stop();
    // The relay stays until the child is gone: its SIGTERM handling sends the caller libsrt's
    // shutdown, which must still get through (the caller then stops at once, not after its timeout).
    const relay = this.relay;
    const closeRelay = () => {
      try {
        relay?.close();
      } catch {
        /* already closed */
      }
    };
    if (this.child && !this.child.exited) void this.child.done.then(closeRelay);
    else closeRelay();
    this.session?.close(reason);
    this.onClosed(this);
    this.resolveClosed();
  }
}

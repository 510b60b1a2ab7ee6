/**
 * One RTSP control connection on the server (RFC 2326): requests in order, CSeq, credentials,
 * Session ids, transports (TCP interleaved or UDP through the server's shared port pair). It
 * becomes a pusher (ANNOUNCE, SETUP, RECORD: a RecordSession) or a player (DESCRIBE, SETUP, PLAY:
 * a PlaySession), as gortsplib cuts ServerConn from ServerSession. A session lives as long as its
 * control connection.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { AccessControl } from '../../auth/index.js';
import type { Admission, AdmissionRequest } from '../../core/admission.js';
import { ProtocolError, rtspStatusOf, StreamgateError } from '../../core/errors.js';
import { validatePath } from '../../core/path.js';
import type { Stream } from '../../core/stream.js';
import { parseRtp, RtpReorderer } from '../../formats/rtp/rtp.js';
import { buildSdp, mediaTracks, parseSdp } from '../../formats/rtp/sdp.js';
import { maskSecrets } from '../../log.js';
import { writeToSocket } from '../../net/socket-writer.js';
import { matchDigest, parseDigestAuthorization } from './auth.js';
import type { RtspConfig } from './config.js';
import type { RtspStreamFormat } from './from-stream.js';
import { encodeResponse, parseTransport, type RtspMessage, RtspParser, type RtspRequest, type TransportSpec } from './message.js';
import { PlaySession, type PlayHost, type TrackTransport } from './play-session.js';
import { RecordSession } from './record-session.js';
import type { UdpServerPair } from './udp.js';
import { CONTROL, plainAddress, RtspStatusError, splitRtspUrl, trackIndex } from './urls.js';


export interface RtspSessionContext {
  /** Every publish and play goes through it (access, limits, readiness, stop hooks). */
  readonly admission: Admission;
  readonly config: RtspConfig;
  /** For Digest: the static keys a response may be computed from. */
  readonly access: Pick<AccessControl, 'digestSecrets'>;
  readonly udp: UdpServerPair | undefined;
  formatFor(stream: Stream): RtspStreamFormat;
}

const PUBLIC = 'OPTIONS, DESCRIBE, ANNOUNCE, SETUP, PLAY, PAUSE, RECORD, TEARDOWN, GET_PARAMETER, SET_PARAMETER';
const SERVER = 'Streamgate';

type Role = 'none' | 'publisher' | 'player' | 'closed';

const DIGEST_REALM = 'streamgate';

export class RtspConnection implements PlayHost {
  readonly remoteAddress: string;
  readonly remoteIp: string;
  readonly log: Logger;
  private readonly parser: RtspParser;
  private role: Role = 'none';
  private readonly sessionId = randomBytes(8).toString('hex');
  private hasSession = false;
  private path = '';
  private query: Record<string, string> = {};
  private chain: Promise<void> = Promise.resolve();
  private lastActivity = Date.now();
  private readonly watchdog: NodeJS.Timeout;
  private record: RecordSession | undefined;
  /** A player's admission and reader, from DESCRIBE (or SETUP) until the connection ends; PAUSE keeps it. */
  private play: PlaySession | undefined;
  /** Interleaved channel → track index (RTP on even, RTCP on odd channels of a pair). */
  private readonly channelTrack = new Int16Array(256).fill(-1);
  readonly transports = new Map<number, TrackTransport>();
  badPackets = 0;
  /** Digest nonce for this connection (RFC 2617 §3.2.1). */
  private readonly nonce = randomBytes(16).toString('hex');
  private offerDigest = false;

  constructor(
    readonly socket: Socket,
    private readonly ctx: RtspSessionContext,
    parentLog: Logger,
    private readonly onClosed: (c: RtspConnection) => void,
  ) {
    this.remoteIp = plainAddress(socket.remoteAddress);
    this.remoteAddress = `${this.remoteIp}:${socket.remotePort}`;
    this.log = parentLog.child({ conn: this.remoteAddress });
    this.parser = new RtspParser(
      {
        message: (m) => this.onMessage(m),
        interleaved: (channel, payload) => this.onInterleaved(channel, payload),
      },
      ctx.config,
    );
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.cleanup());
    socket.on('error', (error) => this.log.debug({ err: error.message }, 'socket error'));
    socket.on('drain', () => this.play?.drain());
    const timeout = ctx.config.sessionTimeoutMs;
    this.watchdog = setInterval(() => {
      // A TCP player needs no keepalive: its connection says when it is gone (and players
      // like ffmpeg send nothing while they read). UDP sessions and idle connections time out.
      if (this.play?.playing && !this.play.udp) return;
      if (Date.now() - this.lastActivity > timeout) this.fail(new ProtocolError('rtsp', `no request or media for ${timeout} ms (session timeout)`));
    }, Math.min(5000, Math.max(250, timeout / 4)));
    this.watchdog.unref();
  }

  private onData(chunk: Buffer): void {
    if (this.isClosed) return;
    this.lastActivity = Date.now();
    try {
      this.parser.push(chunk);
    } catch (error) {
      this.fail(error);
    }
  }

  /** Closes this connection only, with a log line naming the peer and the reason. */
  fail(error: unknown): void {
    if (this.isClosed) return;
    const message = error instanceof Error ? error.message : String(error);
    const expected = error instanceof StreamgateError;
    this.log.warn({ code: expected ? error.code : undefined, path: this.path || undefined }, `closing RTSP connection from ${this.remoteAddress}: ${message}`);
    if (!expected) this.log.error({ err: error }, 'unexpected error in RTSP session');
    // end() lets a last error response go out; destroy() follows in case the peer never reads.
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 200).unref();
    this.cleanup();
  }

  private onMessage(message: RtspMessage): void {
    if (message.kind !== 'request') {
      // Clients answer our (nonexistent) requests: nothing to do.
      return;
    }
    // Requests are answered in order; a bug in a handler closes this connection, not the process.
    this.chain = this.chain.then(() => this.handle(message)).catch((error: unknown) => this.fail(error));
  }

  get udp(): UdpServerPair | undefined {
    return this.ctx.udp;
  }

  send(bytes: Buffer): boolean {
    if (this.role === 'closed' || this.socket.destroyed) return true;
    return writeToSocket(this.socket, bytes);
  }

  private respond(_req: RtspRequest, cseq: string, status: number, headers: Record<string, string> = {}, body?: string, reason?: string): void {
    const h: Record<string, string> = { CSeq: cseq, Server: SERVER };
    if (this.hasSession) h.Session = `${this.sessionId};timeout=${Math.round(this.ctx.config.sessionTimeoutMs / 1000)}`;
    Object.assign(h, headers);
    this.send(encodeResponse(status, h, body, reason));
  }

  private async handle(req: RtspRequest): Promise<void> {
    if (this.isClosed) return;
    const cseq = req.headers.get('cseq');
    if (cseq === undefined || !/^\d{1,10}$/.test(cseq.trim())) {
      this.send(encodeResponse(400, { Server: SERVER }, undefined, 'Bad Request (missing or bad CSeq)'));
      this.fail(new ProtocolError('rtsp', `${req.method} request without a valid CSeq header`));
      return;
    }
    this.log.debug({ method: req.method, url: maskSecrets(req.url.slice(0, 300)) }, 'RTSP request');
    try {
      await this.dispatch(req, cseq.trim());
    } catch (error) {
      if (this.isClosed) return;
      const status = statusOf(error);
      const message = error instanceof Error ? error.message : String(error);
      const fatal = error instanceof RtspStatusError ? error.fatal : error instanceof ProtocolError;
      // The reason phrase carries the message: ffmpeg and most players print it.
      const reason = message.replace(/[\r\n]+/g, ' ').slice(0, 300);
      // Digest only where the path's secret is a static key (the server must know it to check a
      // Digest response); Basic always (the password is then the token or key itself).
      const challenge = this.offerDigest ? `Digest realm="${DIGEST_REALM}", nonce="${this.nonce}", algorithm=MD5, Basic realm="${DIGEST_REALM}"` : `Basic realm="${DIGEST_REALM}"`;
      const extra: Record<string, string> = status === 401 ? { 'WWW-Authenticate': challenge } : {};
      this.respond(req, cseq.trim(), status, { 'Content-Type': 'text/plain', ...extra }, message + '\n', reason);
      if (fatal || !(error instanceof StreamgateError)) this.fail(error);
      else this.log.info({ path: this.path || undefined, status }, `${req.method} refused for ${this.remoteAddress}: ${message}`);
    }
  }

  private async dispatch(req: RtspRequest, cseq: string): Promise<void> {
    switch (req.method) {
      case 'OPTIONS':
        return this.respond(req, cseq, 200, { Public: PUBLIC });
      case 'DESCRIBE':
        return this.onDescribe(req, cseq);
      case 'ANNOUNCE':
        return this.onAnnounce(req, cseq);
      case 'SETUP':
        return this.onSetup(req, cseq);
      case 'PLAY':
        return this.onPlay(req, cseq);
      case 'RECORD':
        return this.onRecord(req, cseq);
      case 'GET_PARAMETER':
      case 'SET_PARAMETER':
        return this.respond(req, cseq, 200);
      case 'TEARDOWN':
        this.respond(req, cseq, 200);
        this.socket.end();
        this.cleanup();
        return;
      case 'PAUSE':
        return this.onPause(req, cseq);
      default:
        throw new RtspStatusError(501, `method ${req.method} is not supported; supported: ${PUBLIC}`);
    }
  }

  private resolveStreamPath(url: string, withControl: boolean): string {
    const { parts, query } = splitRtspUrl(url);
    if (withControl && parts.length > 2 && CONTROL.test(parts[parts.length - 1]!)) parts.pop();
    this.query = query;
    return validatePath(parts.join('/'));
  }

  /**
   * Who asks, for DESCRIBE/ANNOUNCE/SETUP: `?token=` in the URL, or RTSP Basic auth whose password
   * is the same token or key (any user name), so cameras and VMS that only know user:password
   * work, or Digest against the path's static keys.
   */
  private admissionRequest(req: RtspRequest, action: 'publish' | 'play', path: string): AdmissionRequest {
    let credential: string | undefined;
    const header = req.headers.get('authorization');
    const secrets = this.ctx.access.digestSecrets?.(action, path) ?? [];
    this.offerDigest = secrets.length > 0;
    if (header?.startsWith('Basic ')) {
      const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon >= 0) credential = decoded.slice(colon + 1);
    } else if (header) {
      const digest = parseDigestAuthorization(header);
      if (digest) credential = matchDigest(digest, req.method, DIGEST_REALM, this.nonce, secrets) ?? 'invalid digest response';
    }
    const request = { path, protocol: 'rtsp', remoteAddress: this.remoteAddress, query: this.query };
    return credential === undefined ? request : { ...request, credential };
  }

  /** DESCRIBE, or SETUP without DESCRIBE: admits this connection as a reader of `path`. */
  private async admitPlayer(req: RtspRequest, path: string): Promise<boolean> {
    const ticket = await this.ctx.admission.play(this.admissionRequest(req, 'play', path));
    if (this.isClosed) {
      ticket.release();
      return false;
    }
    // A second DESCRIBE on the connection replaces the first (its slot and hooks end).
    this.play?.close();
    this.play = new PlaySession(this, ticket, path);
    this.path = path;
    return true;
  }

  private async onDescribe(req: RtspRequest, cseq: string): Promise<void> {
    if (this.role === 'publisher') throw new RtspStatusError(455, 'DESCRIBE on a publishing session');
    const path = this.resolveStreamPath(req.url, false);
    if (!(await this.admitPlayer(req, path))) return;
    const sdp = buildSdp(this.play!.described, path, plainAddress(this.socket.localAddress));
    const base = req.url.split('?')[0]!.replace(/\/+$/, '');
    this.respond(req, cseq, 200, { 'Content-Base': `${base}/`, 'Content-Type': 'application/sdp' }, sdp);
  }

  private async onAnnounce(req: RtspRequest, cseq: string): Promise<void> {
    if (this.role !== 'none') throw new RtspStatusError(455, `ANNOUNCE on a connection that is already a ${this.role}`);
    const type = (req.headers.get('content-type') ?? '').toLowerCase();
    if (!type.startsWith('application/sdp')) throw new RtspStatusError(415, `ANNOUNCE body must be application/sdp, got ${JSON.stringify(type.slice(0, 60))}`, true);
    const path = this.resolveStreamPath(req.url, false);
    const request = this.admissionRequest(req, 'publish', path);
    const grant = await this.ctx.admission.authorize(request, 'publish');
    if (this.isClosed) return;
    const tracks = mediaTracks(parseSdp(req.body.toString('utf8'), this.ctx.config.maxBodyBytes));
    const { session } = await this.ctx.admission.publish(
      request,
      {
        close: (reason) => {
          this.log.info({ path }, `publisher closed by the gateway: ${reason}`);
          this.close();
        },
      },
      { authenticated: grant },
    );
    this.record = new RecordSession(session, tracks);
    if (this.isClosed) return this.cleanup();
    this.role = 'publisher';
    this.path = path;
    this.respond(req, cseq, 200);
  }

  private async onSetup(req: RtspRequest, cseq: string): Promise<void> {
    let spec: TransportSpec;
    try {
      spec = parseTransport(req.headers.get('transport'));
    } catch (error) {
      throw new RtspStatusError(461, (error as Error).message, true);
    }
    if (spec.multicast) throw new RtspStatusError(461, 'multicast is not supported; use RTP/AVP/TCP or unicast RTP/AVP', true);
    if (spec.protocol === 'udp') {
      if (!this.ctx.udp) throw new RtspStatusError(461, 'UDP transport is disabled on this server; use RTP/AVP/TCP');
      if (!spec.clientPort) throw new RtspStatusError(461, 'UDP transport without client_port', true);
    }
    const sessionHeader = req.headers.get('session');
    if (this.hasSession && sessionHeader !== undefined && sessionHeader.split(';')[0]!.trim() !== this.sessionId) {
      throw new RtspStatusError(454, 'unknown session id');
    }
    let index: number;
    if (this.role === 'publisher') {
      if (this.record!.recording) throw new RtspStatusError(455, 'SETUP after RECORD');
      index = trackIndex(req.url, this.record!.controls);
    } else {
      if (!this.play) {
        // SETUP without DESCRIBE: resolve the stream from the URL minus its control, with the
        // same checks as DESCRIBE.
        const path = this.resolveStreamPath(req.url, true);
        if (!(await this.admitPlayer(req, path))) return;
      }
      if (this.play!.playing) throw new RtspStatusError(455, 'SETUP while playing');
      index = trackIndex(req.url, this.play!.described.map((_, i) => `trackID=${i}`));
      this.role = 'player';
    }
    const previous = this.transports.get(index);
    previous?.unregister?.();
    let reply: string;
    if (spec.protocol === 'tcp') {
      const [rtp, rtcp] = spec.interleaved ?? [index * 2, index * 2 + 1];
      if (this.channelTrack[rtp] !== -1 && this.channelTrack[rtp] !== index) throw new RtspStatusError(461, `interleaved channel ${rtp} is already used by another track`, true);
      this.channelTrack[rtp] = index;
      this.channelTrack[rtcp] = index;
      this.transports.set(index, { spec: { ...spec, interleaved: [rtp, rtcp] } });
      reply = `RTP/AVP/TCP;unicast;interleaved=${rtp}-${rtcp}`;
    } else {
      const udp = this.ctx.udp!;
      const [cRtp, cRtcp] = spec.clientPort!;
      // UDP may reorder: RTP goes through a reorderer into the hub, RTCP straight to sync.
      const reorderer = new RtpReorderer((pkt) => this.record?.push(index, pkt));
      const handler = (packet: Buffer, rtcp: boolean) => this.onUdp(index, packet, rtcp, reorderer);
      const u1 = udp.register(this.remoteIp, cRtp, handler);
      const u2 = udp.register(this.remoteIp, cRtcp, handler);
      this.transports.set(index, { spec, unregister: () => (u1(), u2()) });
      const [sRtp, sRtcp] = udp.ports;
      reply = `RTP/AVP;unicast;client_port=${cRtp}-${cRtcp};server_port=${sRtp}-${sRtcp}`;
    }
    if (spec.mode === 'RECORD' || this.role === 'publisher') reply += ';mode=record';
    this.hasSession = true;
    this.respond(req, cseq, 200, { Transport: reply });
  }

  private async onRecord(req: RtspRequest, cseq: string): Promise<void> {
    if (this.role !== 'publisher' || !this.record) throw new RtspStatusError(455, 'RECORD before ANNOUNCE');
    if (this.transports.size === 0) throw new RtspStatusError(455, 'RECORD before SETUP');
    this.record.recording = true;
    this.respond(req, cseq, 200);
    const via = [...this.transports.values()][0]!.spec.protocol;
    this.log.info({ path: this.path }, `publishing (${this.record.kinds} over ${via.toUpperCase()})`);
  }

  private onPause(req: RtspRequest, cseq: string): void {
    if (this.role !== 'player') throw new RtspStatusError(455, 'PAUSE is for players; a recording session cannot pause');
    this.play?.pause();
    this.respond(req, cseq, 200);
  }

  private onPlay(req: RtspRequest, cseq: string): void {
    const play = this.play;
    if (this.role !== 'player' || !play) throw new RtspStatusError(455, 'PLAY before SETUP');
    if (play.playing) return this.respond(req, cseq, 200, { Range: 'npt=0.000-' });
    // RTP-Info without seq/rtptime (both optional, RFC 2326 §12.33): the first packets a player
    // gets are the GOP cache, serialized earlier with older numbers when other players exist.
    const base = req.url.split('?')[0]!.replace(/\/+$/, '');
    const rtpInfo = play.described.map((_, i) => `url=${base}/trackID=${i}`).join(',');
    play.play(this.ctx.formatFor(play.stream), () => this.respond(req, cseq, 200, { Range: 'npt=0.000-', 'RTP-Info': rtpInfo }));
  }

  /** The player's reader ended (stream ended, kicked, too slow): so does the connection. */
  ended(): void {
    this.socket.end();
    this.cleanup();
  }

  private onInterleaved(channel: number, payload: Buffer): void {
    const index = this.channelTrack[channel]!;
    // An unknown channel, or RTCP receiver reports from a player.
    if (index >= 0) this.record?.interleaved(index, channel, payload);
  }

  private onUdp(index: number, packet: Buffer, rtcp: boolean, reorderer: RtpReorderer): void {
    if (this.isClosed) return;
    this.lastActivity = Date.now();
    if (!this.record?.recording) return;
    if (rtcp) return this.record.rtcp(index, packet);
    try {
      reorderer.push(parseRtp(packet), this.lastActivity);
    } catch {
      // A stray datagram is not worth the session: counted, not fatal (UDP has no framing to lose).
      this.badPackets++;
    }
  }

  private cleanup(): void {
    if (this.role === 'closed' && !this.record && !this.play) {
      clearInterval(this.watchdog);
      return;
    }
    const wasPublisher = this.role === 'publisher';
    this.role = 'closed';
    clearInterval(this.watchdog);
    for (const t of this.transports.values()) t.unregister?.();
    this.transports.clear();
    if (wasPublisher && this.record) this.log.info({ path: this.path }, 'publisher disconnected');
    const record = this.record;
    this.record = undefined;
    record?.close('publisher disconnected');
    const play = this.play;
    this.play = undefined;
    play?.close();
    this.onClosed(this);
  }

  get isClosed(): boolean {
    return this.role === 'closed';
  }

  get stats(): { role: Role; path: string } {
    return { role: this.role, path: this.path };
  }

  close(): void {
    this.socket.destroy();
    this.cleanup();
  }
}

function statusOf(error: unknown): number {
  return error instanceof RtspStatusError ? error.status : rtspStatusOf(error);
}

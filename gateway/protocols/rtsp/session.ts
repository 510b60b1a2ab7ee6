/**
 * One RTSP connection on the server (RFC 2326): a pusher (ANNOUNCE, SETUP, RECORD; RTP mapped
 * into the hub by RtpToStream) or a player (DESCRIBE, SETUP, PLAY; a hub Reader writing the
 * stream's shared RTP bytes). TCP interleaved or UDP through the server's shared port pair.
 * A session lives as long as its control connection.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { AccessControl } from '../../auth/index.js';
import type { Admission, AdmissionRequest, PlayTicket } from '../../core/admission.js';
import { matchDigest, parseDigestAuthorization } from './auth.js';
import {
  InvalidPathError,
  ProtocolError,
  rtspStatusOf,
  StreamgateError,
  StreamNotFoundError,
} from '../../core/errors.js';
import type { Track } from '../../core/media.js';
import { validatePath } from '../../core/path.js';
import type { Reader } from '../../core/reader.js';
import type { PublishSession, Stream } from '../../core/stream.js';
import type { RtspConfig } from './config.js';
import { forEachInterleaved, NOT_SET_UP, playTracks, remapChannels, type RtspStreamFormat } from './from-stream.js';
import { encodeResponse, parseTransport, type RtspMessage, RtspParser, type RtspRequest, type TransportSpec } from './message.js';
import { parseRtcpSenderReports, parseRtp, RtpReorderer } from '../../formats/rtp/rtp.js';
import { socketCorking, writeToSocket } from '../../net/socket-writer.js';
import { buildSdp, type MediaTrack, mediaTracks, parseSdp } from '../../formats/rtp/sdp.js';
import { RtpToStream } from './to-stream.js';
import type { UdpServerPair } from './udp.js';
import { maskSecrets } from '../../log.js';

export interface RtspSessionContext {
  /** Every publish and play goes through it (access, limits, readiness, stop hooks). */
  readonly admission: Admission;
  readonly config: RtspConfig;
  /** For Digest: the static keys a response may be computed from. */
  readonly access: Pick<AccessControl, 'digestSecrets'>;
  readonly udp: UdpServerPair | undefined;
  formatFor(stream: Stream): RtspStreamFormat;
}

/** A refusal with an RTSP status; `fatal` ones also close the connection (malformed input). */
export class RtspStatusError extends StreamgateError {
  constructor(
    readonly status: number,
    message: string,
    readonly fatal = false,
  ) {
    super('SG_ERR_PROTOCOL', `rtsp: ${message}`);
  }
}

const PUBLIC = 'OPTIONS, DESCRIBE, ANNOUNCE, SETUP, PLAY, PAUSE, RECORD, TEARDOWN, GET_PARAMETER, SET_PARAMETER';
const SERVER = 'Streamgate';

type Role = 'none' | 'publisher' | 'player' | 'closed';

interface TrackTransport {
  readonly spec: TransportSpec;
  /** UDP: the client's RTP/RTCP ports and the route registrations to undo. */
  unregister?: () => void;
}

/** Strips the IPv4-mapped prefix so TCP and UDP addresses compare equal. */
export function plainAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** `rtsp://host:port/app/name[/control]?query` → decoded path components and query. */
/**
 * Clients build SETUP URLs by appending the track's control to the whole DESCRIBE/ANNOUNCE URL,
 * query included (`.../live/cam?token=x/streamid=0`): move such a trailing path segment back in
 * front of the query so the path, the control and the query each parse as themselves.
 */
export function normalizeRtspUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const rest = url.slice(q + 1);
  const slash = rest.indexOf('/');
  if (slash < 0) return url;
  return `${url.slice(0, q)}${rest.slice(slash)}?${rest.slice(0, slash)}`;
}

export function splitRtspUrl(url: string): { parts: string[]; query: Record<string, string> } {
  let u: URL;
  try {
    u = new URL(normalizeRtspUrl(url));
  } catch {
    throw new RtspStatusError(400, `bad request URL ${JSON.stringify(url.slice(0, 200))}`, true);
  }
  if (u.protocol !== 'rtsp:' && u.protocol !== 'rtspt:') throw new RtspStatusError(400, `not an rtsp:// URL: ${JSON.stringify(url.slice(0, 200))}`, true);
  const query: Record<string, string> = {};
  for (const [k, v] of u.searchParams) query[k] = v;
  let parts: string[];
  try {
    parts = u.pathname.split('/').filter((p) => p.length > 0).map((p) => decodeURIComponent(p));
  } catch {
    throw new InvalidPathError(u.pathname);
  }
  return { parts, query };
}

const CONTROL = /^(?:trackID|streamid|track)=(\d+)$/i;
const DIGEST_REALM = 'streamgate';

export class RtspConnection {
  readonly remoteAddress: string;
  private readonly remoteIp: string;
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
  // Publisher state.
  private announced: MediaTrack[] = [];
  private publishSession: PublishSession | undefined;
  private toStream: RtpToStream | undefined;
  /** A player's admission, from DESCRIBE (or SETUP) until the connection ends; PAUSE keeps it. */
  private playTicket: PlayTicket | undefined;
  private recording = false;
  /** Interleaved channel → track index (RTP on even, RTCP on odd channels of a pair). */
  private readonly channelTrack = new Int16Array(256).fill(-1);
  private readonly transports = new Map<number, TrackTransport>();
  // Player state.
  private stream: Stream | undefined;
  private described: Track[] = [];
  private reader: Reader | undefined;
  /** Set while PAUSE closes the hub reader, so its close does not end the RTSP session. */
  private pausing = false;
  /** For TCP players: default channel → the channel this client chose; identity when undefined. */
  private channelMap: Uint8Array | undefined;
  private udpPlay = false;
  badPackets = 0;
  /** Digest nonce for this connection (RFC 2617 §3.2.1). */
  private readonly nonce = randomBytes(16).toString('hex');
  private offerDigest = false;

  constructor(
    private readonly socket: Socket,
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
    socket.on('drain', () => this.reader?.drain());
    const timeout = ctx.config.sessionTimeoutMs;
    this.watchdog = setInterval(() => {
      // A TCP player needs no keepalive: its connection says when it is gone (and players
      // like ffmpeg send nothing while they read). UDP sessions and idle connections time out.
      if (this.reader && !this.udpPlay) return;
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

  private send(bytes: Buffer): boolean {
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
    this.playTicket?.release();
    this.playTicket = ticket;
    this.path = path;
    this.stream = ticket.stream;
    this.described = playTracks(ticket.stream);
    return true;
  }

  private async onDescribe(req: RtspRequest, cseq: string): Promise<void> {
    if (this.role === 'publisher') throw new RtspStatusError(455, 'DESCRIBE on a publishing session');
    const path = this.resolveStreamPath(req.url, false);
    if (!(await this.admitPlayer(req, path))) return;
    const sdp = buildSdp(this.described, path, plainAddress(this.socket.localAddress));
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
    this.publishSession = session;
    if (this.isClosed) return this.cleanup();
    this.role = 'publisher';
    this.path = path;
    this.announced = tracks;
    this.toStream = new RtpToStream(this.publishSession, tracks);
    this.respond(req, cseq, 200);
  }

  /** Track index of a SETUP URL: its control against the announced/described tracks. */
  private trackIndex(url: string, controls: string[]): number {
    const clean = normalizeRtspUrl(url).split('?')[0]!.replace(/\/+$/, '');
    for (let i = 0; i < controls.length; i++) {
      const c = controls[i]!;
      if (c === '' || c === '*') continue;
      if (c.includes('://') ? clean === c.replace(/\/+$/, '') : clean.endsWith('/' + c)) return i;
    }
    const m = CONTROL.exec(clean.slice(clean.lastIndexOf('/') + 1));
    if (m && Number(m[1]) < controls.length) return Number(m[1]);
    if (controls.length === 1) return 0;
    throw new RtspStatusError(404, `SETUP URL ${JSON.stringify(url.slice(0, 200))} names no track of this session`);
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
      if (this.recording) throw new RtspStatusError(455, 'SETUP after RECORD');
      index = this.trackIndex(req.url, this.announced.map((t) => t.media.control));
    } else {
      if (!this.stream) {
        // SETUP without DESCRIBE: resolve the stream from the URL minus its control, with the
        // same checks as DESCRIBE.
        const path = this.resolveStreamPath(req.url, true);
        if (!(await this.admitPlayer(req, path))) return;
      }
      if (this.reader) throw new RtspStatusError(455, 'SETUP while playing');
      index = this.trackIndex(req.url, this.described.map((_, i) => `trackID=${i}`));
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
      const reorderer = new RtpReorderer((pkt) => this.toStream?.push(index, pkt));
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
    if (this.role !== 'publisher' || !this.toStream) throw new RtspStatusError(455, 'RECORD before ANNOUNCE');
    if (this.transports.size === 0) throw new RtspStatusError(455, 'RECORD before SETUP');
    this.recording = true;
    this.respond(req, cseq, 200);
    const kinds = this.announced.map((t) => t.codec).join('+');
    const via = [...this.transports.values()][0]!.spec.protocol;
    this.log.info({ path: this.path }, `publishing (${kinds} over ${via.toUpperCase()})`);
  }

  /**
   * PAUSE (RFC 2326 §10.6) on a live stream: the player stops getting frames but keeps its
   * session; the next PLAY resumes at the live edge from the GOP cache's keyframe.
   */
  private onPause(req: RtspRequest, cseq: string): void {
    if (this.role !== 'player') throw new RtspStatusError(455, 'PAUSE is for players; a recording session cannot pause');
    const reader = this.reader;
    this.reader = undefined;
    if (reader) {
      this.pausing = true;
      reader.close();
      this.pausing = false;
      this.log.info({ path: this.path }, 'player paused');
    }
    this.respond(req, cseq, 200);
  }

  private async onPlay(req: RtspRequest, cseq: string): Promise<void> {
    if (this.role !== 'player' || !this.stream) throw new RtspStatusError(455, 'PLAY before SETUP');
    if (this.reader) return this.respond(req, cseq, 200, { Range: 'npt=0.000-' });
    const stream = this.stream;
    if (stream.state === 'ended') throw new StreamNotFoundError(this.path);
    // After a PAUSE, or a slow DESCRIBE -> PLAY, the publisher may have changed codecs: the SDP
    // this player holds would no longer describe the RTP it gets.
    if (!sameLayout(this.described, playTracks(stream))) throw new RtspStatusError(455, 'the stream changed codecs since DESCRIBE; DESCRIBE again', true);
    const format = this.ctx.formatFor(stream);
    // Channel map for TCP readers that did not take the default 2i/2i+1 pairs.
    let identity = true;
    const map = new Uint8Array(256);
    for (let i = 0; i < 256; i++) map[i] = i;
    let udp = false;
    for (const [index, t] of this.transports) {
      if (t.spec.protocol === 'udp') {
        udp = true;
        continue;
      }
      const [rtp, rtcp] = t.spec.interleaved!;
      map[index * 2] = rtp;
      map[index * 2 + 1] = rtcp;
      if (rtp !== index * 2 || rtcp !== index * 2 + 1) identity = false;
    }
    // Tracks the client did not set up are not sent: route their channels nowhere.
    for (let i = 0; i < this.described.length; i++) {
      if (this.transports.has(i)) continue;
      map[i * 2] = NOT_SET_UP;
      map[i * 2 + 1] = NOT_SET_UP;
      identity = false;
    }
    this.channelMap = identity ? undefined : map;
    this.udpPlay = udp;
    // RTP-Info without seq/rtptime (both optional, RFC 2326 §12.33): the first packets a player
    // gets are the GOP cache, serialized earlier with older numbers when other players exist.
    const base = req.url.split('?')[0]!.replace(/\/+$/, '');
    const rtpInfo = this.described.map((_, i) => `url=${base}/trackID=${i}`).join(',');
    this.respond(req, cseq, 200, { Range: 'npt=0.000-', 'RTP-Info': rtpInfo });
    const described = this.described;
    this.reader = this.playTicket!.addReader({
      protocol: 'rtsp',
      remoteAddress: this.remoteAddress,
      format,
      headers: (initial) => {
        // RTP carries no stream header. A publisher that came back with other codecs cannot be
        // followed without a new DESCRIBE: end this reader so the player reconnects.
        if (!initial && !sameLayout(described, playTracks(stream))) {
          setImmediate(() => this.fail(new ProtocolError('rtsp', 'the stream changed codecs; reconnect to get the new description')));
        }
        return [];
      },
      write: (bytes) => this.writeMedia(bytes),
      // TCP: frames of one event-loop turn leave in one segment (the hub's write-merge window).
      ...(udp ? {} : socketCorking(this.socket)),
      close: (error) => {
        if (this.pausing) return; // PAUSE detached the reader; the session stays
        if (error) this.log.info({ path: this.path }, `player closed: ${error.message}`);
        this.socket.end();
        this.cleanup();
      },
    });
    this.log.info({ path: this.path }, `playing over ${udp ? 'UDP' : 'TCP'}`);
  }

  /** Per-reader write of shared bytes: as they are, remapped (other channels), or as UDP datagrams. */
  private writeMedia(bytes: Buffer): boolean {
    if (this.udpPlay) {
      const udp = this.ctx.udp!;
      forEachInterleaved(bytes, (channel, offset, length) => {
        const t = this.transports.get(channel >> 1);
        if (!t) return;
        if (t.spec.protocol === 'udp') {
          const [rtp, rtcp] = t.spec.clientPort!;
          udp.send((channel & 1) === 1, bytes, offset, length, (channel & 1) === 1 ? rtcp : rtp, this.remoteIp);
        } else {
          // A mixed session (one track TCP, one UDP): rare, so a copy of just this packet.
          const [rtpCh, rtcpCh] = t.spec.interleaved!;
          const frame = Buffer.from(bytes.subarray(offset - 4, offset + length));
          frame[1] = (channel & 1) === 1 ? rtcpCh : rtpCh;
          this.send(frame);
        }
      });
      return true;
    }
    return this.send(this.channelMap ? remapChannels(bytes, this.channelMap) : bytes);
  }

  private onInterleaved(channel: number, payload: Buffer): void {
    const index = this.channelTrack[channel]!;
    if (index < 0 || !this.recording) return; // an unknown channel, or RTCP receiver reports from a player
    if ((channel & 1) === 1) this.onRtcp(index, payload);
    else this.toStream!.push(index, parseRtp(payload));
  }

  /** A pusher's sender reports line its tracks up by its own clock. */
  private onRtcp(index: number, payload: Buffer): void {
    for (const report of parseRtcpSenderReports(payload)) this.toStream!.senderReport(index, report.ntpMs, report.rtpTimestamp);
  }

  private onUdp(index: number, packet: Buffer, rtcp: boolean, reorderer: RtpReorderer): void {
    if (this.isClosed) return;
    this.lastActivity = Date.now();
    if (!this.recording) return;
    if (rtcp) return this.onRtcp(index, packet);
    try {
      reorderer.push(parseRtp(packet), this.lastActivity);
    } catch {
      // A stray datagram is not worth the session: counted, not fatal (UDP has no framing to lose).
      this.badPackets++;
    }
  }

  private cleanup(): void {
    if (this.role === 'closed' && !this.publishSession && !this.reader && !this.playTicket) {
      clearInterval(this.watchdog);
      return;
    }
    const wasPublisher = this.role === 'publisher';
    this.role = 'closed';
    clearInterval(this.watchdog);
    for (const t of this.transports.values()) t.unregister?.();
    this.transports.clear();
    if (wasPublisher && this.publishSession) this.log.info({ path: this.path }, 'publisher disconnected');
    this.publishSession?.close('publisher disconnected');
    this.publishSession = undefined;
    this.toStream = undefined;
    const reader = this.reader;
    this.reader = undefined;
    reader?.close();
    const ticket = this.playTicket;
    this.playTicket = undefined;
    ticket?.release();
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

function sameLayout(a: readonly Track[], b: readonly Track[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.kind !== y.kind || x.codec !== y.codec) return false;
    if (x.kind === 'audio' && y.kind === 'audio' && (x.sampleRate !== y.sampleRate || x.channels !== y.channels || !x.config.equals(y.config))) return false;
  }
  return true;
}

function statusOf(error: unknown): number {
  return error instanceof RtspStatusError ? error.status : rtspStatusOf(error);
}

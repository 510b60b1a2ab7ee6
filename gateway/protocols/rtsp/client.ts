/**
 * RTSP client for camera pulls (RFC 2326 §10): OPTIONS, DESCRIBE (with Basic/Digest auth),
 * SETUP per supported track over TCP interleaved or UDP, PLAY, then keepalives within the
 * session timeout. One instance is one connection; the source that owns it reconnects.
 */
import type { Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { StreamgateError } from '../../core/errors.js';
import { RtspAuthenticator } from './auth.js';
import { encodeRequest, parseSession, parseTransport, type RtspLimits, type RtspMessage, RtspParser, type RtspResponse } from './message.js';
import { buildRtcpReport, RtpReceiverStats } from '../../formats/rtp/rtcp-receiver.js';
import { buildRtcpReceiverReport, forEachRtcp, parseRtcpSenderReports, parseRtp, RtpReorderer, type RtpPacket, senderReportLsr, type SenderReport } from '../../formats/rtp/rtp.js';
import { type MediaTrack, mediaTracks, parseSdp } from '../../formats/rtp/sdp.js';
import { bindUdpPair } from './udp.js';
import { peerAddress } from '../../net/listen.js';

export interface RtspClientOptions {
  readonly url: string;
  readonly transport: 'tcp' | 'udp';
  readonly requestTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly keepaliveMs: number;
  readonly limits: RtspLimits;
}

/** A camera answered with an error status (or not at all). */
export class RtspClientError extends StreamgateError {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super('SG_ERR_PROTOCOL', `rtsp: ${message}`);
  }
}

const USER_AGENT = 'Streamgate';
/** Our SSRC in the receiver reports we send cameras ("SG"). */
const RTCP_SSRC = 0x5347;

interface Pending {
  readonly cseq: number;
  resolve(res: RtspResponse): void;
  reject(error: Error): void;
  readonly timer: NodeJS.Timeout;
}

/** The URL without credentials, as requests and Digest use it. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url;
  }
}

export class RtspClient {
  private socket: Socket | undefined;
  private parser: RtspParser;
  private cseq = 0;
  private pending: Pending | undefined;
  private readonly auth: RtspAuthenticator | undefined;
  private readonly requestUrl: string;
  private session: string | undefined;
  private sessionTimeoutS = 60;
  private publicMethods = '';
  private baseUrl = '';
  private tracks: MediaTrack[] = [];
  /** Interleaved channel → track index. */
  private readonly channelTrack = new Int16Array(256).fill(-1);
  private readonly udpSockets: UdpSocket[] = [];
  private keepalive: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private lastPacketAt = 0;
  private closed = false;
  private closeError: Error | undefined;
  private readonly host: string;
  /** Called for each RTP packet of track `index` (SDP order of `tracks`). Synchronous. */
  onPacket: (index: number, packet: RtpPacket) => void = () => {};
  /** RTCP sender reports, per track (for A/V sync by the camera's clock). */
  onSenderReport: (index: number, report: SenderReport) => void = () => {};
  /** Called once when the connection ends after PLAY (or fails later); not after close(). */
  onClose: (error: Error) => void = () => {};
  badPackets = 0;
  /** UDP only: the per-track reorderers (their counters feed the sources API). */
  private readonly reorderers: RtpReorderer[] = [];

  /** UDP packets that arrived ahead of a missing one and were held to put them back in order. */
  get reorderedPackets(): number {
    let n = 0;
    for (const r of this.reorderers) n += r.reordered;
    return n;
  }

  constructor(
    private readonly options: RtspClientOptions,
    private readonly log: Logger,
  ) {
    const u = new URL(options.url);
    this.host = u.hostname;
    const username = decodeURIComponent(u.username);
    const password = decodeURIComponent(u.password);
    this.auth = username || password ? new RtspAuthenticator(username, password) : undefined;
    this.requestUrl = redactUrl(options.url);
    this.parser = new RtspParser({ message: (m) => this.onMessage(m), interleaved: (ch, p) => this.onInterleaved(ch, p) }, options.limits);
  }

  get remote(): string {
    return this.socket ? peerAddress(this.socket) : this.host;
  }

  /** Connects and sets up every supported track; resolves with them (in SDP order). */
  async setup(): Promise<MediaTrack[]> {
    const u = new URL(this.options.url);
    const port = u.port ? Number(u.port) : 554;
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ host: u.hostname, port });
      this.socket = socket;
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new RtspClientError(`cannot connect to ${u.hostname}:${port} within ${this.options.requestTimeoutMs} ms`));
      }, this.options.requestTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(new RtspClientError(`cannot connect to ${u.hostname}:${port}: ${error.message}`));
      });
    });
    const socket = this.socket!;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      try {
        this.parser.push(chunk);
      } catch (error) {
        this.fail(error instanceof Error ? error : new Error(String(error)));
      }
    });
    socket.on('error', (error) => this.fail(new RtspClientError(`connection to ${this.remote} failed: ${error.message}`)));
    socket.on('close', () => this.fail(new RtspClientError(`camera ${this.remote} closed the connection`)));

    const options = await this.request('OPTIONS', this.requestUrl, {}, true);
    this.publicMethods = options.headers.get('public') ?? '';
    const describe = await this.request('DESCRIBE', this.requestUrl, { Accept: 'application/sdp' });
    this.baseUrl = describe.headers.get('content-base') ?? describe.headers.get('content-location') ?? this.requestUrl;
    let sdp;
    try {
      sdp = parseSdp(describe.body.toString('utf8'), this.options.limits.maxBodyBytes);
    } catch (error) {
      throw new RtspClientError(`camera sent a bad SDP: ${(error as Error).message}`);
    }
    this.tracks = mediaTracks(sdp);
    if (sdp.control && sdp.control !== '*' && sdp.control.includes('://')) this.baseUrl = sdp.control;
    for (let i = 0; i < this.tracks.length; i++) await this.setupTrack(i);
    return this.tracks;
  }

  private controlUrl(control: string): string {
    if (control === '' || control === '*') return this.baseUrl;
    if (/^rtsp:\/\//i.test(control)) return control;
    return this.baseUrl.endsWith('/') ? this.baseUrl + control : `${this.baseUrl}/${control}`;
  }

  private async setupTrack(i: number): Promise<void> {
    const t = this.tracks[i]!;
    let transport: string;
    let udpPair: [UdpSocket, UdpSocket] | undefined;
    if (this.options.transport === 'tcp') {
      transport = `RTP/AVP/TCP;unicast;interleaved=${i * 2}-${i * 2 + 1}`;
    } else {
      udpPair = await bindUdpPair(0, '0.0.0.0');
      this.udpSockets.push(...udpPair);
      transport = `RTP/AVP;unicast;client_port=${udpPair[0].address().port}-${udpPair[1].address().port}`;
    }
    const headers: Record<string, string> = { Transport: transport };
    if (this.session) headers.Session = this.session;
    const res = await this.request('SETUP', this.controlUrl(t.media.control), headers);
    const session = parseSession(res.headers.get('session'));
    if (!session) throw new RtspClientError('camera answered SETUP without a Session header');
    this.session = session.id;
    this.sessionTimeoutS = session.timeoutS;
    let spec;
    try {
      spec = parseTransport(res.headers.get('transport'));
    } catch (error) {
      throw new RtspClientError(`camera answered SETUP with a bad Transport: ${(error as Error).message}`);
    }
    if (this.options.transport === 'tcp') {
      if (spec.protocol !== 'tcp') throw new RtspClientError('camera refused TCP interleaved transport; try transport: udp');
      const [rtp, rtcp] = spec.interleaved ?? [i * 2, i * 2 + 1];
      this.channelTrack[rtp] = i;
      this.channelTrack[rtcp] = i;
    } else {
      const [rtpSock, rtcpSock] = udpPair!;
      const serverRtcp = spec.serverPort?.[1];
      // UDP may reorder: packets go back in sequence order before the depacketizer.
      const reorderer = new RtpReorderer((pkt) => this.onPacket(i, pkt));
      this.reorderers.push(reorderer);
      // Reception statistics: each sender report of the camera is answered with a receiver report.
      const stats = new RtpReceiverStats(this.tracks[i]!.clockRate);
      rtpSock.on('message', (msg) => this.onRtp(i, msg, reorderer, stats));
      rtcpSock.on('message', (msg) => {
        this.onRtcp(i, msg);
        if (!serverRtcp || !this.socket?.remoteAddress) return;
        let reported = false;
        forEachRtcp(msg, (type, _count, offset, length) => {
          if (type !== 200 || length < 28) return;
          stats.senderReport(senderReportLsr(msg, offset), Date.now());
          reported = true;
        });
        if (reported && stats.received > 0) rtcpSock.send(buildRtcpReport(RTCP_SSRC, [stats], Date.now()), serverRtcp, this.socket.remoteAddress);
      });
      rtpSock.on('error', () => this.badPackets++);
      rtcpSock.on('error', () => this.badPackets++);
      if (serverRtcp) {
        // A receiver report opens the path through NATs/firewalls and tells the camera we listen.
        rtcpSock.send(buildRtcpReceiverReport(RTCP_SSRC), serverRtcp, this.socket!.remoteAddress!);
      }
    }
  }

  /** Starts the media; packets flow to `onPacket` from now on. */
  async play(): Promise<void> {
    await this.request('PLAY', this.baseUrl, { Session: this.session ?? '', Range: 'npt=0.000-' });
    this.lastPacketAt = Date.now();
    const every = Math.max(1000, Math.min(this.options.keepaliveMs, (this.sessionTimeoutS * 1000) / 2));
    const method = this.publicMethods.includes('GET_PARAMETER') ? 'GET_PARAMETER' : 'OPTIONS';
    this.keepalive = setInterval(() => {
      this.request(method, method === 'OPTIONS' ? this.requestUrl : this.baseUrl, { Session: this.session ?? '' }).catch((error: Error) => {
        this.fail(new RtspClientError(`keepalive ${method} failed: ${error.message}`));
      });
    }, every);
    this.keepalive.unref();
    const readTimeout = this.options.readTimeoutMs;
    this.watchdog = setInterval(() => {
      if (Date.now() - this.lastPacketAt > readTimeout) this.fail(new RtspClientError(`camera ${this.remote} sent no media for ${readTimeout} ms`));
    }, Math.min(1000, readTimeout / 2));
    this.watchdog.unref();
  }

  private request(method: string, url: string, headers: Record<string, string>, allowError = false, retried = false): Promise<RtspResponse> {
    if (this.closed || !this.socket) return Promise.reject(this.closeError ?? new RtspClientError('connection closed'));
    if (this.pending) return Promise.reject(new RtspClientError('request already in flight'));
    const cseq = ++this.cseq;
    const h: Record<string, string> = { CSeq: String(cseq), 'User-Agent': USER_AGENT, ...headers };
    const authorization = this.auth?.header(method, url);
    if (authorization) h.Authorization = authorization;
    this.socket.write(encodeRequest(method, url, h));
    return new Promise<RtspResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        reject(new RtspClientError(`no answer to ${method} within ${this.options.requestTimeoutMs} ms`));
      }, this.options.requestTimeoutMs);
      this.pending = { cseq, resolve, reject, timer };
    }).then((res) => {
      if (res.status === 401 && this.auth && !retried) {
        const challenge = res.headers.get('www-authenticate') ?? '';
        if (!this.auth.accept(challenge)) throw new RtspClientError(`camera wants authentication we do not support: ${challenge.slice(0, 100)}`, 401);
        return this.request(method, url, headers, allowError, true);
      }
      if (res.status === 401) {
        throw new RtspClientError(this.auth ? 'camera refused the credentials (401 Unauthorized)' : 'camera requires credentials (401 Unauthorized); put user:pass@ in the source URL', 401);
      }
      if (res.status !== 200 && !(allowError && res.status < 500)) {
        throw new RtspClientError(`camera answered ${method} with ${res.status} ${res.reason}`, res.status);
      }
      return res;
    });
  }

  private onMessage(message: RtspMessage): void {
    if (message.kind === 'request') {
      // Cameras rarely send requests (ANNOUNCE, GET_PARAMETER); answer so they do not wait.
      const cseq = message.headers.get('cseq') ?? '0';
      this.socket?.write(`RTSP/1.0 501 Not Implemented\r\nCSeq: ${cseq}\r\n\r\n`);
      return;
    }
    const pending = this.pending;
    const cseq = Number(message.headers.get('cseq'));
    if (!pending || cseq !== pending.cseq) return; // a late answer to a timed-out request
    this.pending = undefined;
    clearTimeout(pending.timer);
    pending.resolve(message);
  }

  private onInterleaved(channel: number, payload: Buffer): void {
    const index = this.channelTrack[channel]!;
    if (index < 0) return;
    if ((channel & 1) === 1) this.onRtcp(index, payload);
    else this.onRtp(index, payload);
  }

  private onRtcp(index: number, bytes: Buffer): void {
    this.lastPacketAt = Date.now();
    for (const report of parseRtcpSenderReports(bytes)) this.onSenderReport(index, report);
  }

  private onRtp(index: number, bytes: Buffer, reorderer?: RtpReorderer, stats?: RtpReceiverStats): void {
    this.lastPacketAt = Date.now();
    let packet: RtpPacket;
    try {
      packet = parseRtp(bytes);
    } catch {
      this.badPackets++;
      return;
    }
    stats?.packet(packet.ssrc, packet.sequence, packet.timestamp, this.lastPacketAt);
    if (reorderer) reorderer.push(packet, this.lastPacketAt);
    else this.onPacket(index, packet);
  }

  private fail(error: Error): void {
    if (this.closed) return;
    this.shutdown(error);
    if (this.pending) {
      const p = this.pending;
      this.pending = undefined;
      clearTimeout(p.timer);
      p.reject(error);
    }
    this.onClose(error);
  }

  private shutdown(error: Error, graceful = false): void {
    this.log.debug({ camera: this.requestUrl }, `RTSP client closing: ${error.message}`);
    this.closed = true;
    this.closeError = error;
    if (this.keepalive) clearInterval(this.keepalive);
    if (this.watchdog) clearInterval(this.watchdog);
    for (const s of this.udpSockets) s.close();
    this.udpSockets.length = 0;
    const socket = this.socket;
    if (graceful && socket && !socket.destroyed) {
      // Let the TEARDOWN go out; do not wait for the camera's answer.
      socket.end();
      setTimeout(() => socket.destroy(), 500).unref();
    } else {
      socket?.destroy();
    }
  }

  /** Ends the session (TEARDOWN when connected) without calling onClose. */
  close(): void {
    if (this.closed) return;
    if (this.socket && !this.socket.destroyed && this.session) {
      const h = { CSeq: String(++this.cseq), 'User-Agent': USER_AGENT, Session: this.session };
      const authorization = this.auth?.header('TEARDOWN', this.baseUrl);
      this.socket.write(encodeRequest('TEARDOWN', this.baseUrl, authorization ? { ...h, Authorization: authorization } : h));
    }
    const pending = this.pending;
    this.pending = undefined;
    this.shutdown(new RtspClientError('closed'), true);
    if (pending) {
      clearTimeout(pending.timer);
      pending.reject(new RtspClientError('closed'));
    }
  }
}

/**
 * WHEP play and WHIP ingest on the HTTP port:
 *
 *   POST   /{app}/{name}/whep          SDP offer in (application/sdp), 201 + answer + Location
 *   POST   /{app}/{name}/whip          same, to publish
 *   PATCH  /{app}/{name}/whe[pi]/{id}  trickled ICE candidates (application/trickle-ice-sdpfrag)
 *   DELETE /{app}/{name}/whe[pi]/{id}  ends the session
 *
 * Credentials: `?token=` like every URL, or `Authorization: Bearer` (what OBS and WHIP clients
 * send, RFC 9725 §4.5). Both go through the shared admission path.
 */
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Admission, PlayTicket } from '../../core/admission.js';
import { httpStatusOf, InvalidRequestError, NotFoundError, StreamgateError, UnsupportedCodecError } from '../../core/errors.js';
import type { Track, VideoTrack } from '../../core/media.js';
import { splitQuery, validatePath } from '../../core/path.js';
import type { Stream } from '../../core/stream.js';
import { TRANSPORT_CC_URI } from '../../formats/rtp/twcc.js';
import { sendError } from '../../http/errors.js';
import { peerAddress } from '../../net/listen.js';
import { maskSecrets } from '../../log.js';
import { certificateFiles } from './certificate.js';
import type { WebRtcConfig } from './config.js';
import { type AnswerMedia, Peer, reserveUdpMux } from './engine.js';
import { SdpInvalidError, WebRtcLimitError, WebRtcOverloadError } from './errors.js';
import { OverloadGuard } from './overload.js';
import { WebRtcStreamFormat } from './from-stream.js';
import { announceAddresses, chooseAudio, chooseH264, chooseRtx, type OfferCodec, type OfferMedia, offeredCodecs, parseOffer } from './sdp.js';
import type { SessionInfo, WebRtcSession } from './session.js';
import { WhepSession } from './whep-session.js';
import { WhipSession } from './whip-session.js';
import type { WhipTrack } from './to-stream.js';

const MAX_BODY_BYTES = 64 * 1024;
const ROUTE = /^\/(.+)\/(whep|whip)(?:\/([A-Za-z0-9_-]{8,64}))?$/;

export interface WebRtcServerOptions {
  readonly admission: Admission;
  readonly config: WebRtcConfig;
  readonly log: Logger;
  /** Where the DTLS certificate is kept (dataDir/webrtc). */
  readonly certificateDir: string;
  /** The address the gateway binds (candidates are gathered on it). */
  readonly bindAddress: string;
  /** The stream a path has now, if any (to choose a rendition before admitting the reader). */
  readonly peek: (path: string) => Stream | undefined;
  /**
   * The rendition that carries `path` in codecs WebRTC can send, when the transcoder has one:
   * `needs.video` (not H.264) and/or `needs.audio` (not Opus or G.711).
   */
  readonly renditionFor: (path: string, needs: { video: boolean; audio: boolean }) => string | undefined;
}

/** Why a body is refused before parsing (RFC 9725 §4.2: the offer is application/sdp). */
function requireType(req: Request, type: string): void {
  const got = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (got !== type) throw new InvalidRequestError(`Content-Type must be ${type} (got ${got || 'none'})`, { status: 415 });
}

function readBody(req: Request): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new InvalidRequestError(`body over ${MAX_BODY_BYTES} bytes`, { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** A Bearer token (RFC 6750) from the Authorization header, if any. */
function bearer(req: Request): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

/**
 * A format for a section we decline (the stream has no such track, or not in a codec WebRTC
 * carries): an m-line still lists at least one format (RFC 4566 §5.14, RFC 3264 §6), and
 * Chromium refuses an answer whose m-line has none ("Failed to parse SessionDescription").
 * The first offered one libdatachannel can describe.
 */
function declinedFormat(m: OfferMedia): AnswerMedia['codec'] {
  const names = m.kind === 'video' ? ['H264'] : ['OPUS', 'PCMU', 'PCMA'];
  const c = m.codecs.find((x) => names.includes(x.name));
  return c ? { payloadType: c.payloadType, name: c.name as 'H264' | 'OPUS' | 'PCMA' | 'PCMU', fmtp: c.fmtpLine } : undefined;
}

function h264Profile(track: Track | undefined): number {
  if (track?.kind !== 'video' || track.codec !== 'H264' || track.config.length < 2) return -1;
  // AVCDecoderConfigurationRecord: configurationVersion, then AVCProfileIndication.
  return (track as VideoTrack).config[1]!;
}

/** Ended sessions remembered for a late DELETE. */
const RECENTLY_ENDED = 256;

export class WebRtcServer {
  private readonly sessions = new Map<string, WebRtcSession>();
  /** RTP state per stream (one format each), dropped with the stream. */
  private readonly formats = new WeakMap<Stream, WebRtcStreamFormat>();
  private closed = false;
  private certificate: { certificatePemFile: string; keyPemFile: string } | undefined;

  /** Sessions that ended lately (id → "kind path"), so a DELETE right after the peer left gets 200. */
  private readonly recentlyEnded = new Map<string, string>();

  private rememberEnded(session: WebRtcSession): void {
    this.recentlyEnded.set(session.id, `${session.kind} ${session.path}`);
    // Oldest first in a Map: keep the last RECENTLY_ENDED.
    while (this.recentlyEnded.size > RECENTLY_ENDED) this.recentlyEnded.delete(this.recentlyEnded.keys().next().value!);
  }

  /** Refuses new sessions and sheds the newest WHIP ones while the event loop falls behind. */
  readonly overload: OverloadGuard | undefined;

  constructor(private readonly options: WebRtcServerOptions) {
    const limit = options.config.overloadLagMs;
    this.overload = limit > 0 ? new OverloadGuard(limit, (reason) => this.shedNewest(reason), options.log) : undefined;
  }

  /** Closes the newest WHIP session, else the newest WHEP one (publishers bring the load in). */
  private shedNewest(reason: string): boolean {
    const list = this.list();
    const newest = (kind: string) => list.filter((s) => s.kind === kind && s.state !== 'closed').sort((a, b) => b.since - a.since)[0];
    const victim = newest('whip') ?? newest('whep');
    if (!victim) return false;
    this.options.log.warn({ session: victim.id, path: victim.path, kind: victim.kind }, `WebRTC: shedding load, closing ${victim.kind.toUpperCase()} session on ${victim.path}`);
    victim.close(reason);
    return true;
  }

  private mux: { close(): void } | undefined;

  /**
   * Binds the ICE UDP mux port (webrtc.udpPort) for the whole run, so no other process takes it
   * between sessions. When another process has it now (a second gateway on the host, a standby
   * beside its primary), the gateway still starts and says so: sessions get 503 until the port is
   * free, then bind it themselves.
   */
  listen(quiet = false): void {
    const port = this.options.config.udpPort;
    if (port <= 0 || this.mux || this.closed) return;
    try {
      this.mux = reserveUdpMux(port, this.options.bindAddress);
      if (quiet) this.options.log.info({ udpPort: port }, `WebRTC ICE UDP port ${port} is free again: bound`);
    } catch (error) {
      if (!quiet) this.options.log.warn({ udpPort: port }, `${(error as Error).message}: WHIP/WHEP sessions get 503 until it is free`);
    }
  }

  /** The ICE UDP mux port (0: a port per session). */
  get udpPort(): number {
    return this.options.config.udpPort;
  }

  list(): WebRtcSession[] {
    return [...this.sessions.values()];
  }

  infos(): SessionInfo[] {
    return this.list().map((s) => s.info());
  }

  /** Express middleware: claims the WHIP/WHEP URLs, passes everything else on. */
  readonly handle = (req: Request, res: Response, next: NextFunction): void => {
    const m = ROUTE.exec(req.path);
    if (!m || (req.method !== 'POST' && req.method !== 'PATCH' && req.method !== 'DELETE')) return next();
    const kind = m[2] as 'whep' | 'whip';
    const id = m[3];
    let path: string;
    try {
      path = validatePath(decodeURIComponent(m[1]!));
    } catch (error) {
      sendError(res, error);
      return;
    }
    if (req.method === 'POST' && id === undefined) void this.post(kind, path, req, res);
    else if (req.method === 'DELETE' && id !== undefined) this.delete(kind, path, id, res);
    else if (req.method === 'PATCH' && id !== undefined) void this.patch(kind, path, id, req, res);
    else next();
  };

  private session(kind: string, path: string, id: string): WebRtcSession {
    const s = this.sessions.get(id);
    if (!s || s.kind !== kind || s.path !== path) throw new NotFoundError(`no ${kind.toUpperCase()} session ${id} on ${path}`);
    return s;
  }

  private delete(kind: string, path: string, id: string, res: Response): void {
    try {
      // OBS closes its peer connection first and DELETEs after: the session may have ended on
      // the DTLS close a moment before. The resource was there; the DELETE succeeds.
      const ended = this.recentlyEnded.get(id);
      if (ended && ended === `${kind} ${path}` && !this.sessions.has(id)) {
        res.status(200).end();
        return;
      }
      this.session(kind, path, id).close('ended by the client (DELETE)');
      res.status(200).end();
    } catch (error) {
      sendError(res, error);
    }
  }

  /** Trickle ICE (RFC 9725 §4.3.1): candidates of an SDP fragment for a session. */
  private async patch(kind: string, path: string, id: string, req: Request, res: Response): Promise<void> {
    try {
      const session = this.session(kind, path, id);
      requireType(req, 'application/trickle-ice-sdpfrag');
      const frag = await readBody(req);
      let mid = '0';
      let bad: string | undefined;
      for (const line of frag.split(/\r?\n/)) {
        if (line.startsWith('a=mid:')) mid = line.slice(6).trim();
        else if (line.startsWith('a=candidate:')) {
          try {
            session.addRemoteCandidate(line.slice(2), mid);
          } catch (error) {
            // libdatachannel refuses only what it cannot parse; the fragment's other candidates still count
            bad ??= `${line.slice(0, 200)} (${error instanceof Error ? error.message : String(error)})`;
          }
        }
      }
      if (bad !== undefined) throw new SdpInvalidError(bad, 'trickle-ICE candidate');
      res.status(204).end();
    } catch (error) {
      sendError(res, error);
    }
  }

  private async post(kind: 'whep' | 'whip', path: string, req: Request, res: Response): Promise<void> {
    const remoteAddress = peerAddress(req.socket);
    const log = this.options.log;
    try {
      requireType(req, 'application/sdp');
      const offer = await readBody(req);
      const media = parseOffer(offer);
      if (this.closed) throw new StreamgateError('SG_ERR_INTERNAL', 'the gateway is stopping');
      if (this.sessions.size >= this.options.config.maxSessions) throw new WebRtcLimitError(this.options.config.maxSessions);
      if (this.overload?.overloaded) throw new WebRtcOverloadError(this.overload.lagMs, this.options.config.overloadLagMs);
      const query = splitQuery(req.originalUrl).query;
      const request = { path, protocol: kind === 'whep' ? 'webrtc' : 'whip', remoteAddress, query, credential: bearer(req) };
      const session = kind === 'whep' ? await this.play(request, offer, media) : await this.publish(request, offer, media);
      const answer = await session.answer;
      this.sessions.set(session.session.id, session.session);
      session.session.onClosed(() => {
        this.sessions.delete(session.session.id);
        this.rememberEnded(session.session);
      });
      const location = `/${path}/${kind}/${session.session.id}`;
      log.info({ conn: remoteAddress, path: session.session.path, session: session.session.id, video: session.session.video, audio: session.session.audio }, `${kind.toUpperCase()} session started`);
      res.status(201).set({ 'Content-Type': 'application/sdp', Location: location, 'Access-Control-Expose-Headers': 'Location, ETag', ETag: `"${session.session.id}"` }).send(answer);
      session.session.answered();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log.info({ conn: remoteAddress, url: maskSecrets(req.originalUrl.slice(0, 256)), status: httpStatusOf(error) }, `${kind.toUpperCase()} request refused: ${message}`);
      this.options.admission.refuse(kind === 'whep' ? 'webrtc' : 'whip', error, 'SG_ERR_INTERNAL');
      sendError(res, error);
    }
  }

  private peer(name: string, onState: (s: string) => void): Peer {
    this.certificate ??= certificateFiles(this.options.certificateDir);
    // The mux port was taken at start: hold it from the first session that finds it free.
    this.listen(true);
    return new Peer(name, this.options.config, this.options.bindAddress, this.certificate, { state: onState });
  }

  private finishAnswer(sdp: string): string {
    return announceAddresses(sdp, this.options.config.announceAddresses);
  }

  /** The path to play for this offer: the stream itself, or the rendition that WebRTC can carry. */
  private playPath(path: string): string {
    const stream = this.options.peek(path);
    if (!stream?.ready) return path;
    const v = stream.videoTrack;
    const a = stream.audioTrack;
    const needs = { video: v !== undefined && v.codec !== 'H264', audio: a !== undefined && a.codec !== 'OPUS' && a.codec !== 'PCMA' && a.codec !== 'PCMU' };
    if (!needs.video && !needs.audio) return path;
    return this.options.renditionFor(path, needs) ?? path;
  }

  private async play(
    request: { path: string; protocol: string; remoteAddress: string; query: Record<string, string>; credential?: string },
    offer: string,
    media: readonly OfferMedia[],
  ): Promise<{ session: WebRtcSession; answer: Promise<string> }> {
    const path = this.playPath(request.path);
    const ticket: PlayTicket = await this.options.admission.play({ ...request, path });
    try {
      const stream = ticket.stream;
      let format = this.formats.get(stream);
      if (!format) {
        format = new WebRtcStreamFormat(stream, this.options.config.maxRtpPayload);
        this.formats.set(stream, format);
      }
      const answerMedia: AnswerMedia[] = [];
      let video: { media: OfferMedia; codec: OfferCodec } | undefined;
      let audio: { media: OfferMedia; codec: OfferCodec } | undefined;
      const refusals: string[] = [];
      for (const m of media) {
        const wantsToReceive = m.active && (m.direction === 'recvonly' || m.direction === 'sendrecv');
        let codec: OfferCodec | undefined;
        if (wantsToReceive && m.kind === 'video' && !video && stream.videoTrack) {
          if (stream.videoTrack.codec === 'H264') codec = chooseH264(m, h264Profile(stream.videoTrack));
          if (codec) video = { media: m, codec };
          else refusals.push(`video ${stream.videoTrack.codec} (offered: ${offeredCodecs(m)}; H.264 needs packetization-mode=1)`);
        } else if (wantsToReceive && m.kind === 'audio' && !audio && stream.audioTrack) {
          const c = stream.audioTrack.codec;
          if (c === 'OPUS' || c === 'PCMA' || c === 'PCMU') codec = chooseAudio(m, c);
          if (codec) audio = { media: m, codec };
          else refusals.push(`audio ${c} (offered: ${offeredCodecs(m)})`);
        }
        const kind = m.kind === 'video' ? 'video' : 'audio';
        if (!codec) {
          const declined = declinedFormat(m);
          answerMedia.push({ kind, mid: m.mid, direction: 'Inactive', ...(declined ? { codec: declined } : {}) });
          continue;
        }
        const track = kind === 'video' ? stream.videoTrack! : stream.audioTrack!;
        const name = track.codec as 'H264' | 'OPUS' | 'PCMA' | 'PCMU';
        answerMedia.push({ kind, mid: m.mid, direction: 'SendOnly', codec: { payloadType: codec.payloadType, name, fmtp: codec.fmtpLine }, ssrc: format.outFor(track).ssrc });
      }
      if (!video && !audio) {
        throw new UnsupportedCodecError(refusals.join('; ') || 'none the stream has (the offer receives no media it carries)', ['H264 (packetization-mode=1)', 'OPUS', 'PCMA', 'PCMU']);
      }
      const log = this.options.log.child({ path: stream.path });
      let session!: WhepSession;
      const peer = this.peer(`whep ${stream.path}`, (state) => session?.peerState(state));
      const answer = peer.answer(offer, answerMedia).then((sdp) => this.finishAnswer(sdp));
      const send = (sel: { media: OfferMedia; codec: OfferCodec } | undefined, track: Track | undefined) =>
        sel && track ? { track: peer.tracks.get(sel.media.mid)!, payloadType: sel.codec.payloadType, codec: track.codec } : undefined;
      // peer.answer added the tracks synchronously before its first await.
      session = new WhepSession(ticket, peer, format, { video: send(video, stream.videoTrack), audio: send(audio, stream.audioTrack) }, request.remoteAddress, log, this.options.config.connectTimeoutMs, this.options.config.peerTimeoutMs);
      answer.catch((error: unknown) => session.close(`answer failed: ${(error as Error).message}`));
      return { session, answer };
    } catch (error) {
      ticket.release();
      throw error;
    }
  }

  private async publish(
    request: { path: string; protocol: string; remoteAddress: string; query: Record<string, string>; credential?: string },
    offer: string,
    media: readonly OfferMedia[],
  ): Promise<{ session: WebRtcSession; answer: Promise<string> }> {
    const answerMedia: AnswerMedia[] = [];
    const tracks: (WhipTrack & { mid: string })[] = [];
    const refusals: string[] = [];
    let transportCcId = -1;
    for (const m of media) {
      const sends = m.active && (m.direction === 'sendonly' || m.direction === 'sendrecv');
      let codec: OfferCodec | undefined;
      let rtx: number | undefined;
      if (sends && m.kind === 'video' && !tracks.some((t) => t.kind === 'video')) {
        codec = chooseH264(m);
        // RTX when offered: retransmissions and the rate control's padding then come on their own
        // SSRC, so a lost padding packet is no gap in the video (and no keyframe request).
        rtx = codec && chooseRtx(m, codec.payloadType);
        if (codec) tracks.push({ kind: 'video', mid: m.mid, payloadType: codec.payloadType, codec: 'H264', channels: 0, ...(rtx !== undefined ? { rtxPayloadType: rtx } : {}) });
        else refusals.push(`video (offered: ${offeredCodecs(m)})`);
      } else if (sends && m.kind === 'audio' && !tracks.some((t) => t.kind === 'audio')) {
        codec = chooseAudio(m, 'OPUS');
        if (codec) tracks.push({ kind: 'audio', mid: m.mid, payloadType: codec.payloadType, codec: 'OPUS', channels: codec.channels === 2 ? 2 : 1 });
        else refusals.push(`audio (offered: ${offeredCodecs(m)})`);
      }
      const kind = m.kind === 'video' ? 'video' : 'audio';
      // Transport-wide congestion feedback when offered: the publisher's rate control then
      // measures the path instead of creeping up from 300 kbps (formats/rtp/twcc.ts).
      const twccId = m.extensions.get(TRANSPORT_CC_URI);
      const twcc = this.options.config.whipTransportCc && codec && twccId !== undefined && codec.rtcpFb.includes('transport-cc');
      if (twcc) transportCcId = twccId;
      answerMedia.push(
        codec
          ? {
              kind,
              mid: m.mid,
              direction: 'RecvOnly',
              codec: { payloadType: codec.payloadType, name: kind === 'video' ? 'H264' : 'OPUS', fmtp: codec.fmtpLine },
              ...(rtx !== undefined ? { rtx } : {}),
              ...(twcc ? { lines: [`a=extmap:${twccId} ${TRANSPORT_CC_URI}`, `a=rtcp-fb:${codec.payloadType} transport-cc`] } : {}),
            }
          : { kind, mid: m.mid, direction: 'Inactive', ...(declinedFormat(m) ? { codec: declinedFormat(m) } : {}) },
      );
    }
    if (tracks.length === 0) {
      throw new UnsupportedCodecError(refusals.join('; ') || 'no media to send in the offer', ['H264 (packetization-mode=1)', 'OPUS']);
    }
    const log = this.options.log.child({ path: request.path });
    let session!: WhipSession;
    const peer = this.peer(`whip ${request.path}`, (state) => session?.peerState(state));
    session = new WhipSession(request.path, peer, tracks, request.remoteAddress, log, this.options.config, transportCcId);
    try {
      const ticket = await this.options.admission.publish(request, {
        close: (reason) => session.close(reason),
        requestKeyframe: () => session.requestKeyframe(),
      });
      const answer = peer.answer(offer, answerMedia).then((sdp) => this.finishAnswer(sdp));
      session.attach(ticket.session);
      answer.catch((error: unknown) => session.close(`answer failed: ${(error as Error).message}`));
      return { session, answer };
    } catch (error) {
      session.close(error instanceof Error ? error.message : String(error));
      throw error;
    }
  }

  /** Ends every session (gateway stop). */
  close(): void {
    this.closed = true;
    this.overload?.close();
    for (const s of this.list()) s.close('gateway stopping');
    this.mux?.close();
    this.mux = undefined;
  }
}

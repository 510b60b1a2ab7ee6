/**
 * The play half of an RTSP server connection (DESCRIBE, SETUP, PLAY, PAUSE): the admission
 * ticket, the tracks described to the player, and a hub Reader writing the stream's shared RTP
 * bytes as they are, with the client's interleaved channels, or as UDP datagrams.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { PlayTicket } from '../../core/admission.js';
import { ProtocolError, StreamNotFoundError } from '../../core/errors.js';
import type { Track } from '../../core/media.js';
import type { Reader } from '../../core/reader.js';
import type { Stream } from '../../core/stream.js';
import { socketCorking } from '../../net/socket-writer.js';
import { forEachInterleaved, NOT_SET_UP, playTracks, remapChannels, type RtspStreamFormat } from './from-stream.js';
import type { TransportSpec } from './message.js';
import type { UdpServerPair } from './udp.js';
import { RtspStatusError } from './urls.js';

export interface TrackTransport {
  readonly spec: TransportSpec;
  /** UDP: the route registrations to undo. */
  unregister?: () => void;
}

/** What a play session needs from its connection. */
export interface PlayHost {
  readonly socket: Socket;
  readonly remoteIp: string;
  readonly remoteAddress: string;
  readonly log: Logger;
  readonly udp: UdpServerPair | undefined;
  /** Track index → transport, as SETUP made them (shared with the connection). */
  readonly transports: ReadonlyMap<number, TrackTransport>;
  send(bytes: Buffer): boolean;
  fail(error: unknown): void;
  /** The reader ended for good: end the connection. */
  ended(): void;
}

export class PlaySession {
  readonly stream: Stream;
  /** What DESCRIBE told the player; PLAY refuses when the stream no longer matches it. */
  readonly described: Track[];
  private reader: Reader | undefined;
  /** Set while PAUSE closes the hub reader, so its close does not end the RTSP session. */
  private pausing = false;
  /** For TCP players: default channel → the channel this client chose; identity when undefined. */
  private channelMap: Uint8Array | undefined;
  /** Any track over UDP: media leaves as datagrams. */
  udp = false;

  constructor(
    private readonly host: PlayHost,
    private readonly ticket: PlayTicket,
    readonly path: string,
  ) {
    this.stream = ticket.stream;
    this.described = playTracks(ticket.stream);
  }

  get playing(): boolean {
    return this.reader !== undefined;
  }

  /** The socket drained: the reader may write again. */
  drain(): void {
    this.reader?.drain();
  }

  /**
   * PLAY: checks the stream still matches the description, builds the channel routing from the
   * SETUP transports and attaches a reader. `respond` sends the 200 before the first media byte.
   */
  play(format: RtspStreamFormat, respond: () => void): void {
    const stream = this.stream;
    if (stream.state === 'ended') throw new StreamNotFoundError(this.path);
    // After a PAUSE, or a slow DESCRIBE -> PLAY, the publisher may have changed codecs: the SDP
    // this player holds would no longer describe the RTP it gets.
    if (!sameLayout(this.described, playTracks(stream))) throw new RtspStatusError(455, 'the stream changed codecs since DESCRIBE; DESCRIBE again', true);
    // Channel map for TCP readers that did not take the default 2i/2i+1 pairs.
    let identity = true;
    const map = new Uint8Array(256);
    for (let i = 0; i < 256; i++) map[i] = i;
    let udp = false;
    for (const [index, t] of this.host.transports) {
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
      if (this.host.transports.has(i)) continue;
      map[i * 2] = NOT_SET_UP;
      map[i * 2 + 1] = NOT_SET_UP;
      identity = false;
    }
    this.channelMap = identity ? undefined : map;
    this.udp = udp;
    respond();
    const described = this.described;
    const host = this.host;
    this.reader = this.ticket.addReader({
      protocol: 'rtsp',
      remoteAddress: host.remoteAddress,
      format,
      headers: (initial) => {
        // RTP carries no stream header. A publisher that came back with other codecs cannot be
        // followed without a new DESCRIBE: end this reader so the player reconnects.
        if (!initial && !sameLayout(described, playTracks(stream))) {
          setImmediate(() => host.fail(new ProtocolError('rtsp', 'the stream changed codecs; reconnect to get the new description')));
        }
        return [];
      },
      write: (bytes) => this.writeMedia(bytes),
      // TCP: frames of one event-loop turn leave in one segment (the hub's write-merge window).
      ...(udp ? {} : socketCorking(host.socket)),
      close: (error) => {
        if (this.pausing) return; // PAUSE detached the reader; the session stays
        if (error) host.log.info({ path: this.path }, `player closed: ${error.message}`);
        host.ended();
      },
    });
    host.log.info({ path: this.path }, `playing over ${udp ? 'UDP' : 'TCP'}`);
  }

  /**
   * PAUSE (RFC 2326 §10.6) on a live stream: the player stops getting frames but keeps its
   * session (and its admission); the next PLAY resumes at the live edge from the GOP cache.
   */
  pause(): void {
    const reader = this.reader;
    this.reader = undefined;
    if (!reader) return;
    this.pausing = true;
    reader.close();
    this.pausing = false;
    this.host.log.info({ path: this.path }, 'player paused');
  }

  /** Ends the reader and frees the admission slot (on_stop fires). */
  close(): void {
    const reader = this.reader;
    this.reader = undefined;
    reader?.close();
    this.ticket.release();
  }

  /** Per-reader write of shared bytes: as they are, remapped (other channels), or as UDP datagrams. */
  private writeMedia(bytes: Buffer): boolean {
    const host = this.host;
    if (this.udp) {
      const udp = host.udp!;
      forEachInterleaved(bytes, (channel, offset, length) => {
        const t = host.transports.get(channel >> 1);
        if (!t) return;
        if (t.spec.protocol === 'udp') {
          const [rtp, rtcp] = t.spec.clientPort!;
          udp.send((channel & 1) === 1, bytes, offset, length, (channel & 1) === 1 ? rtcp : rtp, host.remoteIp);
        } else {
          // A mixed session (one track TCP, one UDP): rare, so a copy of just this packet.
          const [rtpCh, rtcpCh] = t.spec.interleaved!;
          const frame = Buffer.from(bytes.subarray(offset - 4, offset + length));
          frame[1] = (channel & 1) === 1 ? rtcpCh : rtpCh;
          host.send(frame);
        }
      });
      return true;
    }
    return host.send(this.channelMap ? remapChannels(bytes, this.channelMap) : bytes);
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

/**
 * HTTP-FLV pull: a driver of the generic source supervisor (gateway/sources/source.ts) that reads
 * another gateway's `GET /{app}/{name}.flv` and publishes it here. Used by edge relays
 * (gateway/cluster/edge.ts) to fetch a stream once from its origin and fan it out locally. The
 * FLV tag bodies map to core frames exactly like RTMP messages (formats/flv-to-stream.ts).
 */
import { type ClientRequest, type IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from 'pino';
import { ProtocolError, StreamEndedError, StreamgateError } from '../../core/errors.js';
import { FLV_TAG_AUDIO, FLV_TAG_SCRIPT, FLV_TAG_VIDEO } from '../../formats/flv-tag.js';
import { FlvTagsToStream } from '../../formats/flv-to-stream.js';
import type { ConnectRequest, PullConnection, PullDriver } from '../../sources/source.js';
import { maskSecrets } from '../../log.js';
import { FlvDemuxer, type FlvTag } from './demux.js';

/** The upstream answered the FLV request with something other than 200. */
export class FlvPullRefusedError extends StreamgateError {
  constructor(
    readonly status: number,
    url: string,
    detail: string,
  ) {
    super('SG_ERR_ORIGIN_UNAVAILABLE', `upstream ${maskSecrets(url)} answered HTTP ${status}${detail ? `: ${detail}` : ''}`);
  }
}

/** Where to pull from, resolved again for every connection (the origin may have moved). */
export type FlvPullResolver = (signal: AbortSignal) => Promise<string>;

export interface FlvPullOptions {
  /** A connection that delivers nothing for this long is closed (and retried). */
  readonly readTimeoutMs: number;
  /** The protocol the hub shows for this publisher. */
  readonly protocol: string;
  /** Failures retrying will not fix besides refusals (e.g. "the directory has no such path"). */
  readonly isPermanent?: (error: Error) => boolean;
}

/** A sequence header carries no media time: the connection's clock starts at the first coded frame. */
function isConfigTag(tag: FlvTag): boolean {
  const b0 = tag.body[0] ?? 0;
  if (tag.type === FLV_TAG_VIDEO) return b0 & 0x80 ? (b0 & 0x0f) === 0 : tag.body[1] === 0;
  return b0 >> 4 === 10 && tag.body[1] === 0;
}

export class HttpFlvPull implements PullDriver {
  readonly transport = 'tcp' as const;
  private lastUrl = '';

  constructor(
    private readonly path: string,
    private readonly resolve: FlvPullResolver,
    private readonly options: FlvPullOptions,
    private readonly log: Logger,
  ) {}

  get protocol(): string {
    return this.options.protocol;
  }

  get url(): string {
    return this.lastUrl || `(upstream of ${this.path} not resolved yet)`;
  }

  isPermanent(error: Error): boolean {
    if (error instanceof FlvPullRefusedError) return error.status === 401 || error.status === 403 || error.status === 404;
    return this.options.isPermanent?.(error) ?? false;
  }

  async connect(request: ConnectRequest): Promise<PullConnection & { readonly description: string }> {
    const url = await this.resolve(request.signal);
    this.lastUrl = url;
    if (request.signal.aborted) throw new StreamEndedError(this.path, 'source stopped while connecting');
    const { req, res } = await this.open(url, request.signal);
    let closedByUs = false;
    let tags = 0;
    let lastDts = -1;
    try {
      if (res.statusCode !== 200) {
        const detail = await readSmallBody(res);
        throw new FlvPullRefusedError(res.statusCode ?? 0, url, detail);
      }
      const remote = `${req.host}:${(req.socket?.remotePort ?? '').toString()}`;
      const session = await request.claim(remote);
      if (request.signal.aborted) throw new StreamEndedError(this.path, 'source stopped while connecting');
      const toStream = new FlvTagsToStream(session, this.options.protocol);
      // Timestamps of this connection start at request.startMs (after the previous connection's last frame).
      let first: number | undefined;
      const demux = new FlvDemuxer((tag) => {
        tags++;
        if (tag.type === FLV_TAG_SCRIPT) return toStream.data(tag.body);
        if (tag.type !== FLV_TAG_VIDEO && tag.type !== FLV_TAG_AUDIO) return;
        if (first === undefined && !isConfigTag(tag)) first = tag.timestamp;
        const t = first === undefined ? request.startMs : Math.max(0, request.startMs + tag.timestamp - first);
        if (first !== undefined) lastDts = t;
        if (tag.type === FLV_TAG_VIDEO) toStream.video(t, tag.body);
        else toStream.audio(t, tag.body);
      });
      let ended = false;
      const end = (error: Error) => {
        if (ended) return;
        ended = true;
        req.destroy();
        if (!closedByUs) request.onClose(error);
      };
      res.on('data', (chunk: Buffer) => {
        try {
          demux.push(chunk);
        } catch (error) {
          end(error instanceof Error ? error : new ProtocolError('flv', String(error)));
        }
      });
      res.on('end', () => end(new StreamEndedError(this.path, 'the upstream ended the stream')));
      res.on('error', (error) => end(error));
      req.on('error', (error) => end(error));
      req.on('close', () => end(new StreamEndedError(this.path, 'the upstream connection closed')));
      req.setTimeout(this.options.readTimeoutMs, () => end(new ProtocolError('flv', `no data from the upstream for ${this.options.readTimeoutMs} ms`)));
      return {
        description: `HTTP-FLV from ${maskSecrets(url)}`,
        get lastDts() {
          return lastDts;
        },
        stats: () => ({ packets: tags, lostPackets: 0, reorderedPackets: 0, avSync: 'arrival' }),
        close: () => {
          closedByUs = true;
          req.destroy();
        },
      };
    } catch (error) {
      closedByUs = true;
      req.destroy();
      throw error;
    }
  }

  private open(url: string, signal: AbortSignal): Promise<{ req: ClientRequest; res: IncomingMessage }> {
    return new Promise((resolve, reject) => {
      const make = url.startsWith('https:') ? httpsRequest : httpRequest;
      // agent: false: one connection per pull, never pooled behind another request.
      const req = make(url, { method: 'GET', agent: false, signal, headers: { 'User-Agent': 'streamgate-edge' } });
      req.setTimeout(this.options.readTimeoutMs, () => req.destroy(new ProtocolError('flv', `upstream ${maskSecrets(url)} did not answer within ${this.options.readTimeoutMs} ms`)));
      req.once('response', (res) => {
        res.socket.setNoDelay(true);
        resolve({ req, res });
      });
      req.once('error', reject);
      req.end();
      this.log.debug({ url: maskSecrets(url) }, 'HTTP-FLV pull: connecting');
    });
  }
}

/** The JSON error message of a refusal, if it has one (at most 4 KiB read). */
function readSmallBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d: string) => {
      body += d;
      if (body.length > 4096) res.destroy();
    });
    const done = () => {
      try {
        resolve(String((JSON.parse(body) as { error?: { message?: string } }).error?.message ?? ''));
      } catch {
        resolve('');
      }
    };
    res.on('end', done);
    res.on('close', done);
  });
}

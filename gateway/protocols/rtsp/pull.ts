/**
 * The RTSP camera pull: one implementation of the generic source supervisor's driver
 * (gateway/sources/source.ts). A connection is an RtspClient (DESCRIBE, SETUP, PLAY, keepalive)
 * whose RTP is mapped into the supervisor's publish session by RtpToStream.
 */
import type { Logger } from 'pino';
import { ConfigError, StreamEndedError } from '../../core/errors.js';
import type { PullKind } from '../../sources/manager.js';
import type { ConnectRequest, PullConnection, PullDriver } from '../../sources/source.js';
import { RtspClient, RtspClientError } from './client.js';
import { type RtspConfig, type SourceConfig, sourceConfigSchema } from './config.js';
import { RtpToStream } from '../../formats/rtp/to-stream.js';

export class RtspPull implements PullDriver {
  constructor(
    private readonly path: string,
    private readonly config: SourceConfig,
    private readonly rtsp: RtspConfig,
    private readonly log: Logger,
  ) {}

  get url(): string {
    return this.config.url;
  }

  get transport(): 'tcp' | 'udp' {
    return this.config.transport ?? this.rtsp.pull.transport;
  }

  /** The camera refused our credentials or has no such stream: retrying will not fix it. */
  isPermanent(error: Error): boolean {
    return error instanceof RtspClientError && (error.status === 401 || error.status === 403 || error.status === 404);
  }

  async connect(request: ConnectRequest): Promise<PullConnection & { readonly description: string }> {
    const pull = this.rtsp.pull;
    const client = new RtspClient(
      {
        url: this.config.url,
        transport: this.transport,
        requestTimeoutMs: pull.requestTimeoutMs,
        readTimeoutMs: pull.readTimeoutMs,
        keepaliveMs: pull.keepaliveMs,
        limits: this.rtsp,
      },
      this.log,
    );
    const abort = () => client.close();
    request.signal.addEventListener('abort', abort, { once: true });
    try {
      const tracks = await client.setup();
      if (request.signal.aborted) throw new StreamEndedError(this.path, 'source stopped while connecting');
      const session = await request.claim(client.remote);
      if (request.signal.aborted) throw new StreamEndedError(this.path, 'source stopped while connecting');
      const toStream = new RtpToStream(session, tracks, request.startMs);
      client.onPacket = (index, packet) => toStream.push(index, packet);
      client.onSenderReport = (index, report) => toStream.senderReport(index, report.ntpMs, report.rtpTimestamp);
      client.onClose = (error) => request.onClose(error);
      await client.play();
      return {
        description: `${tracks.map((t) => t.codec).join('+')} over ${this.transport.toUpperCase()}`,
        get lastDts() {
          return toStream.lastDts;
        },
        stats: () => ({
          packets: toStream.stats.packets,
          lostPackets: toStream.stats.lostPackets,
          reorderedPackets: client.reorderedPackets,
          avSync: toStream.syncedBySenderReports ? 'sender-reports' : 'arrival',
        }),
        close: () => client.close(),
      };
    } catch (error) {
      client.close();
      throw error;
    } finally {
      request.signal.removeEventListener('abort', abort);
    }
  }
}

/** RTSP cameras for the source manager: `rtsp://` URLs, supervised with `rtsp.pull`. */
export function rtspPullKind(rtsp: RtspConfig, log: Logger): PullKind<SourceConfig> {
  return {
    schemes: ['rtsp:'],
    parse(body) {
      const parsed = sourceConfigSchema.safeParse(body);
      if (parsed.success) return parsed.data;
      throw new ConfigError(parsed.error.issues.map((i) => (i.code === 'unrecognized_keys' ? `unknown key ${i.keys.join(', ')}` : `${i.path.join('.') || 'body'}: ${i.message}`)).join('; '));
    },
    driver: (path, config) => new RtspPull(path, config, rtsp, log.child({ source: path })),
    settings: (config) => ({
      onDemand: config.onDemand,
      idleCloseMs: config.idleCloseMs ?? rtsp.pull.idleCloseMs,
      retryInitialMs: rtsp.pull.retryInitialMs,
      retryMaxMs: rtsp.pull.retryMaxMs,
    }),
  };
}

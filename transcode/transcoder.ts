/**
 * Everything transcode/ offers the gateway, built from one config section: on-demand renditions,
 * snapshots, their API, and the `browserUrl` hint for the streams API. Constructed by the
 * composition root after the RTSP server; `start()` resolves the ffmpeg binary and logs it.
 */
import type { Router } from 'express';
import type { Logger } from 'pino';
import { createToken } from '../gateway/auth/tokens.js';
import { matchPathPattern } from '../gateway/core/path.js';
import type { StreamRegistry } from '../gateway/core/registry.js';
import type { Stream } from '../gateway/core/stream.js';
import { transcodeRouter } from './api.js';
import type { TranscodeConfig } from './config.js';
import { FfmpegNotFoundError, TranscodeError } from './errors.js';
import { type FfmpegBinary, resolveFfmpeg } from './ffmpeg.js';
import { Renditions } from './renditions.js';
import { Snapshots } from './snapshots.js';

/** What the jobs need from access control to get their own loopback connections through. */
export interface LoopbackAccess {
  readonly signingKeys: Readonly<Record<string, string>>;
  readonly config: { readonly activeKeyId: string };
  ruleFor(path: string): { mode: string; publishKey?: string | undefined; playKey?: string | undefined } | undefined;
}

export interface TranscoderOptions {
  readonly registry: StreamRegistry;
  readonly config: TranscodeConfig;
  readonly log: Logger;
  readonly ports: () => { rtmp: number | undefined; rtsp: number | undefined };
  readonly auth?: LoopbackAccess;
  /** Address the jobs connect to (default 127.0.0.1; the listeners must accept it). */
  readonly host?: string;
  /** Environment for binary resolution (tests). */
  readonly env?: NodeJS.ProcessEnv;
}

/** Lifetime of the credential a job presents; it is checked at connect time only. */
const JOB_TOKEN_TTL_S = 300;

export class Transcoder {
  readonly renditions: Renditions;
  readonly snapshots: Snapshots;
  private ffmpeg: FfmpegBinary | undefined;
  private ffmpegError: Error | undefined;

  constructor(private readonly options: TranscoderOptions) {
    const binary = () => this.binary();
    this.renditions = new Renditions({
      registry: options.registry,
      config: options.config,
      log: options.log,
      binary,
      urls: {
        input: (source) => this.url('rtsp', source, 'play'),
        output: (path) => this.url('rtmp', path, 'publish'),
      },
    });
    this.snapshots = new Snapshots({ streams: options.registry, config: options.config.snapshot, binary, log: options.log });
    if (options.config.enabled) options.registry.addDemandHandler(this.renditions);
  }

  /** Resolves the ffmpeg binary (FFMPEG_PATH, PATH, bundled) and logs which one. Never throws. */
  async start(): Promise<void> {
    if (this.ffmpeg || this.ffmpegError) return;
    try {
      this.ffmpeg = resolveFfmpeg(this.options.env);
      this.options.log.info({ ffmpeg: this.ffmpeg.path, from: this.ffmpeg.source, version: this.ffmpeg.version }, `transcoding with ${this.ffmpeg.path} (${this.ffmpeg.source}): ${this.ffmpeg.version}`);
    } catch (error) {
      this.ffmpegError = error as Error;
      this.options.log.warn({ err: (error as Error).message }, `transcoding and snapshots are unavailable: ${(error as Error).message}`);
    }
  }

  binary(): FfmpegBinary {
    if (!this.ffmpeg && !this.ffmpegError) void this.start();
    if (this.ffmpeg) return this.ffmpeg;
    throw this.ffmpegError ?? new FfmpegNotFoundError('not resolved');
  }

  router(): Router {
    return transcodeRouter(this.renditions, this.snapshots, this.options.config.snapshot.maxWidth);
  }

  /**
   * Extra fields for a stream's API entry: `browserUrl`, the FLV URL a browser should play. It is
   * the rendition of the first matching `auto` rule when the stream is not H.264 + AAC.
   */
  streamExtras = (stream: Stream): { browserUrl: string } => {
    const own = `/${stream.path}.flv`;
    if (!this.options.config.enabled) return { browserUrl: own };
    const v = stream.videoTrack;
    const a = stream.audioTrack;
    const browserSafe = (!v || v.codec === 'H264') && (!a || a.codec === 'AAC');
    if (browserSafe) return { browserUrl: own };
    const rule = this.options.config.auto.find((r) => matchPathPattern(r.paths, stream.path));
    if (!rule || !Object.hasOwn(this.options.config.profiles, rule.profile)) return { browserUrl: own };
    return { browserUrl: `/${stream.path}_${rule.profile}.flv` };
  };

  close(): void {
    this.renditions.close();
  }

  private url(protocol: 'rtsp' | 'rtmp', path: string, action: 'play' | 'publish'): string {
    const port = protocol === 'rtsp' ? this.options.ports().rtsp : this.options.ports().rtmp;
    if (!port) {
      throw new TranscodeError('SG_ERR_TRANSCODE_FAILED', `renditions need the ${protocol.toUpperCase()} listener (${protocol}.enabled) to ${action === 'play' ? 'read the source' : 'publish'}`, 503);
    }
    const credential = this.credential(path, action);
    const query = credential ? `?token=${encodeURIComponent(credential)}` : '';
    return `${protocol}://${this.options.host ?? '127.0.0.1'}:${port}/${path}${query}`;
  }

  /**
   * A short-lived token for exactly this action on this path when signing keys exist (an admin
   * token in a command line would open the whole API to anyone who saw it); else the path's
   * static key (mode keys). Job command lines and ffmpeg's output are shown with it masked.
   */
  private credential(path: string, action: 'play' | 'publish'): string | undefined {
    const auth = this.options.auth;
    if (!auth) return undefined;
    const keys = auth.signingKeys;
    const kids = Object.keys(keys);
    if (kids.length > 0) {
      const kid = keys[auth.config.activeKeyId] ? auth.config.activeKeyId : kids[0]!;
      return createToken(keys, kid, action, path, JOB_TOKEN_TTL_S);
    }
    const rule = auth.ruleFor(path);
    if (rule?.mode !== 'keys') return undefined;
    return action === 'publish' ? rule.publishKey : (rule.publishKey ?? rule.playKey);
  }
}

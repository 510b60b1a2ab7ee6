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
import { planRendition, renditionAudioCodec } from './profiles.js';
import { parseMixPath, RoomMixes } from './room-mix.js';
import { isRenditionPath, parseRenditionPath, Renditions } from './renditions.js';
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
  /** The rooms' say over a participant's audio in the mixes: a host's mute, clean-up filters. */
  readonly roomAudio?: { muted(path: string): boolean; cleanup(path: string): string | undefined };
}

/** A browser-safe rendition of a stream, with the codecs it carries (API names; null: no such track). */
export interface RenditionOffer {
  readonly path: string;
  readonly profile: string;
  readonly video: string | null;
  readonly audio: string | null;
}

/** What `streamExtras` adds to a stream's API entry. */
export interface StreamPlayback {
  readonly browserUrl: string;
  readonly renditions: {
    /** The full-size rendition (`auto` rule's profile). */
    readonly browser: RenditionOffer | null;
    /** The rendition for small wall tiles (the rule's tileProfile), when one is configured. */
    readonly tile: RenditionOffer | null;
    /**
     * The audio-only renditions (video copied), where they apply: `aac` when the source's audio
     * is Opus (FLV, RTMP and HLS readers), `opus` when it is AAC or G.711 (WebRTC readers). Absent
     * when the profile is not configured or does not apply.
     */
    readonly aac?: RenditionOffer;
    readonly opus?: RenditionOffer;
    /** Without a rendition: the config that would enable one. */
    readonly enable?: string;
  };
}

/** Lifetime of the credential a job presents; it is checked at connect time only. */
const JOB_TOKEN_TTL_S = 300;

export class Transcoder {
  readonly renditions: Renditions;
  readonly mixes: RoomMixes;
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
        output: (path, protocol) => this.url(protocol, path, 'publish'),
      },
    });
    this.mixes = new RoomMixes({
      registry: options.registry,
      config: options.config,
      log: options.log,
      binary,
      input: (path) => this.url('rtsp', path, 'play'),
      output: (path) => this.url('rtmp', path, 'publish'),
      derived: (path) => this.derives(path),
      audioMuted: (path) => options.roomAudio?.muted(path) ?? false,
      cleanup: (path) => options.roomAudio?.cleanup(path),
    });
    this.snapshots = new Snapshots({ streams: options.registry, config: options.config.snapshot, binary, log: options.log });
    if (options.config.enabled) {
      // Mixes first: `room/{id}/_mix` is not a rendition of a `room/{id}/` stream.
      options.registry.addDemandHandler(this.mixes);
      options.registry.addDemandHandler(this.renditions);
    }
  }

  /** True for a path the transcoder publishes itself (a rendition, a room mix): derived, not a participant. */
  derives(path: string): boolean {
    return isRenditionPath(this.options.config, path) || parseMixPath(path) !== undefined;
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
   * Extra fields for a stream's API entry: `browserUrl`, the FLV URL a browser should play (the
   * rendition of the first matching `auto` rule when the stream is not H.264 + AAC), and
   * `renditions`, what the player chooses from with the browser's own capability checks: the
   * full-size and the small-tile rendition with the codecs they carry, or the config line that
   * would enable one.
   */
  streamExtras = (stream: Stream): StreamPlayback => {
    const own = `/${stream.path}.flv`;
    const v = stream.videoTrack;
    const a = stream.audioTrack;
    const browserSafe = (!v || v.codec === 'H264') && (!a || a.codec === 'AAC');
    const renditions = this.offers(stream);
    // H.264 + Opus only needs its audio changed: the aac rendition copies the video.
    const best = v?.codec === 'H264' && a?.codec === 'OPUS' && renditions.aac ? renditions.aac : renditions.browser;
    const browserUrl = !browserSafe && best ? `/${best.path}.flv` : own;
    return { browserUrl, renditions };
  };

  private offers(stream: Stream): StreamPlayback['renditions'] {
    const config = this.options.config;
    const none = (enable: string) => ({ browser: null, tile: null, enable });
    if (!config.enabled) return none('transcode: { enabled: true }');
    // A rendition is already browser-safe: offering a rendition of it would only stack jobs.
    const parsed = parseRenditionPath(stream.path);
    if (parsed && Object.hasOwn(config.profiles, parsed.profile)) return { browser: null, tile: null };
    const tracks = { video: stream.videoTrack, audio: stream.audioTrack };
    const audio = tracks.audio?.codec;
    const audioOffers: { aac?: RenditionOffer; opus?: RenditionOffer } = {};
    if (audio === 'OPUS' && Object.hasOwn(config.profiles, 'aac')) audioOffers.aac = offerOf('aac');
    if (audio !== undefined && audio !== 'OPUS' && Object.hasOwn(config.profiles, 'opus')) audioOffers.opus = offerOf('opus');
    const rule = config.auto.find((r) => matchPathPattern(r.paths, stream.path));
    if (!rule) return { ...none(`transcode: { auto: [{ paths: "${stream.path}", profile: h264 }] }`), ...audioOffers };
    if (!Object.hasOwn(config.profiles, rule.profile)) return { ...none(`transcode: { profiles: { ${rule.profile}: {} } }`), ...audioOffers };
    const tile = rule.tileProfile && Object.hasOwn(config.profiles, rule.tileProfile) ? offerOf(rule.tileProfile) : null;
    return { browser: offerOf(rule.profile), tile, ...audioOffers };

    function offerOf(profile: string): RenditionOffer {
      const plan = planRendition(config.profiles[profile]!, tracks);
      return {
        path: `${stream.path}_${profile}`,
        profile,
        video: plan.video === 'none' ? null : plan.video === 'copy' ? (tracks.video?.codec ?? null) : 'H264',
        audio: renditionAudioCodec(config.profiles[profile]!, tracks),
      };
    }
  }

  close(): void {
    this.mixes.close();
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

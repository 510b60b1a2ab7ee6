/**
 * The player's one config object. Every option has a documented default (`playerDefaultConfig`);
 * `mergeConfig` merges user options over it once and rejects contradictions with a message that
 * says what to change.
 */
import type { VariantMode } from './variant.js';

/** How the player reaches the gateway. */
export type Transport = 'http' | 'ws' | 'hls' | 'webrtc' | 'auto';

/**
 * Latency presets: `low` keeps the smallest buffer that a steady LAN stream plays without stalls;
 * `balanced` trades about half a second for resilience on lossy or congested networks.
 */
export type LatencyMode = 'low' | 'balanced';

/** Buffer-ahead targets (seconds of media decoded but not yet shown) used by the latency controller. */
export interface LatencyTuning {
  /** The buffer the controller settles at. */
  targetBufferS: number;
  /** Above target + tolerance, play faster. */
  toleranceS: number;
  /** playbackRate while catching up (audio pitch is preserved by the browser). */
  catchUpRate: number;
  /** Above this, skip ahead to `target` at once instead of speeding up. */
  jumpBufferS: number;
}

export const latencyPresets: Readonly<Record<LatencyMode, Readonly<LatencyTuning>>> = {
  low: { targetBufferS: 0.15, toleranceS: 0.05, catchUpRate: 1.1, jumpBufferS: 0.5 },
  balanced: { targetBufferS: 0.6, toleranceS: 0.3, catchUpRate: 1.08, jumpBufferS: 2.5 },
};

export interface RetryConfig {
  /** First delay after a failure. */
  initialDelayMs: number;
  /** Each further failure multiplies the delay by this. */
  factor: number;
  /** Ceiling of the delay (an offline camera is retried at this pace). */
  maxDelayMs: number;
}

export interface PlayerConfig {
  /** Stream path `{app}/{name}`, e.g. `live/cam1`. Required. */
  stream: string;
  /**
   * `http` (HTTP-FLV, default), `ws` (WS-FLV), `hls`, `webrtc` (WHEP), or `auto`: WebRTC when the
   * stream's codecs allow it and the browser has RTCPeerConnection, else HTTP-FLV when MSE exists,
   * else HLS. A refused WHEP request falls back to HTTP-FLV/HLS (the reason is in `stats.fallback`).
   */
  transport: Transport;
  /** Latency preset, default `low`. */
  latency: LatencyMode;
  /** Overrides of the preset's numbers. */
  latencyTuning: Partial<LatencyTuning>;
  /** Gateway base URL; default: the page's origin. */
  server: string;
  /** Access token appended as `?token=` to every URL. */
  token: string | undefined;
  /** Start muted (browsers only autoplay muted video). Default true. */
  muted: boolean;
  /** Start playing as soon as the player is created. Default true. */
  autoplay: boolean;
  /** Show the stats overlay (latency, codec, resolution, fps, bitrate, dropped frames). Default true. */
  overlay: boolean;
  /** Show the browser's native controls. Default false. */
  controls: boolean;
  /** Reconnect pacing while the stream is offline or the network fails. */
  retry: RetryConfig;
  /** No new frame for this long while playing: ask the API whether the publisher is gone. */
  stallTimeoutMs: number;
  /** How often `stats` is emitted. */
  statsIntervalMs: number;
  /** Timeout of the API look-up made before each connection attempt. */
  apiTimeoutMs: number;
  /**
   * `auto` (default): play the gateway's browser-safe rendition (`{stream}_h264`) when this
   * browser cannot decode the source (H.265, G.711); `source`: always the original.
   */
  variant: VariantMode;
  /** A small wall tile: prefer the gateway's tile rendition (e.g. `{stream}_wall`, 360p) when one is needed. */
  tile: boolean;
}

export type PlayerOptions = Partial<Omit<PlayerConfig, 'retry'>> & { stream: string; retry?: Partial<RetryConfig> };

export const playerDefaultConfig: Readonly<Omit<PlayerConfig, 'stream' | 'server'>> = {
  transport: 'http',
  latency: 'low',
  latencyTuning: {},
  token: undefined,
  muted: true,
  autoplay: true,
  overlay: true,
  controls: false,
  retry: { initialDelayMs: 500, factor: 1.6, maxDelayMs: 5000 },
  stallTimeoutMs: 1500,
  statsIntervalMs: 500,
  apiTimeoutMs: 2000,
  variant: 'auto',
  tile: false,
};

/** Thrown by `mergeConfig` for options that cannot work; `code` is stable. */
export class PlayerConfigError extends Error {
  readonly code = 'SG_PLAYER_ERR_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'PlayerConfigError';
  }
}

const STREAM_PATH = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+$/;

export function mergeConfig(options: PlayerOptions, origin: string): PlayerConfig {
  const config: PlayerConfig = {
    ...playerDefaultConfig,
    server: origin,
    ...options,
    retry: { ...playerDefaultConfig.retry, ...(options.retry ?? {}) },
    latencyTuning: { ...(options.latencyTuning ?? {}) },
  } as PlayerConfig;
  if (!STREAM_PATH.test(config.stream ?? '')) {
    throw new PlayerConfigError(`stream must be a path like "live/cam1" (letters, digits, _ . -), got "${String(config.stream)}"`);
  }
  if (!['http', 'ws', 'hls', 'webrtc', 'auto'].includes(config.transport)) {
    throw new PlayerConfigError(`transport must be one of http, ws, hls, webrtc, auto; got "${config.transport}"`);
  }
  if (config.variant !== 'auto' && config.variant !== 'source') {
    throw new PlayerConfigError(`variant must be auto or source; got "${String(config.variant)}"`);
  }
  if (!(config.latency in latencyPresets)) {
    throw new PlayerConfigError(`latency must be one of ${Object.keys(latencyPresets).join(', ')}; got "${config.latency}"`);
  }
  const tuning = tuningOf(config);
  if (tuning.jumpBufferS <= tuning.targetBufferS + tuning.toleranceS) {
    throw new PlayerConfigError('latencyTuning.jumpBufferS must exceed targetBufferS + toleranceS, or the player would jump on every tick');
  }
  if (tuning.catchUpRate < 1 || tuning.catchUpRate > 2) {
    throw new PlayerConfigError('latencyTuning.catchUpRate must be between 1 and 2');
  }
  if (config.autoplay && !config.muted && !config.controls) {
    // Browsers refuse unmuted autoplay without a user gesture; without controls the user could not start it.
    throw new PlayerConfigError('autoplay with sound needs controls: set muted: true (default) or controls: true');
  }
  if (config.retry.initialDelayMs <= 0 || config.retry.factor < 1 || config.retry.maxDelayMs < config.retry.initialDelayMs) {
    throw new PlayerConfigError('retry needs initialDelayMs > 0, factor >= 1 and maxDelayMs >= initialDelayMs');
  }
  return config;
}

export function tuningOf(config: PlayerConfig): LatencyTuning {
  return { ...latencyPresets[config.latency], ...config.latencyTuning };
}

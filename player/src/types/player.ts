/** The player's public types: states, events and the data each event carries. */
import type { TransportStats } from '../engine/engine.js';
export type { TransportStats } from '../engine/engine.js';

/**
 * - `connecting`: looking the stream up and opening the connection.
 * - `playing`: frames are being shown.
 * - `stalled`: connected, the publisher is there, but no frame for a while (network).
 * - `offline`: no publisher (not published yet, or it stopped); the player retries by itself.
 * - `unsupported`: the browser cannot decode the stream (e.g. H.265); see `StateChange.rendition`.
 * - `unauthorized`: the gateway refused the token (401/403).
 * - `error`: something else failed; the player retries by itself.
 * - `paused`: stopped on purpose (`stop()`, or a wall tile scrolled out of view).
 * - `destroyed`: `destroy()` was called.
 */
export type PlayerState =
  | 'idle'
  | 'connecting'
  | 'playing'
  | 'stalled'
  | 'offline'
  | 'unsupported'
  | 'unauthorized'
  | 'error'
  | 'paused'
  | 'destroyed';

export interface StateChange {
  state: PlayerState;
  previous: PlayerState;
  /** Why, in words a user understands. */
  reason: string;
  /** For `unsupported`: the browser-safe rendition path to offer, e.g. `live/cam1_h264`. */
  rendition?: string;
  /** For `unsupported` without a configured rendition: the gateway config line that would enable one. */
  enable?: string;
  /** For `offline`/`error`: when the next attempt happens (ms from now). */
  retryInMs?: number;
}

/** The engine actually used: mpegts.js over HTTP or WebSocket, hls.js, the browser's own HLS, or WebRTC (WHEP). */
export type EngineName = 'http-flv' | 'ws-flv' | 'hls.js' | 'native-hls' | 'webrtc';

export interface MediaInfo {
  videoCodec: string | undefined;
  audioCodec: string | undefined;
  width: number | undefined;
  height: number | undefined;
  fps: number | undefined;
}

/** What the player plays: the stream itself or its browser-safe rendition (chosen by the player, see variant.ts). */
export interface PlayingVariant {
  kind: 'source' | 'rendition';
  /** The path opened, e.g. `live/cam2_h264`. */
  path: string;
  /** e.g. "H.265 + G.711 A-law camera, playing the H.264 + AAC rendition live/cam2_h264". */
  reason: string;
}

export interface PlayerStats {
  state: PlayerState;
  engine: EngineName | undefined;
  /**
   * Live latency in ms: now - the time the gateway received the frame on screen, from the
   * gateway's `streamgate-time` stamps (median of the last second of frames). Undefined until
   * the first stamp; estimated from the buffer for HLS, and for WebRTC from each frame's receive
   * and display times plus half the round trip (`latencyMeasured` false).
   */
  latencyMs: number | undefined;
  latencyMeasured: boolean;
  /** Media decoded but not yet shown, ms. */
  bufferMs: number;
  playbackRate: number;
  media: MediaInfo;
  /** Received bitrate, kbit/s. */
  bitrateKbps: number | undefined;
  decodedFrames: number;
  droppedFrames: number;
  /** ms from the start of this connection attempt to its first frame on screen. */
  firstFrameMs: number | undefined;
  /** Connection attempts since the last frame shown. */
  retries: number;
  /** The variant playing (undefined before the first look-up). */
  variant: PlayingVariant | undefined;
  /** WebRTC only: round trip, packets lost, jitter buffer, NACKs (from getStats()). */
  transport?: TransportStats | undefined;
  /** Why the player plays another transport than asked (e.g. "WebRTC refused (415 ...): ...; playing HTTP-FLV"). */
  fallback?: string | undefined;
}

export interface PlayerError extends Error {
  /** Stable code, e.g. SG_PLAYER_ERR_NETWORK, SG_PLAYER_ERR_MEDIA, SG_PLAYER_ERR_LISTENER. */
  code: string;
  fatal: boolean;
}

/** Event name -> listener arguments. */
export interface PlayerEventMap {
  [key: string]: unknown[];
  state: [StateChange];
  stats: [PlayerStats];
  mediainfo: [MediaInfo];
  /** The first frame of a connection attempt is on screen. */
  firstframe: [{ ms: number }];
  error: [PlayerError];
  destroyed: [];
}

/** Event names as constants, for those who prefer `player.on(Events.STATE, ...)`. */
export const Events = {
  STATE: 'state',
  STATS: 'stats',
  MEDIA_INFO: 'mediainfo',
  FIRST_FRAME: 'firstframe',
  ERROR: 'error',
  DESTROYED: 'destroyed',
} as const;

/**
 * The contract between the player and an engine (mpegts.js for FLV, hls.js or native for HLS).
 * An engine owns the media element's source for one connection attempt and reports what it
 * sees; retrying, state and latency control belong to the player.
 */
import type { LatencyStamp } from '../controller/latency-clock.js';
import type { EngineName, MediaInfo } from '../types/player.js';
import { TypedEmitter } from '../utils/event-emitter.js';

export interface EngineFailure {
  /** `network`: connection refused/lost; `media`: decode/MSE failure; `unsupported`: codec not decodable here. */
  kind: 'network' | 'media' | 'unsupported';
  /** HTTP status when the server answered with one. */
  status?: number;
  message: string;
  /**
   * This transport cannot serve the stream here (WHEP refused with 400/415/503, no answer), but
   * another one may: the player falls back to FLV/HLS instead of retrying the same transport.
   */
  fallback?: boolean;
}

/** Transport-level numbers of engines that have them (WebRTC's getStats()). */
export interface TransportStats {
  /** Round-trip time of the selected ICE candidate pair, ms. */
  rttMs: number | undefined;
  /** Packets lost (inbound-rtp, audio + video). */
  packetsLost: number;
  /** Average jitter-buffer delay of the frames shown lately, ms. */
  jitterBufferMs: number | undefined;
  /** NACKs the browser sent for video. */
  nacks: number;
}

export interface EngineEventMap {
  [key: string]: unknown[];
  stamp: [LatencyStamp];
  mediainfo: [MediaInfo];
  /** Received bitrate, kbit/s. */
  bitrate: [number];
  /** The server closed the stream (publisher gone for good). */
  ended: [];
  failure: [EngineFailure];
}

export interface EngineSource {
  url: string;
  hasAudio: boolean;
  hasVideo: boolean;
}

export abstract class Engine extends TypedEmitter<EngineEventMap> {
  abstract readonly name: EngineName;
  protected destroyed = false;

  constructor(
    protected readonly video: HTMLVideoElement,
    protected readonly source: EngineSource,
  ) {
    super();
  }

  abstract load(): void;

  /**
   * True when the engine keeps itself near the live edge (hls.js live sync, native HLS): the
   * player's LatencyController then stays off, since two controllers seeking and changing the
   * rate against each other stall playback.
   */
  get chasesLiveEdge(): boolean {
    return false;
  }

  /** Latency estimate for engines without stamps (seconds), e.g. hls.js `latency`. */
  estimatedLatencyS(): number | undefined {
    return undefined;
  }

  /** Each frame on screen (requestVideoFrameCallback), for engines that estimate latency from it. */
  framePresented(_meta: VideoFrameCallbackMetadata): void {}

  /** Media held back ahead of the playhead (s), for engines whose buffer is not the media element's. */
  bufferS(): number | undefined {
    return undefined;
  }

  /** Transport numbers (RTT, loss) where the engine knows them. */
  transportStats(): TransportStats | undefined {
    return undefined;
  }

  destroy(): void {
    this.destroyed = true;
    this.removeAllListeners();
  }

  protected report<K extends keyof EngineEventMap>(event: K, ...args: EngineEventMap[K]): void {
    if (!this.destroyed) this.safeEmit(event, ...args);
  }
}

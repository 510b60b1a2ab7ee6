/**
 * HTTP-FLV and WS-FLV through mpegts.js (FLV demux -> fMP4 remux -> MSE), tuned for the
 * lowest latency: no stash buffer, loading starts before the MediaSource opens, and mpegts.js's
 * own latency chasing is off (the player's LatencyController does it).
 */
import mpegts from 'mpegts.js';
import { stampFromScriptData } from '../controller/latency-clock.js';
import type { EngineName } from '../types/player.js';
import { Engine, type EngineSource } from './engine.js';

/** mpegts.js settings that matter for a live, low-latency FLV source. */
export const mpegtsLiveConfig: mpegts.Config = {
  enableWorker: false,
  enableStashBuffer: false,
  stashInitialSize: 64 * 1024,
  isLive: true,
  lazyLoad: false,
  deferLoadAfterSourceOpen: false,
  liveBufferLatencyChasing: false,
  liveSync: false,
  // Operators keep a wall open for days: bound the SourceBuffer.
  autoCleanupSourceBuffer: true,
  autoCleanupMaxBackwardDuration: 30,
  autoCleanupMinBackwardDuration: 10,
  statisticsInfoReportInterval: 500,
  fixAudioTimestampGap: true,
};

let loggingConfigured = false;

export function mseSupported(): boolean {
  return typeof window !== 'undefined' && mpegts.isSupported() && mpegts.getFeatureList().mseLivePlayback;
}

export class MpegtsEngine extends Engine {
  readonly name: EngineName;
  private player: mpegts.Player | undefined;

  constructor(video: HTMLVideoElement, source: EngineSource) {
    super(video, source);
    this.name = source.url.startsWith('ws') ? 'ws-flv' : 'http-flv';
  }

  load(): void {
    if (!loggingConfigured) {
      loggingConfigured = true;
      mpegts.LoggingControl.applyConfig({ enableVerbose: false, enableDebug: false, enableInfo: false, enableWarn: false, enableError: false });
    }
    const player = mpegts.createPlayer(
      { type: 'flv', isLive: true, url: this.source.url, hasAudio: this.source.hasAudio, hasVideo: this.source.hasVideo },
      mpegtsLiveConfig,
    );
    this.player = player;
    const E = mpegts.Events;
    player.on(E.SCRIPTDATA_ARRIVED, (data: unknown) => {
      const stamp = stampFromScriptData(data);
      if (stamp) this.report('stamp', stamp);
    });
    player.on(E.MEDIA_INFO, (info: mpegts.MSEPlayerMediaInfo) => {
      const media = {
        videoCodec: info.videoCodec,
        audioCodec: info.hasAudio ? info.audioCodec : undefined,
        width: info.width,
        height: info.height,
        fps: info.fps,
      };
      this.report('mediainfo', media);
      const MS = (window as { MediaSource?: typeof MediaSource }).MediaSource;
      if (media.videoCodec && MS && !MS.isTypeSupported(`video/mp4; codecs="${media.videoCodec}"`)) {
        this.report('failure', { kind: 'unsupported', message: `this browser cannot decode ${media.videoCodec}` });
      }
    });
    player.on(E.STATISTICS_INFO, (stats: mpegts.MSEPlayerStatisticsInfo) => {
      if (typeof stats.speed === 'number') this.report('bitrate', stats.speed * 8);
    });
    player.on(E.LOADING_COMPLETE, () => this.report('ended'));
    player.on(E.ERROR, (type: string, detail: string, info: { code?: number; msg?: string } | undefined) => {
      const status = detail === mpegts.ErrorDetails.NETWORK_STATUS_CODE_INVALID ? info?.code : undefined;
      const kind = type === mpegts.ErrorTypes.NETWORK_ERROR ? 'network' : detail === mpegts.ErrorDetails.MEDIA_CODEC_UNSUPPORTED ? 'unsupported' : 'media';
      this.report('failure', { kind, ...(status ? { status } : {}), message: `${detail}${info?.msg ? `: ${info.msg}` : ''}` });
    });
    player.attachMediaElement(this.video);
    player.load();
  }

  override destroy(): void {
    super.destroy();
    const player = this.player;
    this.player = undefined;
    if (!player) return;
    try {
      player.pause();
      player.unload();
      player.detachMediaElement();
      player.destroy();
    } catch {
      /* already torn down by an error */
    }
  }
}

/**
 * HLS for browsers without MSE FLV: hls.js where MSE exists (loaded on demand, so FLV pages
 * never download it), the browser's own HLS otherwise (Safari/iOS). No stamps reach us through
 * HLS, so latency is hls.js's estimate (or unknown with native HLS).
 */
import type HlsType from 'hls.js';
import type { EngineName } from '../types/player.js';
import { Engine, type EngineSource } from './engine.js';

export class HlsEngine extends Engine {
  name: EngineName = 'hls.js';
  private hls: HlsType | undefined;

  constructor(video: HTMLVideoElement, source: EngineSource) {
    super(video, source);
  }

  load(): void {
    void import('hls.js').then(
      ({ default: Hls }) => {
        if (this.destroyed) return;
        if (!Hls.isSupported()) return this.loadNative();
        // hls.js keeps the latency itself: the playlist's PART-HOLD-BACK (LL-HLS) or HOLD-BACK behind
        // the edge, drift played off at up to 1.1x instead of seeking. No liveSyncDuration(Count):
        // setting either makes hls.js ignore the hold-backs (and sit seconds behind with LL-HLS).
        const hls = new Hls({ lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.1, backBufferLength: 30, enableWorker: true });
        this.hls = hls;
        hls.on(Hls.Events.ERROR, (_event, data) => {
          if (!data.fatal) return;
          const status = data.response?.code;
          this.report('failure', { kind: data.type === Hls.ErrorTypes.NETWORK_ERROR ? 'network' : 'media', ...(status ? { status } : {}), message: data.details });
        });
        hls.on(Hls.Events.LEVEL_LOADED, (_event, data) => {
          if (!data.details.live) this.report('ended');
        });
        hls.on(Hls.Events.FRAG_LOADED, (_event, data) => {
          const s = data.frag.stats;
          const ms = s.loading.end - s.loading.start;
          if (ms > 0) this.report('bitrate', (s.loaded * 8) / ms);
        });
        hls.on(Hls.Events.MANIFEST_PARSED, (_event, data) => {
          const level = data.levels[0];
          if (level) {
            this.report('mediainfo', {
              videoCodec: level.videoCodec,
              audioCodec: level.audioCodec,
              width: level.width || undefined,
              height: level.height || undefined,
              fps: level.frameRate || undefined,
            });
          }
        });
        hls.loadSource(this.source.url);
        hls.attachMedia(this.video);
      },
      (error: unknown) => this.report('failure', { kind: 'media', message: `hls.js failed to load: ${String(error)}` }),
    );
  }

  private loadNative(): void {
    if (!this.video.canPlayType('application/vnd.apple.mpegurl')) {
      this.report('failure', { kind: 'unsupported', message: 'this browser has neither MSE nor native HLS' });
      return;
    }
    this.name = 'native-hls';
    this.video.src = this.source.url;
  }

  override get chasesLiveEdge(): boolean {
    return true;
  }

  override estimatedLatencyS(): number | undefined {
    const l = this.hls?.latency;
    return typeof l === 'number' && Number.isFinite(l) && l > 0 ? l : undefined;
  }

  override destroy(): void {
    super.destroy();
    this.hls?.destroy();
    this.hls = undefined;
    if (this.name === 'native-hls') {
      this.video.removeAttribute('src');
      this.video.load();
    }
  }
}

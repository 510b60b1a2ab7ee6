/**
 * The player controller: picks an engine, drives the state machine (connecting -> playing ->
 * offline -> ... -> playing), retries with backoff, measures latency and keeps it low.
 *
 *   API look-up (publisher? codecs?) -> engine (WebRTC | mpegts.js | hls.js) -> <video>
 *        stamps -> LatencyClock (overlay)      buffer -> LatencyController (rate / jump)
 */
import { lookupStream } from './api/client.js';
import type { StreamEntry } from './api/types.js';
import { streamUrls } from './api/urls.js';
import { mergeConfig, tuningOf, type PlayerConfig, type PlayerOptions } from './config.js';
import { LatencyClock } from './controller/latency-clock.js';
import { LatencyController } from './controller/latency-controller.js';
import { Backoff } from './controller/retry.js';
import type { Engine, EngineFailure, EngineSource } from './engine/engine.js';
import { HlsEngine } from './engine/hls-engine.js';
import { MpegtsEngine, mseSupported } from './engine/mpegts-engine.js';
import { prepareOffer, type PreparedOffer, WebRtcEngine, webrtcSupported } from './engine/webrtc-engine.js';
import type { EngineName, MediaInfo, PlayerError, PlayerEventMap, PlayerState, PlayerStats, PlayingVariant, StateChange } from './types/player.js';
import { PlayerView } from './ui/player-view.js';
import { TypedEmitter } from './utils/event-emitter.js';
import { browserCapabilities, chooseVariant, webrtcFit, type Capabilities } from './variant.js';

type Wire = 'http' | 'ws' | 'hls' | 'webrtc';
const WIRE_NAMES: Record<Wire, string> = { http: 'HTTP-FLV', ws: 'WS-FLV', hls: 'HLS', webrtc: 'WebRTC' };

/** A connection that shows no frame for this long is abandoned and retried. */
const FIRST_FRAME_TIMEOUT_MS = 10_000;
/** A rendition's first frame waits for its ffmpeg job to start (the gateway's startTimeoutMs is 10 s). */
const RENDITION_FIRST_FRAME_TIMEOUT_MS = 20_000;

function playerError(code: string, message: string, fatal = false): PlayerError {
  return Object.assign(new Error(message), { code, fatal });
}

export class Player extends TypedEmitter<PlayerEventMap> {
  readonly config: PlayerConfig;
  private readonly view: PlayerView;
  private readonly clock = new LatencyClock();
  private readonly latencyControl: LatencyController;
  private readonly backoff: Backoff;
  private engine: Engine | undefined;
  private currentState: PlayerState = 'idle';
  /** Incremented by every connect/stop so late async results of an old attempt are ignored. */
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private statsTimer: ReturnType<typeof setInterval> | undefined;
  private attemptStartedAt = 0;
  private lastFrameAt = 0;
  private framesThisAttempt = 0;
  private lastMediaTime = -1;
  private firstFrameMs: number | undefined;
  private probing = false;
  private media: MediaInfo = { videoCodec: undefined, audioCodec: undefined, width: undefined, height: undefined, fps: undefined };
  private bitrateKbps: number | undefined;
  private frameCallback: number | undefined;
  /** The stream's last API entry (what the offered rendition is made from). */
  private lastEntry: StreamEntry | undefined;
  /** The browser-safe rendition offered for the current stream (from the API's `renditions`). */
  private rendition: string | undefined;
  /** What plays now: the source or a rendition, and why. */
  private variant: PlayingVariant | undefined;
  private caps: Capabilities | undefined;
  /**
   * Set when the user picked a rendition: it starts on demand when its FLV is requested, so the
   * API answers 404 until then; the player opens the FLV anyway instead of waiting for it.
   */
  private onDemand: { path: string; hasAudio: boolean; hasVideo: boolean } | undefined;
  /** Why WHEP was refused for this stream (then FLV/HLS plays until the stream is switched). */
  private webrtcRefused: string | undefined;
  /** Why another transport than the one asked for (or, for `auto`, than WebRTC) plays. */
  private fallback: string | undefined;

  constructor(host: HTMLElement, options: PlayerOptions) {
    super();
    this.config = mergeConfig(options, host.ownerDocument.location?.origin ?? 'http://localhost');
    this.view = new PlayerView(host, this.config);
    this.view.onRendition = (path) => this.playRendition(path);
    this.view.renditionHref = (path) => streamUrls(path, { server: this.config.server, token: this.config.token }).player;
    this.latencyControl = new LatencyController(this.view.video, tuningOf(this.config));
    this.backoff = new Backoff(this.config.retry);
    this.view.showState({ state: 'idle', previous: 'idle', reason: '' });
    // Start on a microtask so listeners attached right after createPlayer() see `connecting`.
    if (this.config.autoplay) queueMicrotask(() => this.start());
  }

  get state(): PlayerState {
    return this.currentState;
  }

  get video(): HTMLVideoElement {
    return this.view.video;
  }

  get stats(): PlayerStats {
    const v = this.view.video;
    const quality = typeof v.getVideoPlaybackQuality === 'function' ? v.getVideoPlaybackQuality() : undefined;
    const engine = this.engine;
    let latencyMs = this.clock.latencyMs;
    let measured = latencyMs !== undefined;
    if (latencyMs === undefined && engine?.estimatedLatencyS()) {
      latencyMs = engine.estimatedLatencyS()! * 1000;
      measured = false;
    }
    return {
      state: this.currentState,
      engine: engine?.name as EngineName | undefined,
      latencyMs,
      latencyMeasured: measured,
      bufferMs: Math.round((engine?.bufferS() ?? this.latencyControl.bufferAhead()) * 1000),
      playbackRate: v.playbackRate,
      media: { ...this.media },
      bitrateKbps: this.bitrateKbps,
      decodedFrames: quality?.totalVideoFrames ?? 0,
      droppedFrames: quality?.droppedVideoFrames ?? 0,
      firstFrameMs: this.firstFrameMs,
      retries: this.backoff.failures,
      variant: this.variant ? { ...this.variant } : undefined,
      transport: engine?.transportStats(),
      fallback: this.fallback,
    };
  }

  /** Starts (or restarts) playback; a no-op while already connecting or playing. */
  start(): void {
    if (this.currentState === 'destroyed') return;
    if (this.engine || this.retryTimer !== undefined) return;
    this.setState('connecting', 'looking up the stream');
    this.statsTimer ??= setInterval(() => this.tick(), this.config.statsIntervalMs);
    void this.connect();
  }

  /** Stops playback and reconnection (state `paused`); `start()` resumes live. */
  stop(): void {
    if (this.currentState === 'destroyed') return;
    this.cancel();
    this.setState('paused', 'stopped');
  }

  /** Plays another stream path in the same player. */
  switchStream(path: string): void {
    if (this.currentState === 'destroyed') return;
    if (this.onDemand?.path !== path) this.onDemand = undefined;
    this.rendition = undefined;
    this.variant = undefined;
    this.webrtcRefused = undefined;
    this.fallback = undefined;
    this.cancel();
    (this.config as { stream: string }).stream = path;
    this.media = { videoCodec: undefined, audioCodec: undefined, width: undefined, height: undefined, fps: undefined };
    this.backoff.reset();
    this.currentState = 'idle';
    this.start();
  }

  /** Tears everything down; idempotent. Emits `destroyed` once. */
  destroy(): void {
    if (this.currentState === 'destroyed') return;
    this.cancel();
    this.setState('destroyed', 'destroyed');
    this.view.destroy();
    this.safeEmit('destroyed');
    this.removeAllListeners();
  }

  /** The user picked the offered browser-safe rendition: play it (it starts on demand on the gateway). */
  private playRendition(path: string): void {
    const source = this.lastEntry;
    this.onDemand = { path, hasAudio: source ? !!source.audio : true, hasVideo: source ? !!source.video : true };
    this.switchStream(path);
  }

  private cancel(): void {
    this.attempt++;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.statsTimer !== undefined) clearInterval(this.statsTimer);
    this.statsTimer = undefined;
    this.teardownEngine();
  }

  private setState(state: PlayerState, reason: string, extra: Partial<StateChange> = {}): void {
    const previous = this.currentState;
    if (previous === 'destroyed') return;
    this.currentState = state;
    const change: StateChange = { state, previous, reason, ...extra };
    this.view.showState(change);
    if (state !== previous || extra.retryInMs !== undefined) this.safeEmit('state', change);
  }

  private async connect(): Promise<void> {
    const c = this.config;
    // The WHEP offer (and its ICE gathering) is made while the API answers; unused, it is closed.
    const autoOff = c.transport === 'auto' && this.lastEntry?.path === c.stream && !webrtcFit(this.lastEntry).ok;
    const prepared = (c.transport === 'webrtc' || c.transport === 'auto') && webrtcSupported() && !this.webrtcRefused && !autoOff ? prepareOffer() : undefined;
    try {
      await this.connectWith(prepared);
    } finally {
      if (prepared && !prepared.taken) prepared.pc.close();
    }
  }

  private async connectWith(prepared: PreparedOffer | undefined): Promise<void> {
    const attempt = ++this.attempt;
    const c = this.config;
    const mseWire: Wire = mseSupported() ? 'http' : 'hls';
    const lookup = await lookupStream(c.server, c.stream, c.token, c.apiTimeoutMs);
    if (attempt !== this.attempt) return;
    const demand = this.onDemand?.path === c.stream ? this.onDemand : undefined;
    if (lookup.kind === 'missing' && !demand) return this.retryLater('offline', `nothing is published at ${c.stream}`);
    if (lookup.kind === 'refused') return this.retryLater('unauthorized', `the gateway refused access to ${c.stream} (${lookup.status}); check the token`, true);
    let source: Omit<EngineSource, 'url'> = { hasAudio: demand?.hasAudio ?? true, hasVideo: demand?.hasVideo ?? true };
    let path = c.stream;
    const transport = this.wireFor(lookup.kind === 'found' ? lookup.entry : undefined, mseWire);
    if (transport === 'webrtc') {
      // The gateway picks what WHEP plays (the `_h264` rendition of an H.265 camera, the Opus one of AAC).
      if (lookup.kind === 'found') {
        const entry = lookup.entry;
        this.lastEntry = entry;
        if ((!entry.publisher || entry.state === 'ended') && !demand) return this.retryLater('offline', `the publisher of ${c.stream} is gone`);
        source = { hasAudio: !!entry.audio, hasVideo: !!entry.video };
        const fit = webrtcFit(entry);
        const viaRendition = entry.video?.codec === 'H265' || (fit.ok && !!entry.audio && !['OPUS', 'PCMA', 'PCMU'].includes(entry.audio.codec));
        if (!fit.ok) {
          // transport=webrtc asked for a stream WebRTC carries only in part (AAC, no Opus rendition): the gateway sends the video.
          this.variant = { kind: 'source', path: c.stream, reason: `${fit.reason}: WebRTC plays what it can carry (the video)` };
        } else if (viaRendition) {
          this.variant = { kind: 'rendition', path: c.stream, reason: `${fit.reason}; the gateway sends WebRTC-ready codecs (it starts on demand)` };
        } else {
          this.variant = { kind: 'source', path: c.stream, reason: 'WebRTC carries the source codecs' };
        }
      }
      if (this.currentState !== 'offline' && this.currentState !== 'error' && this.currentState !== 'unauthorized') this.setState('connecting', 'opening WebRTC (WHEP)');
      this.openEngine(new WebRtcEngine(this.view.video, { url: streamUrls(path, { server: c.server, token: c.token }).whep, token: c.token, ...source }, prepared));
      return;
    }
    if (lookup.kind === 'found') {
      const entry = lookup.entry;
      this.lastEntry = entry;
      if ((!entry.publisher || entry.state === 'ended') && !demand) return this.retryLater('offline', `the publisher of ${c.stream} is gone`);
      this.caps ??= browserCapabilities();
      const choice = chooseVariant(entry, this.caps, c.variant, c.tile);
      this.rendition = choice.offer ?? (choice.kind === 'rendition' ? choice.path : this.rendition);
      if (choice.kind === 'unsupported') {
        this.variant = undefined;
        return this.retryLater('unsupported', choice.reason, true, { rendition: choice.offer ?? `${c.stream}_h264`, ...(choice.enable ? { enable: choice.enable } : {}) });
      }
      this.variant = { kind: choice.kind, path: choice.path, reason: choice.reason };
      path = choice.path;
      source = { hasAudio: choice.hasAudio, hasVideo: choice.hasVideo };
    }
    const urls = streamUrls(path, { server: c.server, token: c.token });
    if (this.currentState !== 'offline' && this.currentState !== 'error' && this.currentState !== 'unauthorized') {
      const via = WIRE_NAMES[transport];
      this.setState('connecting', this.variant?.kind === 'rendition' ? `${this.variant.reason} (${via}; it starts on demand)` : `opening ${via}`);
    }
    const url = transport === 'ws' ? urls.wsFlv : transport === 'hls' ? urls.hls : urls.flv;
    this.openEngine(transport === 'hls' ? new HlsEngine(this.view.video, { url, ...source }) : new MpegtsEngine(this.view.video, { url, ...source }));
  }

  /**
   * The wire for this attempt. `webrtc` and `auto` need RTCPeerConnection and a gateway that
   * accepted WHEP for this stream; `auto` also needs codecs WebRTC carries (webrtcFit). Every
   * other case plays HTTP-FLV (HLS without MSE), and `fallback` says why.
   */
  private wireFor(entry: StreamEntry | undefined, mseWire: Wire): Wire {
    const asked = this.config.transport;
    this.fallback = undefined;
    if (asked !== 'webrtc' && asked !== 'auto') return asked;
    let why: string | undefined;
    if (!webrtcSupported()) why = 'this browser has no RTCPeerConnection';
    else if (this.webrtcRefused) why = this.webrtcRefused;
    else if (asked === 'auto' && entry) {
      const fit = webrtcFit(entry);
      if (!fit.ok) why = fit.reason;
    }
    if (!why) return 'webrtc';
    this.fallback = `${asked === 'auto' ? 'auto: ' : ''}${why}; playing ${WIRE_NAMES[mseWire]}`;
    return mseWire;
  }

  private openEngine(engine: Engine): void {
    this.engine = engine;
    this.clock.reset();
    this.framesThisAttempt = 0;
    this.lastMediaTime = -1;
    this.attemptStartedAt = performance.now();
    this.lastFrameAt = this.attemptStartedAt;
    engine.on('stamp', (stamp) => this.clock.addStamp(stamp));
    engine.on('mediainfo', (info) => {
      this.media = info;
      this.safeEmit('mediainfo', info);
    });
    engine.on('bitrate', (kbps) => (this.bitrateKbps = kbps));
    engine.on('ended', () => this.onConnectionLost('the stream ended'));
    engine.on('failure', (f) => this.onFailure(f));
    engine.load();
    const video = this.view.video;
    void video.play().catch((error: unknown) => {
      if (engine !== this.engine) return;
      // Autoplay refused (sound without a gesture): show controls so the user can start it.
      if (error instanceof DOMException && error.name === 'NotAllowedError') video.controls = true;
    });
    if (!engine.chasesLiveEdge) this.latencyControl.start();
    this.watchFrames(engine);
  }

  private watchFrames(engine: Engine): void {
    const video = this.view.video;
    if (typeof video.requestVideoFrameCallback !== 'function') return; // tick() polls currentTime instead
    const onFrame = (_now: number, meta: VideoFrameCallbackMetadata) => {
      if (engine !== this.engine) return;
      this.onFramePresented(meta.mediaTime);
      engine.framePresented(meta);
      this.frameCallback = video.requestVideoFrameCallback(onFrame);
    };
    this.frameCallback = video.requestVideoFrameCallback(onFrame);
  }

  private onFramePresented(mediaTimeS: number): void {
    const now = performance.now();
    this.lastFrameAt = now;
    this.lastMediaTime = mediaTimeS;
    this.clock.measure(mediaTimeS, Date.now());
    if (this.framesThisAttempt++ === 0) {
      this.firstFrameMs = Math.round(now - this.attemptStartedAt);
      this.safeEmit('firstframe', { ms: this.firstFrameMs });
    }
    if (this.currentState !== 'playing') {
      this.backoff.reset();
      this.setState('playing', 'playing');
    }
  }

  private teardownEngine(): void {
    const engine = this.engine;
    if (!engine) return;
    this.engine = undefined;
    const video = this.view.video;
    if (this.frameCallback !== undefined && typeof video.cancelVideoFrameCallback === 'function') video.cancelVideoFrameCallback(this.frameCallback);
    this.frameCallback = undefined;
    this.latencyControl.stop();
    engine.destroy();
    this.bitrateKbps = undefined;
  }

  private onFailure(f: EngineFailure): void {
    if (f.fallback && this.engine?.name === 'webrtc' && !this.webrtcRefused) {
      // WHEP refused or unreachable: play FLV/HLS right away instead of retrying WebRTC.
      this.webrtcRefused = f.message;
      this.safeEmit('error', playerError('SG_PLAYER_ERR_WEBRTC', f.message));
      this.teardownEngine();
      this.attempt++;
      void this.connect();
      return;
    }
    if (f.kind === 'unsupported') {
      this.teardownEngine();
      this.retryLater('unsupported', f.message, true, { rendition: this.rendition ?? `${this.config.stream}_h264` });
      return;
    }
    if (f.status === 404) return this.onConnectionLost(`nothing is published at ${this.config.stream}`);
    if (f.status === 401 || f.status === 403) {
      this.teardownEngine();
      this.retryLater('unauthorized', `the gateway refused access (${f.status}); check the token`, true);
      return;
    }
    this.safeEmit('error', playerError(f.kind === 'network' ? 'SG_PLAYER_ERR_NETWORK' : 'SG_PLAYER_ERR_MEDIA', f.message));
    this.onConnectionLost(f.message);
  }

  /** The connection ended or failed: look up why (publisher gone?) and try again. */
  private onConnectionLost(reason: string): void {
    this.teardownEngine();
    const attempt = ++this.attempt;
    void lookupStream(this.config.server, this.config.stream, this.config.token, this.config.apiTimeoutMs).then((lookup) => {
      if (attempt !== this.attempt) return;
      if (this.onDemand?.path === this.config.stream && (lookup.kind === 'missing' || (lookup.kind === 'found' && !lookup.entry.publisher))) {
        this.retryLater('connecting', `starting the rendition ${this.config.stream}: ${reason}`);
      } else if (lookup.kind === 'missing' || (lookup.kind === 'found' && !lookup.entry.publisher)) {
        this.retryLater('offline', 'the publisher stopped');
      } else if (lookup.kind === 'refused') {
        this.retryLater('unauthorized', `the gateway refused access (${lookup.status}); check the token`, true);
      } else {
        this.retryLater('error', reason);
      }
    });
  }

  private retryLater(state: PlayerState, reason: string, slow = false, extra: Partial<StateChange> = {}): void {
    this.teardownEngine();
    const delay = slow ? this.config.retry.maxDelayMs : this.backoff.next();
    this.setState(state, reason, { ...extra, retryInMs: delay });
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    const attempt = this.attempt;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (attempt === this.attempt) void this.connect();
    }, delay);
  }

  /** Periodic: stats, overlay, stall watchdog. */
  private tick(): void {
    const video = this.view.video;
    if (this.engine && typeof video.requestVideoFrameCallback !== 'function' && !video.paused && video.currentTime !== this.lastMediaTime) {
      this.onFramePresented(video.currentTime);
    }
    const stats = this.stats;
    this.view.showStats(stats);
    this.safeEmit('stats', stats);
    if (!this.engine || video.paused) return;
    const silentMs = performance.now() - this.lastFrameAt;
    if (this.framesThisAttempt === 0) {
      const limit = this.variant?.kind === 'rendition' ? RENDITION_FIRST_FRAME_TIMEOUT_MS : FIRST_FRAME_TIMEOUT_MS;
      if (silentMs > limit) this.onConnectionLost('no picture arrived');
      return;
    }
    if (silentMs > this.config.stallTimeoutMs * 4 && this.currentState === 'stalled') {
      this.onConnectionLost('the connection stopped delivering frames');
    } else if (silentMs > this.config.stallTimeoutMs && this.currentState === 'playing' && !this.probing) {
      this.probing = true;
      const attempt = this.attempt;
      void lookupStream(this.config.server, this.config.stream, this.config.token, this.config.apiTimeoutMs).then((lookup) => {
        this.probing = false;
        if (attempt !== this.attempt || this.currentState !== 'playing' || performance.now() - this.lastFrameAt < this.config.stallTimeoutMs) return;
        if (lookup.kind === 'missing' || (lookup.kind === 'found' && !lookup.entry.publisher)) {
          // Keep the connection: within the gateway's grace period the publisher may come back
          // and frames resume on it; if the stream ends, the engine reports `ended`.
          this.setState('offline', 'the publisher stopped; waiting for it to come back');
        } else {
          this.setState('stalled', 'no frames from the network');
        }
      });
    }
  }
}

/** Creates a player in `el` and starts it (unless `autoplay: false`). */
export function createPlayer(el: HTMLElement, options: PlayerOptions): Player {
  return new Player(el, options);
}

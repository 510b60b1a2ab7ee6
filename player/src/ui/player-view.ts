/**
 * The player's DOM: video, stats overlay, state panel, unmute button. Everything that comes
 * from the network is set with textContent, never as HTML.
 */
import type { PlayerState, PlayerStats, StateChange } from '../types/player.js';

const CSS = `
.sgp{position:relative;width:100%;height:100%;background:#000;overflow:hidden;font:12px/1.4 system-ui,sans-serif;color:#eee}
.sgp video{width:100%;height:100%;object-fit:contain;display:block;background:#000}
.sgp-overlay{position:absolute;left:6px;top:6px;padding:3px 7px;border-radius:4px;background:rgba(0,0,0,.55);pointer-events:none;white-space:nowrap;font-variant-numeric:tabular-nums}
.sgp-overlay[hidden],.sgp-status[hidden],.sgp-unmute[hidden],.sgp-status a[hidden]{display:none}
.sgp-live{display:inline-block;margin-right:6px;padding:0 4px;border-radius:3px;background:#c0392b;color:#fff;font-weight:600}
.sgp-latency{font-weight:600}
.sgp-variant{display:block;opacity:.85;font-size:11px}
.sgp-variant:empty{display:none}
.sgp-status{position:absolute;inset:0;display:flex;flex-direction:column;align-items:center;justify-content:center;gap:4px;background:rgba(0,0,0,.6);text-align:center;padding:8px}
.sgp-status-title{font-size:15px;font-weight:600}
.sgp-status-detail{opacity:.8;max-width:90%}
.sgp-status a{color:#7fc7ff;cursor:pointer}
.sgp-unmute{position:absolute;right:6px;bottom:6px;border:0;border-radius:4px;padding:4px 8px;background:rgba(0,0,0,.6);color:#fff;cursor:pointer;opacity:0;transition:opacity .2s}
.sgp:hover .sgp-unmute,.sgp-unmute:focus{opacity:1}
.sgp[data-state=playing] .sgp-live{background:#c0392b}
.sgp:not([data-state=playing]) .sgp-live{background:#666}
`;

/** Adds the player's stylesheet once per document (the ES-module library needs no CSS file). */
export function ensurePlayerStyles(doc: Document): void {
  if (doc.getElementById('streamgate-player-styles')) return;
  const style = doc.createElement('style');
  style.id = 'streamgate-player-styles';
  style.textContent = CSS;
  doc.head.appendChild(style);
}

const TITLES: Record<PlayerState, string> = {
  idle: '',
  connecting: 'Connecting…',
  playing: '',
  stalled: 'Waiting for data…',
  offline: 'Stream offline',
  unsupported: 'Unsupported codec',
  unauthorized: 'Not authorized',
  error: 'Playback error',
  paused: 'Paused',
  destroyed: '',
};

function el<K extends keyof HTMLElementTagNameMap>(doc: Document, tag: K, className: string, parent: HTMLElement): HTMLElementTagNameMap[K] {
  const e = doc.createElement(tag);
  e.className = className;
  parent.appendChild(e);
  return e;
}

export class PlayerView {
  readonly root: HTMLDivElement;
  readonly video: HTMLVideoElement;
  private readonly overlay: HTMLDivElement;
  private readonly latency: HTMLSpanElement;
  private readonly details: HTMLSpanElement;
  private readonly variant: HTMLSpanElement;
  private readonly status: HTMLDivElement;
  private readonly statusTitle: HTMLParagraphElement;
  private readonly statusDetail: HTMLParagraphElement;
  private readonly renditionLink: HTMLAnchorElement;
  private readonly unmute: HTMLButtonElement;
  onRendition: ((path: string) => void) | undefined;
  /** The page URL of a rendition, for the link's href (open in a new tab, keyboard focus). */
  renditionHref: ((path: string) => string) | undefined;

  constructor(
    private readonly host: HTMLElement,
    options: { overlay: boolean; controls: boolean; muted: boolean },
  ) {
    const doc = host.ownerDocument;
    ensurePlayerStyles(doc);
    this.root = el(doc, 'div', 'sgp', host);
    this.video = el(doc, 'video', 'sgp-video', this.root);
    this.video.playsInline = true;
    this.video.muted = options.muted;
    this.video.controls = options.controls;
    this.video.setAttribute('playsinline', '');
    if (options.muted) this.video.setAttribute('muted', '');

    this.overlay = el(doc, 'div', 'sgp-overlay', this.root);
    this.overlay.hidden = !options.overlay;
    el(doc, 'span', 'sgp-live', this.overlay).textContent = 'LIVE';
    this.latency = el(doc, 'span', 'sgp-latency', this.overlay);
    this.details = el(doc, 'span', 'sgp-details', this.overlay);
    this.variant = el(doc, 'span', 'sgp-variant', this.overlay);

    this.status = el(doc, 'div', 'sgp-status', this.root);
    this.statusTitle = el(doc, 'p', 'sgp-status-title', this.status);
    this.statusDetail = el(doc, 'p', 'sgp-status-detail', this.status);
    this.renditionLink = el(doc, 'a', 'sgp-rendition', this.status);
    this.renditionLink.hidden = true;
    this.renditionLink.addEventListener('click', (e) => {
      // A plain click switches in place; modified clicks (new tab/window) follow the href.
      if (e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      const path = this.renditionLink.dataset.path;
      if (path) this.onRendition?.(path);
    });

    this.unmute = el(doc, 'button', 'sgp-unmute', this.root);
    this.unmute.type = 'button';
    this.unmute.hidden = !options.muted || options.controls;
    this.unmute.textContent = 'Unmute';
    this.unmute.addEventListener('click', () => {
      this.video.muted = !this.video.muted;
      this.unmute.textContent = this.video.muted ? 'Unmute' : 'Mute';
      if (this.video.paused) void this.video.play().catch(() => undefined);
    });
  }

  showState(change: StateChange): void {
    const { state } = change;
    this.root.dataset.state = state;
    this.host.dataset.sgState = state;
    const title = TITLES[state];
    this.status.hidden = title === '';
    this.status.dataset.state = state;
    this.statusTitle.textContent = title;
    let detail = change.reason;
    if (change.retryInMs !== undefined) detail += ` — retrying in ${Math.max(1, Math.round(change.retryInMs / 1000))} s`;
    this.statusDetail.textContent = detail;
    if (change.rendition) {
      this.renditionLink.hidden = false;
      this.renditionLink.dataset.path = change.rendition;
      this.renditionLink.href = this.renditionHref?.(change.rendition) ?? '#';
      this.renditionLink.textContent = `Play the browser-safe rendition (${change.rendition})`;
    } else {
      this.renditionLink.hidden = true;
      this.renditionLink.removeAttribute('href');
    }
  }

  showStats(s: PlayerStats): void {
    const lat = s.latencyMs;
    this.latency.textContent = lat === undefined ? '— ms' : `${s.latencyMeasured ? '' : '≈'}${Math.round(lat)} ms`;
    if (lat === undefined) delete this.overlay.dataset.latencyMs;
    else this.overlay.dataset.latencyMs = String(Math.round(lat));
    const m = s.media;
    const parts: string[] = [];
    if (m.videoCodec) parts.push(codecLabel(m.videoCodec));
    if (m.width && m.height) parts.push(`${m.width}×${m.height}`);
    if (m.fps) parts.push(`${Math.round(m.fps * 10) / 10} fps`);
    if (m.audioCodec) parts.push(codecLabel(m.audioCodec));
    if (s.bitrateKbps !== undefined) parts.push(`${Math.round(s.bitrateKbps)} kb/s`);
    parts.push(`dropped ${s.droppedFrames}`);
    const t = s.transport;
    if (t) {
      if (t.rttMs !== undefined) parts.push(`rtt ${Math.round(t.rttMs)} ms`);
      if (t.jitterBufferMs !== undefined) parts.push(`jitter buffer ${Math.round(t.jitterBufferMs)} ms`);
      parts.push(`lost ${t.packetsLost}`);
    }
    if (s.engine) parts.push(s.engine);
    this.details.textContent = ` · ${parts.join(' · ')}`;
    // Only a rendition is worth a line: "H.265 camera, playing the H.264 rendition live/cam2_h264".
    // A transport fallback too: "WHEP refused (415 SG_ERR_UNSUPPORTED_CODEC): …; playing HTTP-FLV".
    const variant = [s.fallback ?? '', s.variant?.kind === 'rendition' ? s.variant.reason : ''].filter(Boolean).join(' · ');
    if (this.variant.textContent !== variant) this.variant.textContent = variant;
    this.root.dataset.variant = s.variant?.path ?? '';
    this.root.dataset.engine = s.engine ?? '';
  }

  destroy(): void {
    this.root.remove();
    delete this.host.dataset.sgState;
  }
}

/** `avc1.64001f` -> `H.264`, `mp4a.40.2` -> `AAC`; anything else as given. */
export function codecLabel(codec: string): string {
  const c = codec.toLowerCase();
  if (c.startsWith('avc')) return 'H.264';
  if (c.startsWith('hvc') || c.startsWith('hev')) return 'H.265';
  if (c.startsWith('mp4a')) return 'AAC';
  if (c === 'mp3' || c.startsWith('mp4a.6b')) return 'MP3';
  if (c === 'opus') return 'Opus';
  return codec;
}

/**
 * A grid of live tiles, one player each: name, state and latency per tile, click to enlarge (Esc
 * restores), tiles out of view stopped to save bandwidth and restarted live when they come back.
 * Used by the wall page and by the room view (all streams of a many-to-many room).
 */
import type { LatencyMode, Transport } from '../config.js';
import { createPlayer, type Player } from '../player.js';
import type { PlayerState } from '../types/player.js';
import type { VariantMode } from '../variant.js';

export interface Tile {
  path: string;
  root: HTMLDivElement;
  player: Player;
  missingPolls: number;
}

export interface VideoWallOptions {
  transport: Transport;
  /** A preset, or one chosen from the number of tiles the wall holds once the tile is added. */
  latency: LatencyMode | ((tiles: number) => LatencyMode);
  token: string | undefined;
  /** 1, 4, 9 or 16 tiles per screen; otherwise chosen from the number of tiles. */
  fixedLayout?: number | undefined;
  /** Label text for a tile (default: the stream path). */
  label?: (path: string) => string;
  /** `auto` (default): tiles the browser cannot decode play the gateway's rendition; `source` never switches. */
  variant?: VariantMode;
  /**
   * Tiles play the small tile rendition when one is needed; default: when the layout (or the
   * number of tiles once this one is added) is past SMALL_TILE_ABOVE. A wall that knows its
   * final size passes it so its first tiles choose like its last.
   */
  smallTiles?: boolean;
}

/** Past this many tiles a tile is small enough for the gateway's tile rendition (`_wall`, 360p). */
export const SMALL_TILE_ABOVE = 4;

/**
 * The wall's default latency preset: `low` up to 9 tiles; past that `balanced`, because with 16
 * tiles on 2 cores the low preset's catch-up jumps make Chromium drop frames (measured: about 2 %
 * dropped with low vs 0.2 % with balanced, 16 x 360p15; see test/e2e/wall-16.test.ts).
 */
export function wallLatency(tiles: number): LatencyMode {
  return tiles > 9 ? 'balanced' : 'low';
}

const STATE_LABEL: Record<PlayerState, string> = {
  idle: 'idle',
  connecting: 'connecting',
  playing: 'live',
  stalled: 'stalled',
  offline: 'offline',
  unsupported: 'unsupported',
  unauthorized: 'unauthorized',
  error: 'error',
  paused: 'paused',
  destroyed: '',
};

export class VideoWall {
  readonly tiles = new Map<string, Tile>();
  private readonly observer: IntersectionObserver;
  private readonly onKey = (e: KeyboardEvent) => {
    if (e.key === 'Escape') for (const t of this.tiles.values()) t.root.classList.remove('enlarged');
  };

  constructor(
    private readonly grid: HTMLElement,
    private readonly counter: HTMLElement | undefined,
    private readonly options: VideoWallOptions,
  ) {
    this.observer = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          const tile = this.tiles.get((entry.target as HTMLElement).dataset.path!);
          // An entry queued before remove() (or for the root of a tile since re-added) is stale.
          if (!tile || tile.root !== entry.target) continue;
          if (entry.isIntersecting) tile.player.start();
          else tile.player.stop();
        }
      },
      { threshold: 0 },
    );
    grid.ownerDocument.addEventListener('keydown', this.onKey);
  }

  private columns(n: number): number {
    const fixed = this.options.fixedLayout;
    if (fixed && [1, 4, 9, 16].includes(fixed)) return Math.sqrt(fixed);
    if (n <= 1) return 1;
    if (n <= 4) return 2;
    if (n <= 9) return 3;
    return 4;
  }

  layout(): void {
    const n = this.tiles.size;
    if (this.counter) {
      const tooManyHttp = this.options.transport === 'http' && n > 5;
      this.counter.classList.toggle('bad', tooManyHttp);
      this.counter.title = tooManyHttp ? 'more than 5 HTTP-FLV tiles exceed the browser\'s 6 connections per host; use transport=ws' : '';
      this.counter.textContent = `${n} stream${n === 1 ? '' : 's'}`;
    }
    this.grid.style.setProperty('--cols', String(this.columns(n)));
    this.grid.classList.toggle('empty', n === 0);
  }

  /** Adds a tile for `path` (a no-op when it exists); throws for an invalid path. */
  add(path: string): void {
    if (this.tiles.has(path)) return;
    const doc = this.grid.ownerDocument;
    const root = doc.createElement('div');
    root.className = 'tile';
    root.dataset.path = path;
    const head = doc.createElement('div');
    head.className = 'tile-head';
    const name = doc.createElement('span');
    name.className = 'tile-name';
    name.textContent = this.options.label ? this.options.label(path) : path;
    const state = doc.createElement('span');
    state.className = 'tile-state';
    const variant = doc.createElement('span');
    variant.className = 'tile-variant';
    const lat = doc.createElement('span');
    lat.className = 'tile-latency';
    head.append(name, state, variant, lat);
    const body = doc.createElement('div');
    body.className = 'tile-player';
    root.append(head, body);

    // Tiles start stopped; the IntersectionObserver starts the visible ones.
    const { transport, token } = this.options;
    const tiles = this.tiles.size + 1;
    const latency = typeof this.options.latency === 'function' ? this.options.latency(tiles) : this.options.latency;
    const small = this.options.smallTiles ?? (this.options.fixedLayout ?? tiles) > SMALL_TILE_ABOVE;
    const player = createPlayer(body, { stream: path, transport, latency, token, overlay: false, autoplay: false, variant: this.options.variant ?? 'auto', tile: small });
    this.grid.appendChild(root);
    player.on('state', (e) => {
      root.dataset.state = e.state;
      state.textContent = STATE_LABEL[e.state];
      state.title = e.reason;
      if (e.state !== 'playing') lat.textContent = '';
    });
    player.on('stats', (s) => {
      // A transcoded tile says so (title: why), so an operator knows which cameras cost CPU.
      const rendition = s.variant?.kind === 'rendition' ? s.variant : undefined;
      const text = rendition ? `⇄ ${rendition.path.slice(path.length + 1)}` : '';
      if (variant.textContent !== text) {
        variant.textContent = text;
        variant.title = rendition?.reason ?? '';
        root.dataset.variant = rendition?.path ?? '';
      }
      lat.textContent = s.state === 'playing' && s.latencyMs !== undefined ? `${s.latencyMeasured ? '' : '≈'}${Math.round(s.latencyMs)} ms` : '';
    });
    root.addEventListener('click', (e) => {
      if ((e.target as HTMLElement).closest('a,button')) return;
      this.toggleEnlarged(root);
    });
    this.tiles.set(path, { path, root, player, missingPolls: 0 });
    this.observer.observe(root);
    this.layout();
  }

  remove(path: string): void {
    const tile = this.tiles.get(path);
    if (!tile) return;
    this.observer.unobserve(tile.root);
    tile.player.destroy();
    tile.root.remove();
    this.tiles.delete(path);
    this.layout();
  }

  /**
   * Follows a list of live paths: adds new ones (sorted), removes a tile once it was missing from
   * two lists in a row (one miss may be a publisher between reconnects).
   */
  sync(live: Iterable<string>): void {
    const set = new Set(live);
    for (const path of [...set].sort()) this.add(path);
    for (const tile of [...this.tiles.values()]) {
      if (set.has(tile.path)) tile.missingPolls = 0;
      else if (++tile.missingPolls >= 2) this.remove(tile.path);
    }
  }

  toggleEnlarged(root: HTMLElement): void {
    const was = root.classList.contains('enlarged');
    for (const t of this.tiles.values()) t.root.classList.remove('enlarged');
    if (!was) root.classList.add('enlarged');
  }

  destroy(): void {
    for (const path of [...this.tiles.keys()]) this.remove(path);
    this.observer.disconnect();
    this.grid.ownerDocument.removeEventListener('keydown', this.onKey);
  }
}

/**
 * /player/wall.html?streams=a/b,c/d  or  ?all=1   [&layout=1|4|9|16] [&transport=ws|http] [&latency=balanced]
 * A grid of live tiles. Click a tile to enlarge it (click again or Esc to restore). Tiles out of
 * view are stopped to save bandwidth and restarted live when they come back. With `all`, the
 * wall follows streams appearing and disappearing through the API.
 */
import '../ui/pages.css';
import { listStreams } from '../api/client.js';
import type { LatencyMode, Transport } from '../config.js';
import { createPlayer, type Player } from '../player.js';
import type { PlayerState } from '../types/player.js';
import { boolParam, numberParam, queryParams } from './query.js';

interface Tile {
  path: string;
  root: HTMLDivElement;
  player: Player;
  visible: boolean;
  missingPolls: number;
}

declare global {
  interface Window {
    streamgateWall?: { tiles: Map<string, Tile> };
  }
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

const q = queryParams();
const all = boolParam(q, 'all', false);
const fixedLayout = numberParam(q, 'layout');
const token = q.get('token') ?? undefined;
// WS-FLV by default: browsers open at most 6 HTTP/1.1 connections per host, and every HTTP-FLV
// tile holds one for as long as it plays, so a 9-tile wall over HTTP-FLV would starve (tiles 7+
// and even the API calls would queue forever). WebSockets are not counted in that pool.
const transport = (q.get('transport') as Transport | null) ?? 'ws';
const latency = (q.get('latency') as LatencyMode | null) ?? 'low';
const grid = document.getElementById('wall')!;
const counter = document.getElementById('wall-count')!;
const tiles = new Map<string, Tile>();
window.streamgateWall = { tiles };

const observer = new IntersectionObserver(
  (entries) => {
    for (const entry of entries) {
      const tile = [...tiles.values()].find((t) => t.root === entry.target);
      if (!tile) continue;
      tile.visible = entry.isIntersecting;
      if (entry.isIntersecting) tile.player.start();
      else tile.player.stop();
    }
  },
  { threshold: 0 },
);

function columns(n: number): number {
  if (fixedLayout && [1, 4, 9, 16].includes(fixedLayout)) return Math.sqrt(fixedLayout);
  if (n <= 1) return 1;
  if (n <= 4) return 2;
  if (n <= 9) return 3;
  return 4;
}

function layout(): void {
  const cols = columns(tiles.size);
  if (transport === 'http' && tiles.size > 5) {
    counter.title = 'more than 5 HTTP-FLV tiles exceed the browser\'s 6 connections per host; use transport=ws';
    counter.classList.add('bad');
  }
  grid.style.setProperty('--cols', String(cols));
  counter.textContent = `${tiles.size} stream${tiles.size === 1 ? '' : 's'}`;
  grid.classList.toggle('empty', tiles.size === 0);
}

function addTile(path: string): void {
  if (tiles.has(path)) return;
  const root = document.createElement('div');
  root.className = 'tile';
  root.dataset.path = path;
  const head = document.createElement('div');
  head.className = 'tile-head';
  const name = document.createElement('span');
  name.className = 'tile-name';
  name.textContent = path;
  const state = document.createElement('span');
  state.className = 'tile-state';
  const lat = document.createElement('span');
  lat.className = 'tile-latency';
  head.append(name, state, lat);
  const body = document.createElement('div');
  body.className = 'tile-player';
  root.append(head, body);
  grid.appendChild(root);

  // Tiles start stopped; the IntersectionObserver starts the visible ones.
  const player = createPlayer(body, { stream: path, transport, latency, token, overlay: false, autoplay: false });
  player.on('state', (e) => {
    root.dataset.state = e.state;
    state.textContent = STATE_LABEL[e.state];
    state.title = e.reason;
    if (e.state !== 'playing') lat.textContent = '';
  });
  player.on('stats', (s) => {
    lat.textContent = s.state === 'playing' && s.latencyMs !== undefined ? `${Math.round(s.latencyMs)} ms` : '';
  });
  root.addEventListener('click', (e) => {
    if ((e.target as HTMLElement).closest('a,button')) return;
    toggleEnlarged(root);
  });
  const tile: Tile = { path, root, player, visible: false, missingPolls: 0 };
  tiles.set(path, tile);
  observer.observe(root);
  layout();
}

function removeTile(path: string): void {
  const tile = tiles.get(path);
  if (!tile) return;
  observer.unobserve(tile.root);
  tile.player.destroy();
  tile.root.remove();
  tiles.delete(path);
  layout();
}

function toggleEnlarged(root: HTMLElement): void {
  const was = root.classList.contains('enlarged');
  for (const t of tiles.values()) t.root.classList.remove('enlarged');
  if (!was) root.classList.add('enlarged');
}

document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') for (const t of tiles.values()) t.root.classList.remove('enlarged');
});

async function follow(): Promise<void> {
  try {
    const streams = await listStreams(location.origin, token);
    const live = new Set(streams.filter((s) => s.state !== 'ended').map((s) => s.path));
    for (const path of [...live].sort()) addTile(path);
    for (const tile of [...tiles.values()]) {
      if (live.has(tile.path)) tile.missingPolls = 0;
      // Two polls in a row without it: the stream is gone, not just between publishers.
      else if (++tile.missingPolls >= 2) removeTile(tile.path);
    }
  } catch {
    /* API unreachable: keep the tiles, they show their own state */
  }
  setTimeout(() => void follow(), 2000);
}

if (all) {
  void follow();
} else {
  const paths = (q.get('streams') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const p of paths) {
    try {
      addTile(p);
    } catch (error) {
      const bad = document.createElement('div');
      bad.className = 'tile tile-bad';
      bad.textContent = error instanceof Error ? error.message : String(error);
      grid.appendChild(bad);
    }
  }
  layout();
}

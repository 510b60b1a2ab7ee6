/**
 * /player/wall.html?streams=a/b,c/d  or  ?all=1   [&layout=1|4|9|16] [&transport=ws|http] [&latency=low|balanced]
 *   [&variant=source] (never the browser-safe rendition) [&small=0|1] (tiles take the small tile rendition)
 *   [&room=room/42&name=ops] (chat panel beside the wall, see chat.ts)
 * A grid of live tiles (ui/video-wall.ts). With `all`, the wall follows streams appearing and
 * disappearing through the API.
 */
import '../ui/pages.css';
import { listStreams } from '../api/client.js';
import type { LatencyMode, Transport } from '../config.js';
import { SMALL_TILE_ABOVE, VideoWall, wallLatency, type Tile } from '../ui/video-wall.js';
import { mountChat } from './chat.js';
import { boolParam, numberParam, queryParams, variantParam } from './query.js';

declare global {
  interface Window {
    streamgateWall?: { tiles: Map<string, Tile> };
  }
}

const q = queryParams();
const all = boolParam(q, 'all', false);
const token = q.get('token') ?? undefined;
const paths = (q.get('streams') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const latencyParam = q.get('latency') as LatencyMode | null;
// WS-FLV by default: browsers open at most 6 HTTP/1.1 connections per host, and every HTTP-FLV
// tile holds one for as long as it plays, so a 9-tile wall over HTTP-FLV would starve (tiles 7+
// and even the API calls would queue forever). WebSockets are not counted in that pool.
const wall = new VideoWall(document.getElementById('wall')!, document.getElementById('wall-count')!, {
  transport: (q.get('transport') as Transport | null) ?? 'ws',
  // Past 9 tiles smoothness wins over the last 0.4 s (wallLatency); `&latency=` overrides.
  latency: latencyParam ?? (all ? wallLatency : wallLatency(paths.length)),
  token,
  fixedLayout: numberParam(q, 'layout'),
  variant: variantParam(q),
  // A wall given its streams knows its final size; with `all` each tile judges by the count so far.
  smallTiles: q.has('small') ? boolParam(q, 'small', false) : all ? undefined : (numberParam(q, 'layout') ?? paths.length) > SMALL_TILE_ABOVE,
});
window.streamgateWall = { tiles: wall.tiles };
mountChat(q, undefined, 36);

async function follow(): Promise<void> {
  try {
    const streams = await listStreams(location.origin, token);
    wall.sync(streams.filter((s) => s.state !== 'ended').map((s) => s.path));
  } catch {
    /* API unreachable: keep the tiles, they show their own state */
  }
  setTimeout(() => void follow(), 2000);
}

if (all) {
  void follow();
} else {
  const grid = document.getElementById('wall')!;
  for (const p of paths) {
    try {
      wall.add(p);
    } catch (error) {
      const bad = document.createElement('div');
      bad.className = 'tile tile-bad';
      bad.textContent = error instanceof Error ? error.message : String(error);
      grid.appendChild(bad);
    }
  }
  wall.layout();
}

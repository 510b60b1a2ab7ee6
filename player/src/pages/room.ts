/**
 * /player/room.html?room=room/42[&name=ops][&token=...][&layout=1|4|9|16][&transport=ws|http][&latency=balanced][&variant=source]
 * The host view of a many-to-many room: a grid of every stream published under `room/42/...`
 * (from `GET /api/v1/rooms/{room}`, followed as streams come and go) and the room's chat panel.
 */
import '../ui/pages.css';
import { getRoom } from '../api/client.js';
import type { LatencyMode, Transport } from '../config.js';
import { VideoWall, wallLatency, type Tile } from '../ui/video-wall.js';
import { mountChat } from './chat.js';
import { mountTalkback } from './room-talkback.js';
import { numberParam, queryParams, variantParam } from './query.js';

declare global {
  interface Window {
    streamgateWall?: { tiles: Map<string, Tile> };
  }
}

const POLL_MS = 2000;
const q = queryParams();
const room = q.get('room') ?? '';
const token = q.get('token') ?? undefined;
const grid = document.getElementById('wall')!;
const counter = document.getElementById('wall-count')!;
/** The room's own errors, apart from the counter (whose warning belongs to the wall). */
const roomError = document.getElementById('room-error')!;

function showError(text: string | undefined, detail = ''): void {
  roomError.textContent = text ?? '';
  roomError.title = detail;
  roomError.hidden = text === undefined;
}

if (!room) {
  grid.classList.add('empty');
  showError('add ?room=room/42 to the address');
} else {
  document.title = `${room} · Streamgate room`;
  document.getElementById('room-title')!.textContent = room;
  const wall = new VideoWall(grid, counter, {
    transport: (q.get('transport') as Transport | null) ?? 'ws',
    latency: (q.get('latency') as LatencyMode | null) ?? wallLatency,
    token,
    fixedLayout: numberParam(q, 'layout'),
    variant: variantParam(q),
    // room/42/alice -> alice: the room is in the title already.
    label: (path) => (path.startsWith(`${room}/`) ? path.slice(room.length + 1) : path),
  });
  window.streamgateWall = { tiles: wall.tiles };
  const panel = mountChat(q, room, 36, true);
  const talkback = (client: NonNullable<NonNullable<typeof panel>['room']>) =>
    mountTalkback(client, document.getElementById('go-live') as HTMLButtonElement, document.getElementById('live-state')!, document.getElementById('self-view') as HTMLVideoElement, token);
  if (panel?.room) talkback(panel.room);
  else if (panel) panel.onClient = talkback;

  const follow = async (): Promise<void> => {
    try {
      const entry = await getRoom(location.origin, room, token);
      // 404 until someone joins or publishes under the room: nothing to show yet.
      const live = (entry?.streamList ?? []).filter((s) => s.state !== 'ended' && s.path !== room).map((s) => s.path);
      wall.sync(live);
      showError(undefined);
    } catch (error) {
      const status = (error as { status?: number }).status;
      showError(status === 401 || status === 403 ? 'unauthorized' : 'cannot reach the API', error instanceof Error ? error.message : String(error));
    }
    setTimeout(() => void follow(), POLL_MS);
  };
  void follow();
}

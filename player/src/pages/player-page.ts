/**
 * /player/?stream=live/cam1[&transport=ws|http|hls|webrtc|auto][&latency=low|balanced][&overlay=0][&muted=0][&token=...]
 *   [&variant=source] (the original even when this browser cannot decode it; default: the browser-safe rendition then)
 *   [&chat=1|&room=room/42][&name=alice] (chat panel, see chat.ts)
 */
import '../ui/pages.css';
import { listStreams } from '../api/client.js';
import { streamUrls } from '../api/urls.js';
import type { LatencyMode, Transport } from '../config.js';
import { createPlayer, type Player } from '../player.js';
import { mountChat } from './chat.js';
import { boolParam, queryParams, variantParam } from './query.js';

declare global {
  interface Window {
    /** The page's player, for debugging from the console (and for the e2e tests). */
    streamgatePlayer?: Player;
  }
}

const q = queryParams();
const stream = q.get('stream');
const host = document.getElementById('player')!;

if (stream) {
  document.title = `${stream} · Streamgate`;
  const muted = boolParam(q, 'muted', true);
  try {
    window.streamgatePlayer = createPlayer(host, {
      stream,
      transport: (q.get('transport') as Transport | null) ?? 'http',
      latency: (q.get('latency') as LatencyMode | null) ?? 'low',
      token: q.get('token') ?? undefined,
      overlay: boolParam(q, 'overlay', true),
      muted,
      controls: boolParam(q, 'controls', !muted),
      variant: variantParam(q),
    });
    mountChat(q, stream);
  } catch (error) {
    host.classList.add('picker');
    host.textContent = `Cannot start the player: ${error instanceof Error ? error.message : String(error)}`;
  }
} else {
  // No stream given: list what is live, as links.
  host.classList.add('picker');
  const title = document.createElement('h1');
  title.textContent = 'Streamgate — pick a stream';
  const list = document.createElement('ul');
  host.append(title, list);
  const token = q.get('token') ?? undefined;
  listStreams(location.origin, token).then(
    (streams) => {
      if (streams.length === 0) list.textContent = 'Nothing is published yet.';
      for (const s of streams) {
        const li = document.createElement('li');
        const a = document.createElement('a');
        // The token that listed the streams also plays them (a gateway with access control).
        a.href = streamUrls(s.path, { server: location.origin, token }).player;
        a.textContent = s.path;
        li.appendChild(a);
        list.appendChild(li);
      }
    },
    (error: unknown) => (list.textContent = `Cannot list streams: ${String(error)}`),
  );
}

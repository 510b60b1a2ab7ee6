/**
 * The chat panel on a page: `&chat=1` joins the room of the page's stream (a stream's room has its
 * path), `&room=room/42` names the room; `&name=` the display name (else the panel asks),
 * `&token=` the credential, `&chatCollapsed=1` starts collapsed, `&role=host` for development
 * rooms (`rooms.hostRule: query`).
 */
import { createChatPanel, type ChatPanel } from '../ui/chat-panel.js';
import { boolParam } from './query.js';

declare global {
  interface Window {
    /** The page's chat panel, for debugging (and for the e2e tests). */
    streamgateChat?: ChatPanel;
  }
}

/** Mounts the panel when the query asks for it; `topPx` keeps it below the page's header bar. */
export function mountChat(q: URLSearchParams, defaultRoom: string | undefined, topPx = 0, force = false): ChatPanel | undefined {
  const room = q.get('room') ?? (force || boolParam(q, 'chat', false) ? defaultRoom : undefined);
  if (!room) return undefined;
  const body = document.body;
  body.classList.add('with-chat');
  body.style.setProperty('--sgc-top', `${topPx}px`);
  const role = q.get('role');
  const panel = createChatPanel(body, {
    server: location.origin,
    room,
    name: q.get('name') ?? undefined,
    token: q.get('token') ?? undefined,
    role: role === 'host' || role === 'viewer' ? role : undefined,
    collapsed: boolParam(q, 'chatCollapsed', false),
  });
  panel.onResize = (w) => body.style.setProperty('--sgc-space', `${w}px`);
  body.style.setProperty('--sgc-space', `${panel.root.dataset.collapsed === 'true' ? 40 : 320}px`);
  window.streamgateChat = panel;
  return panel;
}

/** Every URL form of a stream (DESIGN.md "Contract"), built in one place. */

export interface UrlOptions {
  /** Gateway base URL, e.g. `http://gw:8080` (default: the page's origin). */
  server: string;
  token?: string | undefined;
  /** Ports of the RTMP and RTSP listeners (`GET /api/v1/server` reports them; default 1935 / 8554). */
  rtmpPort?: number;
  rtspPort?: number;
}

export interface StreamUrls {
  flv: string;
  wsFlv: string;
  hls: string;
  /** WebRTC play (WHEP, RFC 9725): POST the SDP offer here. */
  whep: string;
  /** WebRTC publish (WHIP, RFC 9725). */
  whip: string;
  rtmp: string;
  rtsp: string;
  player: string;
  embed: string;
  api: string;
  snapshot: string;
}

function withToken(url: string, token: string | undefined): string {
  if (!token) return url;
  return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}

/** `live/cam1` -> `live/cam1` with each segment URL-encoded. */
export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

export function streamUrls(path: string, o: UrlOptions): StreamUrls {
  const base = new URL(o.server);
  const http = `${base.protocol}//${base.host}`;
  const ws = `${base.protocol === 'https:' ? 'wss:' : 'ws:'}//${base.host}`;
  const p = encodePath(path);
  const t = o.token;
  const player = withToken(`${http}/player/?stream=${p}`, t);
  return {
    flv: withToken(`${http}/${p}.flv`, t),
    wsFlv: withToken(`${ws}/${p}.flv`, t),
    hls: withToken(`${http}/${p}/index.m3u8`, t),
    whep: withToken(`${http}/${p}/whep`, t),
    whip: withToken(`${http}/${p}/whip`, t),
    rtmp: withToken(`rtmp://${base.hostname}:${o.rtmpPort ?? 1935}/${p}`, t),
    rtsp: withToken(`rtsp://${base.hostname}:${o.rtspPort ?? 8554}/${p}`, t),
    player,
    embed: `<iframe src="${player.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}" width="640" height="360" allow="autoplay; fullscreen" allowfullscreen style="border:0"></iframe>`,
    api: withToken(`${http}/api/v1/streams/${p}`, t),
    snapshot: withToken(`${http}/api/v1/streams/${p}/snapshot.jpg`, t),
  };
}

export function apiListUrl(server: string, token?: string): string {
  const base = new URL(server);
  return withToken(`${base.protocol}//${base.host}/api/v1/streams`, token);
}

export interface RoomUrls {
  /** `GET` the room with its participants and streams (`/api/v1/rooms/{room}`). */
  api: string;
  /** `GET` the chat history. */
  messages: string;
  /** The WebSocket to join with a display name (and, for development rooms, a role). */
  ws(name: string, role?: 'host' | 'viewer'): string;
  /** The host view of a many-to-many room. */
  page: string;
}

/** URL forms of a room (README "Rooms"); the token rides along on every one. */
export function roomUrls(room: string, o: Pick<UrlOptions, 'server' | 'token'>): RoomUrls {
  const base = new URL(o.server);
  const http = `${base.protocol}//${base.host}`;
  const ws = `${base.protocol === 'https:' ? 'wss:' : 'ws:'}//${base.host}`;
  const p = encodePath(room);
  return {
    api: withToken(`${http}/api/v1/rooms/${p}`, o.token),
    messages: withToken(`${http}/api/v1/rooms/${p}/messages`, o.token),
    ws: (name, role) => {
      const q = new URLSearchParams({ name });
      if (role) q.set('role', role);
      if (o.token) q.set('token', o.token);
      return `${ws}/api/v1/rooms/${p}/ws?${q}`;
    },
    page: withToken(`${http}/player/room.html?room=${p}`, o.token),
  };
}

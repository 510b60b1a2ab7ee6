import type { Action } from './tokens.js';

/** The ports URLs point at: the listening ones for the API, the configured ones for the CLI. */
export interface UrlPorts {
  readonly http: number;
  readonly rtmp: number;
  readonly rtsp: number;
}

/** Ready-to-use URLs carrying `token` for an action on a path. */
export function tokenUrls(ports: UrlPorts, host: string, action: Action, path: string, token: string): Record<string, string> {
  const q = `token=${encodeURIComponent(token)}`;
  const http = `http://${host}:${ports.http}`;
  const ws = `ws://${host}:${ports.http}`;
  const slash = path.indexOf('/');
  const app = path.slice(0, slash);
  const name = path.slice(slash + 1);
  if (action === 'publish') {
    return {
      rtmp: `rtmp://${host}:${ports.rtmp}/${path}?${q}`,
      obsServer: `rtmp://${host}:${ports.rtmp}/${app}`,
      obsStreamKey: `${name}?${q}`,
      rtsp: `rtsp://${host}:${ports.rtsp}/${path}?${q}`,
      room: `${ws}/api/v1/rooms/${path}/ws?name=host&${q}`,
    };
  }
  if (action === 'play') {
    return {
      flv: `${http}/${path}.flv?${q}`,
      wsFlv: `${ws}/${path}.flv?${q}`,
      hls: `${http}/${path}/index.m3u8?${q}`,
      rtmp: `rtmp://${host}:${ports.rtmp}/${path}?${q}`,
      rtsp: `rtsp://${host}:${ports.rtsp}/${path}?${q}`,
      player: `${http}/player/?stream=${path}&${q}`,
    };
  }
  if (action === 'room') return { room: `${ws}/api/v1/rooms/${path}/ws?name=NAME&${q}`, player: `${http}/player/?stream=${path}&${q}` };
  return { api: `${http}/api/v1/streams?${q}`, admin: `${http}/player/admin.html?${q}` };
}

/** `1h`, `30m`, `90s`, `2d` or plain seconds. */
export function parseTtl(text: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!m) throw new Error(`bad TTL ${JSON.stringify(text)}; use e.g. 90s, 30m, 1h, 7d`);
  const n = Number(m[1]);
  return n * ({ '': 1, s: 1, m: 60, h: 3600, d: 86400 } as Record<string, number>)[m[2]!]!;
}

/** The few calls the player, wall and admin console make to the gateway's REST API. */
import type { StreamEntry, StreamList } from './types.js';
import { apiListUrl, roomUrls, streamUrls } from './urls.js';

/** The outcome of looking a stream up: found, missing (404), refused (401/403) or unreachable. */
export type Lookup =
  | { kind: 'found'; entry: StreamEntry }
  | { kind: 'missing' }
  | { kind: 'refused'; status: number }
  | { kind: 'unreachable'; message: string };

async function fetchWithTimeout(url: string, init: RequestInit, timeoutMs: number): Promise<Response> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    return await fetch(url, { ...init, signal: abort.signal, cache: 'no-store' });
  } finally {
    clearTimeout(timer);
  }
}

export async function lookupStream(server: string, path: string, token: string | undefined, timeoutMs: number): Promise<Lookup> {
  try {
    const res = await fetchWithTimeout(streamUrls(path, { server, token }).api, {}, timeoutMs);
    if (res.status === 404) return { kind: 'missing' };
    if (res.status === 401 || res.status === 403) return { kind: 'refused', status: res.status };
    if (!res.ok) return { kind: 'unreachable', message: `API answered ${res.status}` };
    return { kind: 'found', entry: (await res.json()) as StreamEntry };
  } catch (error) {
    return { kind: 'unreachable', message: error instanceof Error ? error.message : String(error) };
  }
}

export async function listStreams(server: string, token?: string, timeoutMs = 3000): Promise<StreamEntry[]> {
  const res = await fetchWithTimeout(apiListUrl(server, token), {}, timeoutMs);
  if (!res.ok) throw new Error(`GET /api/v1/streams answered ${res.status}`);
  return ((await res.json()) as StreamList).streams;
}

/** DELETE /api/v1/streams/{path}: ends the stream and disconnects its publisher. */
export async function kickPublisher(server: string, path: string, token?: string): Promise<void> {
  const res = await fetchWithTimeout(streamUrls(path, { server, token }).api, { method: 'DELETE' }, 5000);
  if (!res.ok && res.status !== 204) {
    let message = `${res.status}`;
    try {
      message = ((await res.json()) as { error?: { message?: string } }).error?.message ?? message;
    } catch {
      /* not JSON */
    }
    throw new Error(`kick failed: ${message}`);
  }
}

/** `GET /api/v1/rooms/{room}`: participants and the streams published under the room. */
export interface RoomEntry {
  room: string;
  participants: number;
  hosts: number;
  streams: string[];
  participantList?: { id: number; name: string; role: string }[];
  streamList?: StreamEntry[];
}

/** The room, `undefined` when it does not exist yet (404); throws on refusal or failure. */
export async function getRoom(server: string, room: string, token?: string, timeoutMs = 3000): Promise<RoomEntry | undefined> {
  const res = await fetchWithTimeout(roomUrls(room, { server, token }).api, {}, timeoutMs);
  if (res.status === 404) return undefined;
  if (res.status === 401 || res.status === 403) throw Object.assign(new Error(`the gateway refused access to room ${room} (${res.status})`), { status: res.status });
  if (!res.ok) throw new Error(`GET /api/v1/rooms/${room} answered ${res.status}`);
  return (await res.json()) as RoomEntry;
}

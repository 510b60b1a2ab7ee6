/**
 * Talkback: who has the floor in a room. A participant publishes camera and microphone into
 * `{room}/{stream name}` (room/42/alice); with `rooms.publish: granted` only participants a host
 * granted the floor may (they publish with the `?grant=` key the room sent them), or a credential
 * that allows publishing the path. A revoke takes the floor back from anyone, credential or not,
 * until a host grants it again; an audio mute keeps the participant out of the room's mixes.
 * Everything is by stream name, like chat mutes and bans are by display name: a reconnect keeps it.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

/** Characters a display name may have that a path component may not become `-`. */
const NOT_IN_PATH = /[^A-Za-z0-9._~-]/g;

/**
 * The path component a participant publishes under: its display name with every character a
 * stream path cannot hold replaced by `-` ("Gate 3" -> `Gate-3`), never starting with `_`
 * (reserved for the room's own streams, `_mix` and `_grid`), at most 128 characters.
 */
export function streamNameOf(displayName: string): string {
  const name = displayName.replace(NOT_IN_PATH, '-').slice(0, 128).replace(/^_/, '-');
  return name === '.' || name === '..' ? name.replace(/\./g, '-') : name;
}

/**
 * The room and stream name of a participant stream: `room/42/alice` -> room `room/42`, name
 * `alice`. Rooms are `{app}/{name}` paths, their participants one component below; undefined for
 * other paths and for the room's own streams (`_mix`, `_grid`).
 */
export function participantStream(path: string): { room: string; name: string } | undefined {
  const parts = path.split('/');
  if (parts.length !== 3 || parts[2]!.startsWith('_')) return undefined;
  return { room: `${parts[0]}/${parts[1]}`, name: parts[2]! };
}

export class Floor {
  /** Stream name -> the key its grant was given with. */
  private readonly grants = new Map<string, string>();
  private readonly revoked = new Set<string>();
  private readonly audioMuted = new Set<string>();

  /** Grants the floor; `key` is another node's key for the same grant (room bus). */
  grant(name: string, key?: string): string {
    this.revoked.delete(name);
    let current = key ?? this.grants.get(name);
    if (!current) current = randomBytes(18).toString('base64url');
    this.grants.set(name, current);
    return current;
  }

  revoke(name: string): void {
    this.grants.delete(name);
    this.revoked.add(name);
  }

  isGranted(name: string): boolean {
    return this.grants.has(name);
  }

  isRevoked(name: string): boolean {
    return this.revoked.has(name);
  }

  /** The grant key of `name`, for its own participant sessions only. */
  keyOf(name: string): string | undefined {
    return this.grants.get(name);
  }

  /** True when `key` is the grant key of `name` (constant time). */
  keyMatches(name: string, key: string | undefined): boolean {
    const expected = this.grants.get(name);
    if (!expected || !key) return false;
    const a = Buffer.from(expected);
    const b = Buffer.from(key);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  setAudioMuted(name: string, muted: boolean): void {
    if (muted) this.audioMuted.add(name);
    else this.audioMuted.delete(name);
  }

  isAudioMuted(name: string): boolean {
    return this.audioMuted.has(name);
  }
}

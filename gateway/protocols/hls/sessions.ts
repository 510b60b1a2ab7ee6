/**
 * HLS viewers. HTTP requests are not connections, so a viewer is a session: the first playlist
 * request of a client goes through admission (access, reader limit) and gets an id, `sg_sid`,
 * that every URI of the playlists it is served carries; its later requests touch the session. A
 * session that requested nothing for `hls.sessionTimeoutMs`, or whose stream ended, is over: its
 * ticket is released (reader slot freed, on_stop fired). As SRS does with its hls_ctx.
 */
import { randomBytes } from 'node:crypto';
import type { PlayTicket } from '../../core/admission.js';

/** The query parameter naming a session. */
export const SESSION_PARAM = 'sg_sid';

interface Session {
  readonly path: string;
  readonly ticket: PlayTicket;
  lastSeen: number;
}

export class HlsSessions {
  private readonly sessions = new Map<string, Session>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly timeoutMs: number) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(250, Math.min(5000, timeoutMs / 4)));
    this.sweeper.unref();
  }

  /** The session `id` of `path`, touched; undefined when unknown, over, or of another path. */
  touch(id: string | undefined, path: string): string | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (!s || s.path !== path) return undefined;
    if (s.ticket.stream.state === 'ended') {
      this.end(id, s);
      return undefined;
    }
    s.lastSeen = Date.now();
    return id;
  }

  open(path: string, ticket: PlayTicket): string {
    const id = randomBytes(9).toString('base64url');
    this.sessions.set(id, { path, ticket, lastSeen: Date.now() });
    return id;
  }

  /** Sessions per path (tests, API). */
  count(path?: string): number {
    if (path === undefined) return this.sessions.size;
    let n = 0;
    for (const s of this.sessions.values()) if (s.path === path) n++;
    return n;
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const [id, s] of [...this.sessions]) this.end(id, s);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, s] of [...this.sessions]) {
      if (now - s.lastSeen > this.timeoutMs || s.ticket.stream.state === 'ended') this.end(id, s);
    }
  }

  private end(id: string, s: Session): void {
    this.sessions.delete(id);
    s.ticket.release();
  }
}

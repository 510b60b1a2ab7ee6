/**
 * The HTTP hook client: asks `auth.hooks.onPublish/onPlay/onRoomJoin` for a decision (mode hook)
 * and tells `onUnpublish/onStop` when a session ends. Bodies carry our fields and SRS http_hooks
 * names, so an SRS backend works unchanged.
 */
import type { Logger } from 'pino';
import { clientIp } from './address.js';
import type { AuthConfig } from './config.js';
import { ForbiddenError } from './errors.js';

/** What a hook is told about the client and the path. */
export interface HookSubject {
  readonly path: string;
  readonly protocol: string;
  readonly remoteAddress: string;
  readonly query: Readonly<Record<string, string>>;
}

export type DecisionEvent = 'on_publish' | 'on_play' | 'on_room_join';

export class HookClient {
  constructor(
    private readonly hooks: AuthConfig['hooks'],
    private readonly log: Logger,
  ) {}

  /** The URL configured for a decision event, if any. */
  urlFor(event: DecisionEvent): string | undefined {
    return event === 'on_publish' ? this.hooks.onPublish : event === 'on_room_join' ? this.hooks.onRoomJoin : this.hooks.onPlay;
  }

  /**
   * Asks the hook; resolves with the role it names (or undefined: the default for the action),
   * rejects with ForbiddenError when it refuses, fails or times out.
   */
  async ask(event: DecisionEvent, subject: HookSubject, ip: string, credential: string | undefined): Promise<'host' | 'viewer' | undefined> {
    const url = this.urlFor(event);
    if (!url) throw new ForbiddenError(`mode hook needs auth.hooks.${event === 'on_publish' ? 'onPublish' : event === 'on_room_join' ? 'onRoomJoin' : 'onPlay'}`);
    let res: globalThis.Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(hookBody(event, subject, ip, credential)),
        signal: AbortSignal.timeout(this.hooks.timeoutMs),
      });
    } catch (error) {
      const reason = (error as Error).name === 'TimeoutError' ? `timed out after ${this.hooks.timeoutMs} ms` : `unreachable (${(error as Error).message})`;
      throw new ForbiddenError(`${event} hook ${reason}`);
    }
    const text = await res.text().catch(() => '');
    if (res.status < 200 || res.status >= 300) throw new ForbiddenError(`${event} hook answered ${res.status}`);
    // SRS backends answer {"code":0} (or 0) to allow; honour a non-zero code as a refusal.
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return undefined;
    }
    const code = typeof body === 'number' ? body : typeof body === 'object' && body !== null ? (body as { code?: unknown }).code : undefined;
    if (typeof code === 'number' && code !== 0) throw new ForbiddenError(`${event} hook refused with code ${code}`);
    const role = typeof body === 'object' && body !== null ? (body as { role?: unknown }).role : undefined;
    return role === 'host' || role === 'viewer' ? role : undefined;
  }

  /** on_unpublish / on_stop: fire and forget, never blocks media. */
  notify(event: 'on_unpublish' | 'on_stop', subject: HookSubject): void {
    const url = event === 'on_unpublish' ? this.hooks.onUnpublish : this.hooks.onStop;
    if (!url) return;
    fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(hookBody(event, subject)),
      signal: AbortSignal.timeout(this.hooks.timeoutMs),
    }).then(
      (res) => res.body?.cancel(),
      (error: Error) => this.log.info({ path: subject.path, err: error.message }, `${event} hook failed`),
    );
  }
}

/** The JSON a hook receives: our fields plus SRS http_hooks names (action, client_id, ip, vhost, app, stream, param). */
export function hookBody(event: string, subject: HookSubject, ip = clientIp(subject.remoteAddress), credential?: string) {
  const slash = subject.path.indexOf('/');
  const param = new URLSearchParams(subject.query as Record<string, string>).toString();
  return {
    action: event,
    path: subject.path,
    protocol: subject.protocol,
    remoteAddress: subject.remoteAddress,
    query: subject.query,
    token: credential ?? subject.query.token ?? null,
    // SRS-compatible names
    client_id: subject.remoteAddress,
    ip,
    vhost: '__defaultVhost__',
    app: subject.path.slice(0, slash),
    stream: subject.path.slice(slash + 1),
    param: param ? `?${param}` : '',
    stream_url: `/${subject.path}`,
  };
}

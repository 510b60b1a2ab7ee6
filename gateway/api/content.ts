/**
 * The API URLs that serve media rather than metadata, and the stream or room each one shows:
 * what Authorizer.contentMiddleware checks play (or room) access against.
 *
 *   /streams/{app}/{name}/snapshot.jpg   play of {app}/{name}
 *   /recordings/{app}/{name}/{file}.mp4  play of {app}/{name}
 *   /rooms/{room}/messages               join of {room}
 *   /rooms/{room}/files[/{id}]           join of {room}
 *
 * `url` is the request path below /api/v1, still percent-encoded. It is read the way the router
 * matches routes, or a spelling the router accepts would skip the check: letter case is ignored
 * in the words the router matches (not in `messages`, which the rooms router compares itself) and
 * a trailing slash is allowed.
 */
import { isValidPath } from '../core/path.js';
import { parseId } from '../record/files.js';

export interface ContentRef {
  readonly action: 'play' | 'room';
  readonly path: string;
}

export function contentOf(url: string): ContentRef | undefined {
  let parts: string[];
  try {
    parts = url.split('/').slice(1).map(decodeURIComponent);
  } catch {
    return undefined; // a malformed escape: the routes answer 400/404 themselves
  }
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  const first = parts[0]?.toLowerCase();
  const last = parts[parts.length - 1];
  const inner = parts.slice(1, -1).join('/');
  if (first === 'streams' && last?.toLowerCase() === 'snapshot.jpg' && isValidPath(inner)) return { action: 'play', path: inner };
  // The rooms router splits its own path and takes `messages` in this case only (`Messages` would be a room name).
  if (first === 'rooms' && (last === 'messages' || last === 'files') && isValidPath(inner)) return { action: 'room', path: inner };
  if (first === 'rooms' && parts[parts.length - 2] === 'files' && /^[0-9a-f]{16}$/.test(last ?? '')) {
    const room = parts.slice(1, -2).join('/');
    if (isValidPath(room)) return { action: 'room', path: room };
  }
  if (first === 'recordings') {
    const id = parseId(parts.slice(1).join('/'));
    if (id) return { action: 'play', path: id.path };
  }
  return undefined;
}

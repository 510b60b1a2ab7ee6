/**
 * The API URLs that serve media rather than metadata, and the stream or room each one shows:
 * what Authorizer.contentMiddleware checks play (or room) access against.
 *
 *   /streams/{app}/{name}/snapshot.jpg   play of {app}/{name}
 *   /recordings/{app}/{name}/{file}.mp4  play of {app}/{name}
 *   /rooms/{room}/messages               join of {room}
 *
 * `url` is the request path below /api/v1, still percent-encoded.
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
  const inner = parts.slice(1, -1).join('/');
  const last = parts[parts.length - 1];
  if (parts[0] === 'streams' && last === 'snapshot.jpg' && isValidPath(inner)) return { action: 'play', path: inner };
  if (parts[0] === 'rooms' && last === 'messages' && isValidPath(inner)) return { action: 'room', path: inner };
  if (parts[0] === 'recordings') {
    const id = parseId(parts.slice(1).join('/'));
    if (id) return { action: 'play', path: id.path };
  }
  return undefined;
}

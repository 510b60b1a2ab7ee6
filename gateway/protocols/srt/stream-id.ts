/**
 * SRT stream ids as encoders send them (the caller's SRTO_STREAMID, carried in the handshake's
 * SID extension):
 *
 * - the SRT Access Control form (SRT "AccessControl.md"): `#!::r=live/cam1,m=publish,t=TOKEN`
 *   with `r` the resource (our path), `m` the mode (`publish`; `request` = play), and the token
 *   in `t=` (or `token=`; `t=stream|file|auth` keeps its standard meaning, the type). Any other
 *   key (`u`, `s`, `h`, custom ones) is passed on in the query, so hooks see it;
 * - the plain form `live/cam1` (publish), optionally `live/cam1?token=...`;
 * - MediaMTX's `publish:live/cam1[:user:pass]` and `read:live/cam1` forms.
 */
import { InvalidRequestError } from '../../core/errors.js';
import { validatePath } from '../../core/path.js';

export type SrtMode = 'publish' | 'request';

export interface SrtStreamId {
  readonly path: string;
  readonly mode: SrtMode;
  /** Token and other keys, as a URL query would carry them (`token` for the credential). */
  readonly query: Readonly<Record<string, string>>;
}

const STANDARD_TYPES = new Set(['stream', 'file', 'auth']);

/** Parses a stream id; throws InvalidRequestError (a missing or malformed id) or InvalidPathError. */
export function parseStreamId(raw: string | undefined): SrtStreamId {
  const id = (raw ?? '').trim();
  if (id === '') throw new InvalidRequestError('SRT caller sent no streamid; set streamid=#!::r={app}/{name},m=publish (or streamid={app}/{name})');
  if (id.startsWith('#!::')) return accessControlForm(id.slice(4));
  const colon = /^(publish|read):(.*)$/.exec(id);
  if (colon) {
    const [path, user, pass] = colon[2]!.split(':');
    const query: Record<string, string> = {};
    if (user) query.user = user;
    if (pass) query.token = pass;
    return { path: validatePath(path ?? ''), mode: colon[1] === 'read' ? 'request' : 'publish', query };
  }
  const q = id.indexOf('?');
  const query: Record<string, string> = {};
  if (q >= 0) for (const [k, v] of new URLSearchParams(id.slice(q + 1))) query[k] = v;
  return { path: validatePath(q >= 0 ? id.slice(0, q) : id), mode: 'publish', query };
}

function accessControlForm(body: string): SrtStreamId {
  let path: string | undefined;
  let mode: SrtMode = 'request';
  let modeSet = false;
  const query: Record<string, string> = {};
  for (const pair of body.split(',')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new InvalidRequestError(`SRT streamid: ${JSON.stringify(pair.slice(0, 80))} is not key=value; expected #!::r={app}/{name},m=publish`);
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (key === 'r') path = value;
    else if (key === 'm') {
      if (value !== 'publish' && value !== 'request') {
        throw new InvalidRequestError(`SRT streamid: mode m=${JSON.stringify(value.slice(0, 40))} is not supported; supported: publish, request`);
      }
      mode = value;
      modeSet = true;
    } else if (key === 't' && !STANDARD_TYPES.has(value)) query.token = value;
    else if (key === 'token') query.token = value;
    else if (key !== 't') query[key] = value;
  }
  if (path === undefined) throw new InvalidRequestError('SRT streamid has no resource; expected #!::r={app}/{name},m=publish');
  // The Access Control spec's default mode is request (play).
  return { path: validatePath(path), mode: modeSet ? mode : 'request', query };
}

/** A stream id for logs: token-like values (`t=`, `token=`, MediaMTX's `:user:pass`) masked. */
export function maskStreamId(id: string | undefined): string | undefined {
  if (id === undefined) return undefined;
  if (id.startsWith('#!::')) return id.replace(/([:,](?:t|token|s)=)[^,]*/g, '$1***');
  const colon = /^((?:publish|read):[^:]*:[^:]*:).*$/.exec(id);
  if (colon) return `${colon[1]}***`;
  return id.replace(/([?&]token=)[^&]*/g, '$1***');
}

/** RTSP request URLs and addresses, and the refusal that carries an RTSP status. */
import { InvalidPathError, StreamgateError } from '../../core/errors.js';

/** A refusal with an RTSP status; `fatal` ones also close the connection (malformed input). */
export class RtspStatusError extends StreamgateError {
  constructor(
    readonly status: number,
    message: string,
    readonly fatal = false,
  ) {
    super('SG_ERR_PROTOCOL', `rtsp: ${message}`);
  }
}

/** A SETUP URL's last segment naming a track. */
export const CONTROL = /^(?:trackID|streamid|track)=(\d+)$/i;

/** Strips the IPv4-mapped prefix so TCP and UDP addresses compare equal. */
export function plainAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/**
 * Clients build SETUP URLs by appending the track's control to the whole DESCRIBE/ANNOUNCE URL,
 * query included (`.../live/cam?token=x/streamid=0`): move such a trailing path segment back in
 * front of the query so the path, the control and the query each parse as themselves.
 */
export function normalizeRtspUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const rest = url.slice(q + 1);
  const slash = rest.indexOf('/');
  if (slash < 0) return url;
  return `${url.slice(0, q)}${rest.slice(slash)}?${rest.slice(0, slash)}`;
}

/** `rtsp://host:port/app/name[/control]?query` → decoded path components and query. */
export function splitRtspUrl(url: string): { parts: string[]; query: Record<string, string> } {
  let u: URL;
  try {
    u = new URL(normalizeRtspUrl(url));
  } catch {
    throw new RtspStatusError(400, `bad request URL ${JSON.stringify(url.slice(0, 200))}`, true);
  }
  if (u.protocol !== 'rtsp:' && u.protocol !== 'rtspt:') throw new RtspStatusError(400, `not an rtsp:// URL: ${JSON.stringify(url.slice(0, 200))}`, true);
  const query: Record<string, string> = {};
  for (const [k, v] of u.searchParams) query[k] = v;
  let parts: string[];
  try {
    parts = u.pathname.split('/').filter((p) => p.length > 0).map((p) => decodeURIComponent(p));
  } catch {
    throw new InvalidPathError(u.pathname);
  }
  return { parts, query };
}

/** Track index of a SETUP URL: its control against the announced/described tracks' controls. */
export function trackIndex(url: string, controls: readonly string[]): number {
  const clean = normalizeRtspUrl(url).split('?')[0]!.replace(/\/+$/, '');
  for (let i = 0; i < controls.length; i++) {
    const c = controls[i]!;
    if (c === '' || c === '*') continue;
    if (c.includes('://') ? clean === c.replace(/\/+$/, '') : clean.endsWith('/' + c)) return i;
  }
  const m = CONTROL.exec(clean.slice(clean.lastIndexOf('/') + 1));
  if (m && Number(m[1]) < controls.length) return Number(m[1]);
  if (controls.length === 1) return 0;
  throw new RtspStatusError(404, `SETUP URL ${JSON.stringify(url.slice(0, 200))} names no track of this session`);
}

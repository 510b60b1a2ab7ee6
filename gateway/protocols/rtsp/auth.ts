/**
 * Client-side RTSP authentication: Basic (RFC 7617) and Digest (RFC 2617 §3.2.2, MD5, with or
 * without qop=auth), answering a camera's WWW-Authenticate challenge.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface Challenge {
  readonly scheme: 'basic' | 'digest';
  readonly params: ReadonlyMap<string, string>;
}

/** Challenges of a WWW-Authenticate header (several may be joined by ', ' when repeated). */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  // Split at each scheme token that starts a challenge: "Basic realm=..., Digest realm=...".
  const re = /(Basic|Digest)\s+/gi;
  const starts: { scheme: string; index: number; after: number }[] = [];
  for (let m = re.exec(header); m; m = re.exec(header)) {
    // Only a scheme at the start or after a comma begins a challenge.
    const before = header.slice(0, m.index).trimEnd();
    if (before === '' || before.endsWith(',')) starts.push({ scheme: m[1]!.toLowerCase(), index: m.index, after: re.lastIndex });
  }
  for (let i = 0; i < starts.length; i++) {
    const s = starts[i]!;
    const body = header.slice(s.after, i + 1 < starts.length ? starts[i + 1]!.index : header.length);
    const params = new Map<string, string>();
    const pr = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
    for (let m = pr.exec(body); m; m = pr.exec(body)) params.set(m[1]!.toLowerCase(), m[2] ?? m[3] ?? '');
    out.push({ scheme: s.scheme as 'basic' | 'digest', params });
  }
  return out;
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** Builds Authorization headers for one set of credentials once a challenge is known. */
export class RtspAuthenticator {
  private challenge: Challenge | undefined;
  private nc = 0;

  constructor(
    private readonly username: string,
    private readonly password: string,
  ) {}

  /** Takes the strongest challenge offered (Digest over Basic); false when none is usable. */
  accept(header: string): boolean {
    const challenges = parseChallenges(header);
    const digest = challenges.find((c) => c.scheme === 'digest' && c.params.has('nonce') && (c.params.get('algorithm') ?? 'MD5').toUpperCase() === 'MD5');
    const chosen = digest ?? challenges.find((c) => c.scheme === 'basic');
    if (!chosen) return false;
    this.challenge = chosen;
    this.nc = 0;
    return true;
  }

  /** The Authorization value for `method` on `uri`, or undefined before a challenge. */
  header(method: string, uri: string): string | undefined {
    const c = this.challenge;
    if (!c) return undefined;
    if (c.scheme === 'basic') return `Basic ${Buffer.from(`${this.username}:${this.password}`).toString('base64')}`;
    const realm = c.params.get('realm') ?? '';
    const nonce = c.params.get('nonce') ?? '';
    const ha1 = md5(`${this.username}:${realm}:${this.password}`);
    const ha2 = md5(`${method}:${uri}`);
    const qop = (c.params.get('qop') ?? '').split(',').map((q) => q.trim()).includes('auth') ? 'auth' : undefined;
    let value = `Digest username="${this.username}", realm="${realm}", nonce="${nonce}", uri="${uri}"`;
    if (qop) {
      this.nc++;
      const nc = this.nc.toString(16).padStart(8, '0');
      const cnonce = randomBytes(8).toString('hex');
      value += `, response="${md5(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`)}", qop=${qop}, nc=${nc}, cnonce="${cnonce}"`;
    } else {
      value += `, response="${md5(`${ha1}:${nonce}:${ha2}`)}"`;
    }
    const opaque = c.params.get('opaque');
    if (opaque !== undefined) value += `, opaque="${opaque}"`;
    return value + ', algorithm=MD5';
  }
}

/** Parameters of an `Authorization: Digest ...` request header (RFC 2617 §3.2.2). */
export function parseDigestAuthorization(header: string): Map<string, string> | undefined {
  if (!/^Digest\s+/i.test(header)) return undefined;
  const params = new Map<string, string>();
  const pr = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  const body = header.replace(/^Digest\s+/i, '');
  for (let m = pr.exec(body); m; m = pr.exec(body)) params.set(m[1]!.toLowerCase(), m[2] ?? m[3] ?? '');
  return params;
}

/**
 * Server side of Digest: which of `secrets` (if any) the client's response was computed with,
 * for our realm and nonce. MD5, with or without qop=auth.
 */
export function matchDigest(params: Map<string, string>, method: string, realm: string, nonce: string, secrets: readonly string[]): string | undefined {
  if (params.get('realm') !== realm || params.get('nonce') !== nonce) return undefined;
  const username = params.get('username') ?? '';
  const uri = params.get('uri') ?? '';
  const given = (params.get('response') ?? '').toLowerCase();
  const qop = params.get('qop');
  const ha2 = md5(`${method}:${uri}`);
  for (const secret of secrets) {
    const ha1 = md5(`${username}:${realm}:${secret}`);
    const expected = qop ? md5(`${ha1}:${nonce}:${params.get('nc') ?? ''}:${params.get('cnonce') ?? ''}:${qop}:${ha2}`) : md5(`${ha1}:${nonce}:${ha2}`);
    if (expected === given) return secret;
  }
  return undefined;
}

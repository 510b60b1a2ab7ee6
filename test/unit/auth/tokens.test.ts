import { describe, expect, it } from 'vitest';
import { createToken, verifyToken } from '../../../gateway/auth/tokens.js';
import { clientIp } from '../../../gateway/auth/address.js';
import { parseTtl } from '../../../gateway/auth/urls.js';

const keys = { k1: 'secret-one', k2: 'secret-two' };
const now = Date.UTC(2026, 0, 1);

describe('signed tokens', () => {
  const cases: [string, () => string, 'publish' | 'play' | 'room' | 'admin', string, boolean | string][] = [
    ['valid publish token', () => createToken(keys, 'k1', 'publish', 'live/cam1', 3600, now), 'publish', 'live/cam1', true],
    ['publish token also plays', () => createToken(keys, 'k1', 'publish', 'live/cam1', 3600, now), 'play', 'live/cam1', true],
    ['pattern token', () => createToken(keys, 'k1', 'play', 'cams/*', 3600, now), 'play', 'cams/gate1', true],
    ['rotated key still valid', () => createToken(keys, 'k2', 'play', 'live/cam1', 3600, now), 'play', 'live/cam1', true],
    ['admin token allows all', () => createToken(keys, 'k1', 'admin', '**', 3600, now), 'publish', 'live/x', true],
    ['play token used to publish', () => createToken(keys, 'k1', 'play', 'live/cam1', 3600, now), 'publish', 'live/cam1', 'token is for play, not publish'],
    ['token for another path', () => createToken(keys, 'k1', 'play', 'live/cam1', 3600, now), 'play', 'live/cam2', 'token is for live/cam1, not live/cam2'],
    ['expired token', () => createToken(keys, 'k1', 'play', 'live/cam1', 10, now - 60_000), 'play', 'live/cam1', 'token expired'],
    ['tampered path', () => createToken(keys, 'k1', 'play', 'live/cam1', 3600, now).replace(Buffer.from('live/cam1').toString('base64url'), Buffer.from('live/cam2').toString('base64url')), 'play', 'live/cam2', 'bad signature'],
    ['tampered action', () => createToken(keys, 'k1', 'play', 'live/cam1', 3600, now).replace('.play.', '.publish.'), 'publish', 'live/cam1', 'bad signature'],
    ['tampered expiry', () => { const t = createToken(keys, 'k1', 'play', 'live/cam1', 10, now - 60_000).split('.'); t[4] = String(Number(t[4]) + 999999); return t.join('.'); }, 'play', 'live/cam1', 'bad signature'],
    ['unknown key id', () => createToken({ k9: 'x' }, 'k9', 'play', 'live/cam1', 3600, now), 'play', 'live/cam1', 'unknown key id k9'],
    ['garbage', () => 'not-a-token', 'play', 'live/cam1', 'malformed token'],
  ];
  for (const [name, make, action, path, expected] of cases) {
    it(name, () => {
      const v = verifyToken(keys, make(), action, path, now);
      if (expected === true) expect(v.ok).toBe(true);
      else expect(v).toEqual({ ok: false, reason: expected });
    });
  }

  it('parses TTLs', () => {
    expect([parseTtl('90'), parseTtl('90s'), parseTtl('30m'), parseTtl('1h'), parseTtl('7d')]).toEqual([90, 90, 1800, 3600, 604800]);
    expect(() => parseTtl('soon')).toThrow(/bad TTL/);
  });

  it('extracts client IPs from socket addresses', () => {
    expect(clientIp('127.0.0.1:5000')).toBe('127.0.0.1');
    expect(clientIp('::ffff:10.1.2.3:80')).toBe('10.1.2.3');
    expect(clientIp('::1:4000')).toBe('::1');
    expect(clientIp('10.0.0.1')).toBe('10.0.0.1');
  });
});

describe('RTSP Digest on the server side', () => {
  it('matches the RFC 2617 §3.5 example and refuses a wrong secret', async () => {
    const { matchDigest, parseDigestAuthorization } = await import('../../../gateway/protocols/rtsp/auth.js');
    const header =
      'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"';
    const params = parseDigestAuthorization(header)!;
    expect(matchDigest(params, 'GET', 'testrealm@host.com', 'dcd98b7102dd2f0e8b11d0f600bfb0c093', ['nope', 'Circle Of Life'])).toBe('Circle Of Life');
    expect(matchDigest(params, 'GET', 'testrealm@host.com', 'dcd98b7102dd2f0e8b11d0f600bfb0c093', ['nope'])).toBeUndefined();
    expect(matchDigest(params, 'GET', 'testrealm@host.com', 'other-nonce', ['Circle Of Life'])).toBeUndefined();
  });
});

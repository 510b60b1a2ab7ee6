import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokensRouter } from '../../../gateway/api/tokens.js';
import { Authorizer } from '../../../gateway/auth/authorizer.js';
import { tokenCommand } from '../../../gateway/cli.js';
import { verifyToken } from '../../../gateway/auth/tokens.js';
import { configWith } from '../../../gateway/config.js';
import { InvalidPathPatternError } from '../../../gateway/core/errors.js';

const keys = { k1: 'unit-secret' };

describe('streamgate token: path patterns', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sg-token-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'auth:\n  keys:\n    k1: unit-secret\n');

  it('mints a token for a pattern it can match', () => {
    const out: string[] = [];
    tokenCommand(['--play', 'cams/*', '--config', file, '--json'], (l) => out.push(l));
    const { token, path } = JSON.parse(out[0]!);
    expect(path).toBe('cams/*');
    expect(verifyToken(keys, token, 'play', 'cams/gate1').ok).toBe(true);
  });

  for (const pattern of ['live/cam*', '**/cam1', 'live/../x']) {
    it(`refuses ${pattern} before reading the config`, () => {
      expect(() => tokenCommand(['--play', pattern, '--config', join(dir, 'missing.yaml')])).toThrow(InvalidPathPatternError);
      expect(() => tokenCommand(['--play', pattern])).toThrow(`invalid path pattern ${JSON.stringify(pattern)}`);
    });
  }
});

describe('POST /api/v1/tokens: path patterns', () => {
  let server: ReturnType<ReturnType<typeof express>['listen']>;
  let base: string;

  beforeAll(async () => {
    const config = configWith({ auth: { keys } });
    const app = express();
    app.use(tokensRouter(new Authorizer(config.auth, pino({ level: 'silent' })), () => ({ http: config.http.port, rtmp: config.rtmp.port, rtsp: config.rtsp.port })));
    server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const mint = (body: unknown) => fetch(`${base}/api/v1/tokens`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

  for (const path of ['live/cam1', 'cams/*', 'cams/**']) {
    it(`mints a play token for ${path}`, async () => {
      const res = await mint({ action: 'play', path });
      expect(res.status).toBe(201);
      const body = (await res.json()) as { token: string; path: string };
      expect(body.path).toBe(path);
    });
  }

  const bad: [string, string][] = [
    ['live/cam*', 'invalid path pattern "live/cam*": component "cam*" uses * inside a name'],
    ['**/cam1', 'invalid path pattern "**/cam1": ** may only be the last component'],
    ['live/../x', 'invalid path pattern "live/../x": component ".." is not a valid name'],
    ['live', 'invalid path pattern "live": a single component matches no stream path'],
  ];
  for (const [path, message] of bad) {
    it(`refuses ${path} with 400 naming the pattern`, async () => {
      const res = await mint({ action: 'play', path });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('SG_ERR_INVALID_REQUEST');
      expect(body.error.message).toContain(message);
      expect(body.error.message).toContain('allowed: ');
    });
  }

  it('still mints admin tokens for ** whatever path is given', async () => {
    const res = await mint({ action: 'admin', path: 'live/cam*' });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { path: string }).path).toBe('**');
  });
});

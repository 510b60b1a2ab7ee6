import { describe, expect, it } from 'vitest';
import { configWith } from '../../gateway/config.js';
import { changedSettings, Gateway } from '../../gateway/gateway.js';
import { memoryLogger } from '../helpers/gateway.js';

describe('changedSettings', () => {
  it.each([
    [{}, {}, []],
    [{ http: { port: 8080 } }, { http: { port: 9090 } }, ['http.port']],
    [{}, { log: { level: 'debug' }, hub: { maxReaderLagMs: 500 } }, ['log.level', 'hub.maxReaderLagMs']],
    [{}, { bind: '127.0.0.1' }, ['bind']],
    [{}, { sources: { 'cams/door': { url: 'rtsp://10.0.0.9/stream1' } } }, ['sources']],
    [{}, { auth: { limits: { maxConnections: 10 } } }, ['auth.limits']],
  ])('%j -> %j changes %j', (a, b, expected) => {
    expect(changedSettings(configWith(a), configWith(b))).toEqual(expected);
  });
});

describe('Gateway.reload', () => {
  it('applies auth, keeps a bad auth out, and names what needs a restart (a given logger keeps its level)', async () => {
    const { log, lines } = memoryLogger('info');
    const gw = new Gateway(configWith({ auth: { admin: { tokens: [{ token: 'a', role: 'admin' }] } } }), { logger: log });
    const ok = gw.reload(configWith({ log: { level: 'debug' }, auth: { admin: { tokens: [{ token: 'b', role: 'read' }] } } }));
    expect(ok).toEqual({ applied: ['auth'], failed: [], restartNeeded: ['log.level'] });
    expect(gw.auth.config.admin.tokens[0]!.token).toBe('b');
    const bad = gw.reload(configWith({ auth: { rules: [{ paths: '**', mode: 'token' }] } }));
    expect(bad.failed).toEqual(['auth']);
    expect(gw.auth.config.admin.tokens[0]!.token).toBe('b');
    expect(lines.some((l) => String(l.msg).startsWith('reload: auth not applied'))).toBe(true);
    await gw.stop();
  });
});

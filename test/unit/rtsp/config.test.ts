import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { rtspConfigSchema, sourcesConfigSchema } from '../../../gateway/protocols/rtsp/config.js';

describe('rtsp and sources config', () => {
  const file = parse(readFileSync(new URL('../../../config/default.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;

  it('config/default.yaml holds exactly the schema defaults', () => {
    expect(file.rtsp).toEqual(rtspConfigSchema.parse({}));
    expect(file.sources).toEqual(sourcesConfigSchema.parse(undefined));
  });

  it.each([
    { name: 'an odd UDP port', rtsp: { udpRtpPort: 8001 }, error: /must be even/ },
    { name: 'a backoff cap below its start', rtsp: { pull: { retryInitialMs: 5000, retryMaxMs: 1000 } }, error: /retryMaxMs must be >= pull.retryInitialMs/ },
    { name: 'an unknown transport', rtsp: { pull: { transport: 'sctp' } }, error: /tcp|udp/ },
  ])('rejects $name', ({ rtsp, error }) => {
    const r = rtspConfigSchema.safeParse(rtsp);
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.message).join('; ')).toMatch(error);
  });

  it.each([
    { name: 'a non-rtsp URL', sources: { 'cams/a': { url: 'http://x/y' } }, error: /expected rtsp:\/\// },
    { name: 'a path without app/name', sources: { cam: { url: 'rtsp://x/y' } }, error: /stream path like cams\/gate1/ },
    { name: 'an unknown key', sources: { 'cams/a': { url: 'rtsp://x/y', proto: 'tcp' } }, error: /proto/ },
  ])('rejects a source with $name', ({ sources, error }) => {
    const r = sourcesConfigSchema.safeParse(sources);
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error!.issues)).toMatch(error);
  });

  it('source defaults: on demand, transport and idle time from rtsp.pull', () => {
    expect(sourcesConfigSchema.parse({ 'cams/a': { url: 'rtsp://u:p@10.0.0.1/s' } })).toEqual({ 'cams/a': { url: 'rtsp://u:p@10.0.0.1/s', onDemand: true } });
  });
});

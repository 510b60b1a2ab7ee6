import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publish, type Publisher } from '../helpers/ffmpeg.js';
import { readFlv } from '../helpers/flv-client.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { hasTool } from '../helpers/tools.js';

type Sample = { name: string; labels: Record<string, string>; value: number };

/** Parses Prometheus text exposition format (0.0.4) strictly enough to catch a malformed line. */
function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.e+-]+|[Nn]a[Nn]|\+Inf|-Inf)( \d+)?$/.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return samples;
}

describe('GET /metrics for camera pulls', () => {
  it('shows a failing always-on source as retrying with reconnects', async () => {
    const g = await startGateway({
      rtsp: { pull: { retryInitialMs: 50, retryMaxMs: 100, requestTimeoutMs: 500 } },
      sources: { 'cams/dead': { url: 'rtsp://127.0.0.1:9/none', onDemand: false } },
    });
    try {
      const text = async () => parsePrometheus(await (await fetch(`${g.http}/metrics`)).text());
      await waitFor('reconnects counted', async () => (await text()).some((x) => x.name === 'streamgate_source_reconnects_total' && x.value >= 2), 10_000);
      const s = await text();
      const state = s.filter((x) => x.name === 'streamgate_source_state' && x.labels.path === 'cams/dead' && x.value === 1);
      expect(state.map((x) => x.labels.state)).toEqual([expect.stringMatching(/retrying|connecting/)]);
    } finally {
      await g.stop();
    }
  });
});

describe.skipIf(!hasTool('ffmpeg'))('GET /metrics', () => {
  let g: TestGateway;
  let pub: Publisher;

  beforeAll(async () => {
    g = await startGateway();
  });
  afterAll(async () => {
    await pub?.stop();
    await g?.stop();
  });

  async function scrape(): Promise<Sample[]> {
    const res = await fetch(`${g.http}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    return parsePrometheus(await res.text());
  }
  const value = (s: Sample[], name: string, labels: Record<string, string> = {}) =>
    s.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v)).reduce((a, x) => a + x.value, 0);

  it('parses as Prometheus text, with process metrics', async () => {
    const s = await scrape();
    expect(s.some((x) => x.name === 'streamgate_process_resident_memory_bytes')).toBe(true);
    expect(value(s, 'streamgate_streams')).toBe(0);
  });

  it('moves its counters when a stream is published and read', async () => {
    pub = publish(`${g.rtmp}/live/m1`, {});
    await waitFor('stream ready', () => g.gw.registry.get('live/m1')?.ready, 15_000);
    const before = await scrape();
    const cap = readFlv(`${g.http}/live/m1.flv`);
    await waitFor('frames', () => cap.tags.length > 30);
    const after = await scrape();
    expect(value(after, 'streamgate_streams', { state: 'publishing' })).toBe(1);
    expect(value(after, 'streamgate_readers', { protocol: 'flv' })).toBe(1);
    expect(value(after, 'streamgate_publisher_bytes_total', { path: 'live/m1' })).toBeGreaterThan(value(before, 'streamgate_publisher_bytes_total', { path: 'live/m1' }));
    expect(value(after, 'streamgate_publisher_frames_total', { path: 'live/m1', kind: 'video' })).toBeGreaterThan(0);
    expect(value(after, 'streamgate_reader_bytes_total', { path: 'live/m1' })).toBeGreaterThan(value(before, 'streamgate_reader_bytes_total', { path: 'live/m1' }));
    cap.close();
  });

  it('reports room participants and messages', async () => {
    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(`${g.ws}/api/v1/rooms/live/m1/ws?name=ops`);
    await new Promise((r) => ws.once('message', r));
    ws.send(JSON.stringify({ type: 'chat', text: 'hello' }));
    await waitFor('message counted', async () => value(await scrape(), 'streamgate_room_messages_total', { room: 'live/m1' }) >= 1);
    const s = await scrape();
    expect(value(s, 'streamgate_room_participants', { room: 'live/m1' })).toBe(1);
    ws.close();
  });

  it('counts refusals by protocol and reason', async () => {
    await fetch(`${g.http}/live/absent.flv`);
    const s = await scrape();
    expect(value(s, 'streamgate_refusals_total', { protocol: 'flv', reason: 'SG_ERR_STREAM_NOT_FOUND' })).toBe(1);
  });
});

import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeAmf0 } from '../../gateway/formats/amf0.js';
import { publish, type Publisher } from '../helpers/ffmpeg.js';
import { collectJsonLines, sleep, startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { hasRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { rawRtmp } from '../helpers/rtmp-client.js';
import { hasTool } from '../helpers/tools.js';

/**
 * An RTMP publish with the raw client: the onStatus code and its description. A started publish
 * is kept until `hold` resolves (then the connection closes and the path is unpublished).
 */
async function rtmpPublish(port: number, path: string, hold: Promise<unknown> = Promise.resolve()): Promise<{ code: string; text: string }> {
  const [app, name] = path.split('/') as [string, string];
  const c = await rawRtmp(port);
  try {
    c.command('connect', 1, { app, tcUrl: `rtmp://127.0.0.1:${port}/${app}` });
    c.command('createStream', 2, null);
    c.message(8, 20, 1, 0, encodeAmf0('publish', 3, null, name, 'live'));
    const deadline = Date.now() + 5000;
    for (;;) {
      const text = c.received().toString('latin1');
      const m = /NetStream\.Publish\.(Start|BadName)/.exec(text);
      if (m) {
        if (m[1] === 'Start') await hold;
        return { code: m[0], text };
      }
      if (Date.now() > deadline) return { code: 'timeout', text };
      await sleep(20);
    }
  } finally {
    c.close();
  }
}

/** An RTMP publish that stays connected (no media): its onStatus code and when the gateway closed it. */
async function heldPublish(port: number, path: string): Promise<{ code: string; closed: Promise<void>; close: () => void }> {
  const [app, name] = path.split('/') as [string, string];
  const c = await rawRtmp(port);
  c.command('connect', 1, { app, tcUrl: `rtmp://127.0.0.1:${port}/${app}` });
  c.command('createStream', 2, null);
  c.message(8, 20, 1, 0, encodeAmf0('publish', 3, null, name, 'live'));
  const code = await waitFor('onStatus', () => /NetStream\.Publish\.(Start|BadName)/.exec(c.received().toString('latin1'))?.[0], 5000, 20);
  return { code, closed: c.closed, close: () => c.close() };
}

describe.skipIf(!hasTool('ffmpeg'))('one publisher per path across cluster.workers: 2', () => {
  let child: ChildProcessByStdio<null, Readable, Readable>;
  const lines: Record<string, any>[] = [];
  let pub: Publisher | undefined;
  let rtmpPort = 0;
  let privates: string[] = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-one-publisher-'));
    const file = join(dir, 'workers.yaml');
    writeFileSync(file, `bind: 127.0.0.1\ndataDir: ${dir}\nlog:\n  level: info\n  format: json\nhttp:\n  port: 0\nrtmp:\n  port: 0\nrtsp:\n  enabled: false\nsrt:\n  enabled: false\nwebrtc:\n  udpPort: 0\nhub:\n  takeoverPaths: ['take/**']\ncluster:\n  workers: 2\n`);
    child = spawn(process.execPath, ['dist/gateway/main.js', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    collectJsonLines(child.stdout, lines);
    await waitFor('two workers listening', () => ['http', 'http-private', 'rtmp'].every((name) => lines.filter((l) => l.listener === name).length === 2), 20_000);
    rtmpPort = lines.find((l) => l.listener === 'rtmp')!.port;
    privates = lines.filter((l) => l.listener === 'http-private').map((l) => `http://127.0.0.1:${l.port}`);
  }, 30_000);

  afterAll(async () => {
    await pub?.stop();
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });

  /** Each worker's own entry for `path` (its private listener answers for itself). */
  const entries = (path: string) => Promise.all(privates.map(async (base) => (await fetch(`${base}/api/v1/streams/${path}?local=1`).then((r) => (r.status === 200 ? r.json() : undefined))) as any));

  it('refuses a second RTMP publisher of a path that landed on the other worker, and keeps the first', async () => {
    pub = publish(`rtmp://127.0.0.1:${rtmpPort}/live/x`, { size: '160x120', fps: 25, audio: 'none' });
    await waitFor('live/x ready on a worker', async () => (await entries('live/x')).some((e) => e?.ready), 15_000);
    const owner = (await entries('live/x')).findIndex((e) => e?.publisher?.protocol === 'rtmp');
    expect(owner).toBeGreaterThanOrEqual(0);
    // Round-robin alternates the workers: of four attempts in a row, some reach the other one.
    const attempts = [];
    for (let i = 0; i < 4; i++) attempts.push(await rtmpPublish(rtmpPort, 'live/x'));
    for (const a of attempts) expect(a.code).toBe('NetStream.Publish.BadName');
    const acrossWorkers = attempts.filter((a) => a.text.includes('on another worker of this box'));
    expect(acrossWorkers.length).toBeGreaterThanOrEqual(1);
    // The first publisher keeps the path, on the same worker.
    const after = await entries('live/x');
    expect(after[owner]).toMatchObject({ ready: true, publisher: { protocol: 'rtmp' } });
    expect(after.filter((e) => e?.publisher?.protocol === 'rtmp')).toHaveLength(1);
  }, 40_000);

  it('lets another worker publish the path once the first publisher stopped', async () => {
    await pub!.stop();
    pub = undefined;
    await waitFor('live/x unpublished', async () => (await entries('live/x')).every((e) => !e?.publisher), 10_000);
    // Two publishes in a row: round-robin gives them to both workers; each is accepted in turn.
    for (let i = 0; i < 2; i++) {
      expect((await rtmpPublish(rtmpPort, 'live/x', sleep(300))).code).toBe('NetStream.Publish.Start');
      await waitFor('live/x unpublished again', async () => (await entries('live/x')).every((e) => !e?.publisher), 10_000);
    }
  }, 30_000);

  it('on a takeover path a publisher on the other worker takes the path and the previous one is closed', async () => {
    const owners: number[] = [];
    let previous: Awaited<ReturnType<typeof heldPublish>> | undefined;
    try {
      // Successive connections alternate the workers: each publisher takes over from the one before.
      for (let i = 0; i < 3; i++) {
        const next = await heldPublish(rtmpPort, 'take/x');
        expect(next.code).toBe('NetStream.Publish.Start');
        if (previous) await previous.closed;
        const now = await entries('take/x');
        expect(now.filter((e) => e?.publisher?.protocol === 'rtmp')).toHaveLength(1);
        owners.push(now.findIndex((e) => e?.publisher?.protocol === 'rtmp'));
        previous = next;
      }
    } finally {
      previous?.close();
    }
    expect(new Set(owners).size).toBe(2);
  }, 30_000);
});

describe.skipIf(!hasTool('ffmpeg') || !hasRedis())('one publisher per path across nodes on one Redis', () => {
  let redis: TestRedis;
  let a: TestGateway;
  let b: TestGateway;
  let probe: Redis;
  const pubs: Publisher[] = [];
  const TTL_MS = 1500;

  beforeAll(async () => {
    redis = await startRedis();
    const cluster = { redis: { url: redis.url }, directory: { ttlMs: TTL_MS, refreshMs: 300 } };
    a = await startGateway({ cluster: { ...cluster, nodeId: 'node-a' } });
    b = await startGateway({ cluster: { ...cluster, nodeId: 'node-b' } });
    probe = new Redis(redis.url);
    probe.on('error', () => {}); // redis-server is stopped on purpose below
    await waitFor('both nodes on Redis', () => a.gw.redis!.ready && b.gw.redis!.ready, 10_000);
  }, 30_000);

  afterAll(async () => {
    for (const p of pubs) await p.stop();
    probe?.disconnect();
    await a?.stop();
    await b?.stop();
    await redis?.stop();
  });

  const rtmpPort = (g: TestGateway) => Number(new URL(g.rtmp).port);

  it('refuses a publisher on the second node with the hub conflict code, and accepts it once the first stopped', async () => {
    const first = publish(`${a.rtmp}/live/x`, { size: '160x120', fps: 25, audio: 'none' });
    pubs.push(first);
    await waitFor('live/x ready on node a', () => a.gw.registry.get('live/x')?.ready, 15_000);
    const refused = await rtmpPublish(rtmpPort(b), 'live/x');
    expect(refused.code).toBe('NetStream.Publish.BadName');
    expect(refused.text).toContain('already has a publisher on node node-a');
    expect(b.gw.registry.get('live/x')?.publisher).toBeUndefined();
    // Same code as a second publisher on one node: metrics count SG_ERR_PATH_BUSY.
    expect(await (await fetch(`${b.http}/metrics`)).text()).toMatch(/^streamgate_refusals_total\{protocol="rtmp",reason="SG_ERR_PATH_BUSY"\} 1$/m);
    // Node a's entry lives on through its refreshes (several TTLs).
    await sleep(TTL_MS * 2);
    expect(JSON.parse((await probe.get('streamgate:stream:live/x'))!)).toMatchObject({ node: 'node-a' });
    await first.stop();
    await waitFor('the directory entry deleted', async () => (await probe.get('streamgate:stream:live/x')) === null, 5000);
    const second = await rtmpPublish(rtmpPort(b), 'live/x', waitFor('node b in the directory', async () => JSON.parse((await probe.get('streamgate:stream:live/x')) ?? '{}').node === 'node-b', 5000));
    expect(second.code).toBe('NetStream.Publish.Start');
  }, 40_000);

  it("a crashed node's path becomes publishable when its entry expires (ttlMs)", async () => {
    // What a node killed with -9 leaves behind: an entry nobody refreshes.
    await probe.set('streamgate:stream:live/crashed', JSON.stringify({ node: 'node-dead', url: 'http://127.0.0.1:9', since: Date.now() }), 'PX', TTL_MS);
    expect((await rtmpPublish(rtmpPort(b), 'live/crashed')).code).toBe('NetStream.Publish.BadName');
    await waitFor('the entry expired', async () => (await probe.get('streamgate:stream:live/crashed')) === null, TTL_MS * 3);
    expect((await rtmpPublish(rtmpPort(b), 'live/crashed')).code).toBe('NetStream.Publish.Start');
  }, 20_000);

  it('with Redis away a publish is allowed locally (one warning) and registered when Redis is back', async () => {
    await redis.stop();
    await waitFor('node b sees Redis away', () => !b.gw.redis!.ready, 10_000);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const result = rtmpPublish(rtmpPort(b), 'live/away', held);
    await waitFor('published on node b', () => b.gw.registry.get('live/away')?.publisher, 10_000);
    expect(b.logs.filter((l) => String(l.msg).startsWith('stream directory (Redis) unavailable'))).toHaveLength(1);
    await redis.restart();
    probe.disconnect();
    probe = new Redis(redis.url);
    probe.on('error', () => {});
    await waitFor('live/away registered again', async () => JSON.parse((await probe.get('streamgate:stream:live/away')) ?? '{}').node === 'node-b', 10_000);
    release();
    expect((await result).code).toBe('NetStream.Publish.Start');
  }, 40_000);
});

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probe, publish, type Publisher } from '../helpers/ffmpeg.js';
import { isKeyframeTag, readFlv, videoTags } from '../helpers/flv-client.js';
import { sleep, startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { hasRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { hasTool } from '../helpers/tools.js';

const SECRET = 'relay-secret-for-tests';

async function json(url: string): Promise<any> {
  const res = await fetch(url);
  return res.json();
}

describe.skipIf(!hasTool('ffmpeg') || !hasRedis())('origin + edge over a Redis directory (HTTP-FLV relay)', () => {
  let redis: TestRedis;
  let origin: TestGateway;
  let edge: TestGateway;
  let pub: Publisher;
  let securePub: Publisher;
  let client: Redis;

  beforeAll(async () => {
    redis = await startRedis();
    origin = await startGateway({
      cluster: { redis: { url: redis.url }, relaySecret: SECRET, directory: { ttlMs: 3000, refreshMs: 500 } },
      auth: { rules: [{ paths: 'secure/*', mode: 'keys', publishKey: 'pub-key', playKey: 'play-key' }] },
      hub: { publisherGraceMs: 1000 },
    });
    edge = await startGateway({
      cluster: { redis: { url: redis.url }, relaySecret: SECRET, edge: { enabled: true, idleCloseMs: 1000, checkCacheMs: 0 } },
      hub: { publisherGraceMs: 300, readyTimeoutMs: 2000 },
      // A camera of the edge's own (unreachable here): its path is served locally, never asked of the origin.
      sources: { 'local/cam': { url: 'rtsp://127.0.0.1:1/none' } },
    });
    client = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: (n) => Math.min(n * 100, 1000) });
    client.on('error', () => {});
    pub = publish(`${origin.rtmp}/live/cam1`, { size: '320x240', fps: 25, gop: 25 });
    securePub = publish(`${origin.rtmp}/secure/cam2?token=pub-key`, { size: '320x240', fps: 25, gop: 25, audio: 'none' });
    await waitFor('origin streams ready', () => origin.gw.registry.get('live/cam1')?.ready && origin.gw.registry.get('secure/cam2')?.ready, 15_000);
  }, 30_000);

  afterAll(async () => {
    client?.disconnect();
    await pub?.stop();
    await securePub?.stop();
    await edge?.stop();
    await origin?.stop();
    await redis?.stop();
  });

  it('the origin registers its published paths in the directory with its URL', async () => {
    const raw = await waitFor('directory entry', () => client.get('streamgate:stream:live/cam1'), 5000);
    const entry = JSON.parse(raw);
    expect(entry).toMatchObject({ node: origin.gw.nodeId, url: origin.http });
    const ttl = await client.pttl('streamgate:stream:live/cam1');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(3000);
    expect((await json(`${origin.http}/api/v1/cluster`)).directory).toEqual(expect.arrayContaining(['live/cam1', 'secure/cam2']));
  });

  it('a reader on the edge gets real H.264 + AAC FLV pulled once from the origin', async () => {
    const a = readFlv(`${edge.http}/live/cam1.flv`);
    const b = readFlv(`${edge.ws}/live/cam1.flv`);
    try {
      expect(await a.status).toBe(200);
      expect(await b.status).toBe(101);
      await waitFor('keyframes on both edge readers', () => videoTags(a.tags).filter(isKeyframeTag).length >= 2 && videoTags(b.tags).filter(isKeyframeTag).length >= 2, 10_000);
      const s = (await json(`${edge.http}/api/v1/streams/live/cam1`)) as any;
      expect(s.publisher.protocol).toBe('edge-pull');
      expect(s.video).toMatchObject({ codec: 'H264', width: 320, height: 240 });
      expect(s.audio).toMatchObject({ codec: 'AAC' });
      // Two readers on the edge, one relay on the origin.
      expect(s.readers.count).toBe(2);
      expect(origin.gw.registry.get('live/cam1')!.readers.size).toBe(1);
      const probed = await probe(`${edge.http}/live/cam1.flv`, 2);
      expect(probed.streams.map((x) => x.codec_name).sort()).toEqual(['aac', 'h264']);
      expect(probed.packets.filter((p) => p.codec_type === 'video').length).toBeGreaterThan(20);
      // A relay is not an origin: the directory still names the origin only.
      expect(JSON.parse((await client.get('streamgate:stream:live/cam1'))!).node).toBe(origin.gw.nodeId);
    } finally {
      a.close();
      b.close();
    }
  }, 30_000);

  it('an RTMP reader on the edge plays the relayed path too (every protocol goes through admission)', async () => {
    const probed = await probe(`${edge.rtmp}/live/cam1`, 1);
    expect(probed.streams.map((x) => x.codec_name).sort()).toEqual(['aac', 'h264']);
  }, 20_000);

  it('the edge stops pulling when its last reader left for edge.idleCloseMs', async () => {
    await waitFor('edge relay closed', () => !edge.gw.registry.get('live/cam1') && origin.gw.registry.get('live/cam1')!.readers.size === 0, 8000);
    expect((await json(`${edge.http}/api/v1/cluster`)).edge.relays).toEqual([]);
    // And pulls again for the next reader.
    const c = readFlv(`${edge.http}/live/cam1.flv`);
    try {
      expect(await c.status).toBe(200);
      await waitFor('keyframe after idle close', () => videoTags(c.tags).some(isKeyframeTag), 10_000);
    } finally {
      c.close();
    }
  }, 20_000);

  it('the edge refuses a reader the origin would refuse, and plays one the origin accepts', async () => {
    expect((await fetch(`${edge.http}/secure/cam2.flv`)).status).toBe(401);
    expect((await fetch(`${edge.http}/secure/cam2.flv?token=wrong`)).status).toBe(403);
    expect((await fetch(`${origin.http}/secure/cam2.flv?token=wrong`)).status).toBe(403);
    const ok = readFlv(`${edge.http}/secure/cam2.flv?token=play-key`);
    try {
      expect(await ok.status).toBe(200);
      await waitFor('secure keyframe', () => videoTags(ok.tags).some(isKeyframeTag), 10_000);
      // A second reader with a bad token is refused while the relay runs.
      expect((await fetch(`${edge.http}/secure/cam2.flv?token=wrong`)).status).toBe(403);
    } finally {
      ok.close();
    }
  }, 20_000);

  it('when the origin stream ends for good, the edge ends it for its readers', async () => {
    const short = publish(`${origin.rtmp}/live/gone`, { size: '160x120', fps: 25, gop: 25, audio: 'none' });
    try {
      await waitFor('origin live/gone ready', () => origin.gw.registry.get('live/gone')?.ready, 15_000);
      const r = readFlv(`${edge.http}/live/gone.flv`);
      expect(await r.status).toBe(200);
      await waitFor('edge playing live/gone', () => videoTags(r.tags).some(isKeyframeTag), 10_000);
      const stoppedAt = Date.now();
      await short.stop();
      await Promise.race([r.ended, sleep(8000)]);
      const endedAfter = Date.now() - stoppedAt;
      // Origin grace (1 s) + one reconnect that finds no origin (0.5 s) + the edge's grace (0.3 s).
      expect(endedAfter).toBeLessThan(6000);
      expect(edge.gw.registry.get('live/gone')).toBeUndefined();
    } finally {
      await short.stop();
    }
  }, 30_000);

  it('a path the edge serves itself (a camera source) is not relayed nor checked with the origin', async () => {
    const res = await fetch(`${edge.http}/local/cam.flv`);
    expect(res.status).toBe(502);
    expect(((await res.json()) as any).error.code).toBe('SG_ERR_SOURCE_UNAVAILABLE');
  }, 15_000);

  it('without a relay secret the edge pulls with the token of a reader the origin accepted', async () => {
    const plain = await startGateway({ cluster: { redis: { url: redis.url }, edge: { enabled: true, idleCloseMs: 500 } } });
    try {
      // Until its Redis connection is up the edge answers 503 (directory unreachable), rightly;
      // under CI load that can outlast start().
      await waitFor('the edge connected to Redis', async () => ((await json(`${plain.http}/api/v1/cluster`)) as any).redis.connected, 10_000);
      expect((await fetch(`${plain.http}/secure/cam2.flv?token=wrong`)).status).toBe(403);
      const r = readFlv(`${plain.http}/secure/cam2.flv?token=play-key`);
      try {
        expect(await r.status).toBe(200);
        await waitFor('keyframe through a forwarded token', () => videoTags(r.tags).some(isKeyframeTag), 10_000);
        const relay = ((await json(`${plain.http}/api/v1/cluster`)) as any).edge.relays[0];
        expect(relay.url).toContain('token=***');
      } finally {
        r.close();
      }
    } finally {
      await plain.stop();
    }
  }, 20_000);

  it('a forged relay grant is refused by the origin', async () => {
    expect((await fetch(`${origin.http}/secure/cam2.flv?sg_relay=${Date.now() + 30_000}.AAAA`)).status).toBe(403);
  });

  it('a path nobody publishes in the cluster is 404 on the edge', async () => {
    const res = await fetch(`${edge.http}/live/nobody.flv`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as any).error.code).toBe('SG_ERR_STREAM_NOT_FOUND');
  });

  it('Redis going away mid-stream breaks nothing; the directory is written again when it returns', async () => {
    const r = readFlv(`${edge.http}/live/cam1.flv`);
    try {
      expect(await r.status).toBe(200);
      await waitFor('edge playing', () => videoTags(r.tags).some(isKeyframeTag), 10_000);
      await redis.stop();
      const before = r.tags.length;
      await sleep(2000);
      // Still playing through the relay, both nodes answer.
      expect(r.tags.length).toBeGreaterThan(before + 40);
      expect((await fetch(`${origin.http}/healthz`)).status).toBe(200);
      expect((await json(`${edge.http}/api/v1/cluster`)).redis.connected).toBe(false);
      // A new path cannot be located while the directory is away: an answer, not a hang or a crash.
      const refused = await fetch(`${edge.http}/secure/cam2.flv?token=play-key`);
      expect(refused.status).toBe(503);
      expect(((await refused.json()) as any).error.code).toBe('SG_ERR_ORIGIN_UNAVAILABLE');
      await redis.restart();
      // The restarted Redis is empty: the origin registers its live paths again.
      await waitFor('directory re-registered', () => client.get('streamgate:stream:live/cam1').catch(() => null), 10_000);
      expect(JSON.parse((await client.get('streamgate:stream:secure/cam2'))!).node).toBe(origin.gw.nodeId);
      const after = r.tags.length;
      await sleep(500);
      expect(r.tags.length).toBeGreaterThan(after);
    } finally {
      r.close();
    }
  }, 30_000);
});

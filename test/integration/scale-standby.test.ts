import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publish, type Publisher } from '../helpers/ffmpeg.js';
import { collectJsonLines, startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { hasRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { hasTool } from '../helpers/tools.js';

const LEASE_MS = 2000;

/** The built gateway as a child process, with its JSON log lines. */
function spawnGateway(file: string): { child: ChildProcessByStdio<null, Readable, Readable>; lines: Record<string, any>[] } {
  const child = spawn(process.execPath, ['dist/gateway/main.js', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, any>[] = [];
  collectJsonLines(child.stdout, lines);
  return { child, lines };
}

async function kill(child: ChildProcessByStdio<null, Readable, Readable> | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/**
 * Hot standby: the "camera" is a gateway serving RTSP play of an ffmpeg test pattern; the primary
 * (a child process, so it can be kill -9'd) and the standby (in-process) share one config with an
 * always-on source of it and cluster.standby on one redis-server.
 */
describe.skipIf(!hasTool('ffmpeg') || !hasRedis())('hot standby: camera pull lease in Redis', () => {
  let redis: TestRedis;
  let camera: TestGateway;
  let pub: Publisher;
  let primary: ChildProcessByStdio<null, Readable, Readable>;
  let primaryLines: Record<string, any>[] = [];
  let third: ChildProcessByStdio<null, Readable, Readable> | undefined;
  let file = '';
  let standby: TestGateway;
  let settings: Record<string, any>;

  beforeAll(async () => {
    redis = await startRedis();
    camera = await startGateway();
    pub = publish(`${camera.rtmp}/live/cam`, { size: '320x240', fps: 25, gop: 12, audio: 'none' });
    await waitFor('camera ready', () => camera.gw.registry.get('live/cam')?.ready, 15_000);
    settings = {
      sources: { 'cams/door': { url: `${camera.rtsp}/live/cam`, onDemand: false } },
      cluster: { redis: { url: redis.url }, standby: { enabled: true, leaseMs: LEASE_MS } },
    };
    const dir = mkdtempSync(join(tmpdir(), 'sg-standby-'));
    file = join(dir, 'primary.json');
    // JSON is YAML: the same settings as the standby's.
    writeFileSync(file, JSON.stringify({ ...settings, bind: '127.0.0.1', dataDir: dir, log: { level: 'info', format: 'json' }, http: { port: 0 }, rtmp: { port: 0 }, rtsp: { port: 0 }, srt: { enabled: false } }));
    ({ child: primary, lines: primaryLines } = spawnGateway(file));
    await waitFor('primary pulling', () => primaryLines.some((l) => /^pulling /.test(l.msg ?? '')), 15_000);
    standby = await startGateway(settings);
  }, 40_000);

  afterAll(async () => {
    await kill(primary);
    await kill(third);
    await standby?.stop();
    await pub?.stop();
    await camera?.stop();
    await redis?.stop();
  });

  it('only the lease holder pulls the camera; the standby waits and refuses readers', async () => {
    const http = `http://127.0.0.1:${primaryLines.find((l) => l.listener === 'http')!.port}`;
    const onPrimary = (await (await fetch(`${http}/api/v1/sources/cams/door`)).json()) as any;
    expect(onPrimary.state).toBe('running');
    const onStandby = (await (await fetch(`${standby.http}/api/v1/sources/cams/door`)).json()) as any;
    expect(onStandby.state).toBe('standby');
    expect(standby.gw.registry.get('cams/door')).toBeUndefined();
    // One RTSP reader on the camera: the primary's pull.
    expect(camera.gw.registry.get('live/cam')!.readers.size).toBe(1);
    expect((await fetch(`${standby.http}/cams/door.flv`)).status).toBe(502);
  });

  it('kill -9 of the primary: the standby pulls the camera within the lease time', async () => {
    const killedAt = Date.now();
    primary.kill('SIGKILL');
    await waitFor('standby pulling', () => standby.gw.registry.get('cams/door')?.ready, LEASE_MS * 3);
    const gapMs = Date.now() - killedAt;
    process.stderr.write(`hot standby: kill -9 to first keyframe on the standby ${gapMs} ms (leaseMs ${LEASE_MS})\n`);
    // Lease expiry (<= leaseMs) + one try (leaseMs / 3) + RTSP connect and the first keyframe (GOP 0.5 s).
    expect(gapMs).toBeLessThan(LEASE_MS + LEASE_MS / 3 + 1500);
    const info = (await (await fetch(`${standby.http}/api/v1/sources/cams/door`)).json()) as any;
    expect(info.state).toBe('running');
  }, 20_000);

  it('a clean stop releases the lease: another gateway takes over within leaseMs / 3', async () => {
    const next = spawnGateway(file);
    third = next.child;
    await waitFor('third gateway up', () => next.lines.some((l) => l.listener === 'http'), 15_000);
    const http = `http://127.0.0.1:${next.lines.find((l) => l.listener === 'http')!.port}`;
    await waitFor('third gateway standing by', async () => ((await (await fetch(`${http}/api/v1/sources/cams/door`)).json()) as any).state === 'standby', 5000);
    const stoppedAt = Date.now();
    await standby.stop();
    await waitFor('third gateway pulling', async () => {
      const res = await fetch(`${http}/api/v1/streams/cams/door`);
      return res.status === 200 && ((await res.json()) as any).ready;
    }, LEASE_MS * 3);
    const gapMs = Date.now() - stoppedAt;
    process.stderr.write(`hot standby: clean stop to first keyframe on the other gateway ${gapMs} ms (leaseMs ${LEASE_MS})\n`);
    expect(gapMs).toBeLessThan(LEASE_MS / 3 + 1500);
  }, 30_000);
});

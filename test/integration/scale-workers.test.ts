import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publish, type Publisher } from '../helpers/ffmpeg.js';
import { isKeyframeTag, readFlv, videoTags, type FlvCapture } from '../helpers/flv-client.js';
import { collectJsonLines, startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { RoomClient } from '../helpers/rooms-client.js';
import { hasTool } from '../helpers/tools.js';

/** The built gateway (dist/, built by npm test) with cluster.workers: 2, and its JSON log lines. */
describe.skipIf(!hasTool('ffmpeg'))('cluster.workers: 2 on one box (node:cluster, loopback relay)', () => {
  let child: ChildProcessByStdio<null, Readable, Readable>;
  const lines: Record<string, any>[] = [];
  let pub: Publisher | undefined;
  const readers: FlvCapture[] = [];
  let http = '';
  let camera: TestGateway;
  let cameraPub: Publisher | undefined;

  beforeAll(async () => {
    // An RTSP "camera": a gateway serving RTSP play of a test pattern.
    camera = await startGateway();
    cameraPub = publish(`${camera.rtmp}/live/cam`, { size: '160x120', fps: 25, gop: 12, audio: 'none' });
    await waitFor('camera ready', () => camera.gw.registry.get('live/cam')?.ready, 15_000);
    const dir = mkdtempSync(join(tmpdir(), 'sg-workers-'));
    const file = join(dir, 'workers.yaml');
    writeFileSync(file, `bind: 127.0.0.1\ndataDir: ${dir}\nlog:\n  level: info\n  format: json\nhttp:\n  port: 0\nrtmp:\n  port: 0\nrtsp:\n  enabled: false\nsrt:\n  enabled: false\ncluster:\n  workers: 2\nsources:\n  cams/door:\n    url: ${camera.rtsp}/live/cam\n    onDemand: false\n`);
    child = spawn(process.execPath, ['dist/gateway/main.js', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    collectJsonLines(child.stdout, lines);
    await waitFor('two workers listening', () => ['http', 'http-private', 'rtmp'].every((name) => lines.filter((l) => l.listener === name).length === 2), 20_000);
  }, 30_000);

  afterAll(async () => {
    for (const r of readers) r.close();
    await pub?.stop();
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await cameraPub?.stop();
    await camera?.stop();
  });

  it('shares one HTTP and RTMP port, ingests once and serves readers on both workers', async () => {
    const httpPort = lines.find((l) => l.listener === 'http')!.port;
    const rtmpPort = lines.find((l) => l.listener === 'rtmp')!.port;
    // Both workers got the same shared ports.
    expect(new Set(lines.filter((l) => l.listener === 'http').map((l) => l.port)).size).toBe(1);
    http = `http://127.0.0.1:${httpPort}`;
    const privates = lines.filter((l) => l.listener === 'http-private').map((l) => `http://127.0.0.1:${l.port}`);
    pub = publish(`rtmp://127.0.0.1:${rtmpPort}/live/cam1`, { size: '320x240', fps: 25, gop: 25 });
    const entryOn = async (base: string) => {
      const res = await fetch(`${base}/api/v1/streams/live/cam1?local=1`);
      return res.status === 200 ? ((await res.json()) as any) : undefined;
    };
    await waitFor('stream ready on a worker', async () => (await Promise.all(privates.map(entryOn))).some((e) => e?.ready), 15_000);
    // Round-robin hands successive connections to alternating workers.
    for (let i = 0; i < 4; i++) readers.push(readFlv(`${http}/live/cam1.flv`));
    for (const r of readers) expect(await r.status).toBe(200);
    await waitFor('keyframes on every reader', () => readers.every((r) => videoTags(r.tags).some(isKeyframeTag)), 15_000);
    const entries = await Promise.all(privates.map(entryOn));
    const owner = entries.find((e) => e?.publisher?.protocol === 'rtmp');
    const relay = entries.find((e) => e?.publisher?.protocol === 'edge-pull');
    expect(owner).toBeDefined();
    expect(relay).toBeDefined();
    expect(relay.publisher.remoteAddress).toMatch(/^127\.0\.0\.1:/);
    // Readers on both processes; the owner counts its own readers plus one relay.
    expect(relay.readers.count).toBeGreaterThanOrEqual(1);
    expect(owner.readers.count + relay.readers.count).toBe(readers.length + 1);
  }, 40_000);

  it('GET /api/v1/streams and /metrics on the shared port show the whole box', async () => {
    for (let i = 0; i < 2; i++) {
      // Whichever worker answers, the answer is the same.
      const { streams } = (await (await fetch(`${http}/api/v1/streams`)).json()) as { streams: any[] };
      const cam1 = streams.filter((s) => s.path === 'live/cam1');
      expect(cam1).toHaveLength(1);
      expect(cam1[0]).toMatchObject({ path: 'live/cam1', publisher: { protocol: 'rtmp' }, readers: { count: readers.length } });
      expect(cam1[0].workers).toHaveLength(2);
    }
    // The metrics are the sum over the workers' own views (?local=1 on each private port).
    const privates = lines.filter((l) => l.listener === 'http-private').map((l) => `http://127.0.0.1:${l.port}`);
    let local = 0;
    for (const base of privates) local += ((await (await fetch(`${base}/api/v1/streams?local=1`)).json()) as { streams: unknown[] }).streams.length;
    const text = await (await fetch(`${http}/metrics`)).text();
    expect(text).toMatch(new RegExp(`^streamgate_streams(\\{[^}]*\\})? ${local}$`, 'm'));
    expect(text).toMatch(/^streamgate_readers\{[^}]*\} \d+$/m);
  }, 20_000);

  it('a camera source is pulled once for the box and read on every worker', async () => {
    const cams: FlvCapture[] = [];
    try {
      for (let i = 0; i < 4; i++) cams.push(readFlv(`${http}/cams/door.flv`));
      for (const r of cams) expect(await r.status).toBe(200);
      await waitFor('keyframes from the camera on every reader', () => cams.every((r) => videoTags(r.tags).some(isKeyframeTag)), 15_000);
      // One RTSP connection to the camera, however many workers read it.
      expect(camera.gw.registry.get('live/cam')!.readers.size).toBe(1);
      const { streams } = (await (await fetch(`${http}/api/v1/streams`)).json()) as { streams: any[] };
      expect(streams.find((s) => s.path === 'cams/door')).toMatchObject({ publisher: { protocol: 'rtsp-pull' }, readers: { count: 4 } });
    } finally {
      for (const r of cams) r.close();
    }
  }, 30_000);

  it('a worker killed with -9 is restarted; the other worker keeps its streams playing', async () => {
    const privates = lines.filter((l) => l.listener === 'http-private').map((l) => `http://127.0.0.1:${l.port}`);
    const info = await Promise.all(privates.map(async (base) => ({ base, cluster: (await (await fetch(`${base}/api/v1/cluster`)).json()) as any, stream: await fetch(`${base}/api/v1/streams/live/cam1?local=1`).then((r) => (r.status === 200 ? r.json() : undefined)) as any })));
    const owner = info.find((i) => i.stream?.publisher?.protocol === 'rtmp')!;
    const other = info.find((i) => i !== owner)!;
    process.kill(other.cluster.worker.pid, 'SIGKILL');
    await waitFor('worker restarted', () => lines.filter((l) => l.listener === 'http-private').length === 3, 15_000);
    const { streams } = (await (await fetch(`${owner.base}/api/v1/streams?local=1`)).json()) as { streams: any[] };
    expect(streams.find((x) => x.path === 'live/cam1')).toMatchObject({ ready: true, publisher: { protocol: 'rtmp' } });
    const after: FlvCapture[] = [];
    try {
      for (let i = 0; i < 2; i++) after.push(readFlv(`${http}/live/cam1.flv`));
      await waitFor('keyframes after the restart', () => after.every((r) => videoTags(r.tags).some(isKeyframeTag)), 15_000);
    } finally {
      for (const r of after) r.close();
    }
  }, 40_000);

  it('a room is shared by participants whose WebSockets reached different workers (IPC bus)', async () => {
    const living: string[] = [];
    for (const l of lines.filter((x) => x.listener === 'http-private')) {
      const base = `127.0.0.1:${l.port}`;
      if (await fetch(`http://${base}/healthz`).then((r) => r.ok, () => false)) living.push(`ws://${base}`);
    }
    expect(living).toHaveLength(2);
    const a = await RoomClient.connect(living[0]!, 'room/box', 'ann');
    const b = await RoomClient.connect(living[1]!, 'room/box', 'ben');
    try {
      await a.next('join', (f) => f.participant.name === 'ben');
      b.send({ type: 'chat', text: 'across workers' });
      expect((await a.next('chat', (f) => f.text === 'across workers')).from.name).toBe('ben');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, 20_000);
});

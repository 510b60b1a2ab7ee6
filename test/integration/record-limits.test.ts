import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hasTool } from '../helpers/tools.js';
import { isKeyframeTag, readFlv, videoTags } from '../helpers/flv-client.js';
import { probe, publish, type Publisher } from '../helpers/ffmpeg.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';

const tools = hasTool('ffmpeg') && hasTool('ffprobe');

interface Listing {
  recordings: { id: string; start: string; size: number; recording: boolean }[];
  sessions: { path: string; state: string; recording: boolean; error: { code: string; message: string } | null }[];
}

async function listing(gw: TestGateway, path: string): Promise<Listing> {
  return (await (await fetch(`${gw.http}/api/v1/recordings?path=${path}`)).json()) as Listing;
}

describe.skipIf(!tools)('recording limits', () => {
  let gw: TestGateway | undefined;
  let pub: Publisher | undefined;
  let dir: string | undefined;

  afterEach(async () => {
    await pub?.stop();
    await gw?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('retention deletes the oldest files first once a path exceeds maxBytes', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sg-ret-'));
    const maxBytes = 300_000;
    gw = await startGateway({ dataDir: dir, record: { rules: { 'ret/*': { segment: '2s', maxBytes } } } });
    pub = publish(`${gw.rtmp}/ret/cam`, { fps: 25, gop: 25, duration: 14, realtime: false, bitrate: '500k' });
    expect(await pub.exited, pub.stderr()).toBe(0);
    const kept = await waitFor('recording finished', async () => {
      const l = await listing(gw!, 'ret/cam');
      return l.sessions[0]?.state === 'stopped' && l.recordings.every((r) => !r.recording) ? l.recordings : undefined;
    }, 20_000, 200);
    const deleted = gw.logs.filter((l) => String(l.msg).startsWith('retention deleted')).flatMap((l) => l.files as string[]);
    expect(deleted.length).toBeGreaterThan(0);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.reduce((n, r) => n + r.size, 0)).toBeLessThanOrEqual(maxBytes);
    // Every deleted file started before every kept one, and is gone from disk.
    const stamp = (id: string) => id.slice(id.lastIndexOf('/') + 1);
    const oldestKept = kept.map((r) => stamp(r.id)).sort()[0]!;
    for (const id of deleted) {
      expect(stamp(id) < oldestKept).toBe(true);
      expect(existsSync(join(dir, 'recordings', id))).toBe(false);
    }
    // The newest file is kept and still valid.
    expect((await probe(join(dir, 'recordings', kept[kept.length - 1]!.id), 5)).streams).toHaveLength(2);
  });

  it('stops recording with SG_ERR_RECORD_DISK_FULL when the disk quota is reached while the live stream keeps flowing', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sg-full-'));
    gw = await startGateway({ dataDir: dir, record: { diskQuota: 150_000, rules: { 'full/*': { segment: '60s' } } } });
    pub = publish(`${gw.rtmp}/full/cam`, { fps: 25, gop: 25, duration: 40, bitrate: '500k' });
    const session = await waitFor('recording stopped by the quota', async () => (await listing(gw!, 'full/cam')).sessions.find((s) => s.error), 20_000, 200);
    expect(session.error!.code).toBe('SG_ERR_RECORD_DISK_FULL');
    expect(session.recording).toBe(false);
    expect(gw.logs.some((l) => l.level === 50 && String(l.msg).includes('record.diskQuota'))).toBe(true);
    // The file written so far stays valid and within the quota.
    const [file] = (await listing(gw, 'full/cam')).recordings;
    expect(file!.size).toBeLessThanOrEqual(150_000);
    expect((await probe(join(dir, 'recordings', file!.id), 10)).streams.length).toBeGreaterThan(0);
    // Live: HTTP-FLV still delivers fresh keyframes.
    const flv = readFlv(`${gw.http}/full/cam.flv`);
    try {
      expect(await flv.status).toBe(200);
      await waitFor('two keyframes over HTTP-FLV', () => videoTags(flv.tags).filter(isKeyframeTag).length >= 2, 10_000);
    } finally {
      flv.close();
    }
    expect(gw.gw.registry.get('full/cam')?.publisher).toBeDefined();
  });
});

import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { RoomClient } from '../helpers/rooms-client.js';

let dataDir: string;
let gw: TestGateway;
const clients: RoomClient[] = [];
let roomSeq = 0;
const newRoom = () => `room/f${++roomSeq}`;

const MAX_FILE = 24 * 1024 * 1024;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sg-room-files-'));
  gw = await startGateway({ dataDir, rooms: { persist: true, maxFileBytes: MAX_FILE, maxFilesPerRoom: 3 } });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await gw.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function join_(room: string, name: string): Promise<RoomClient> {
  const c = await RoomClient.connect(gw.ws, room, name);
  clients.push(c);
  return c;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function create(room: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${gw.http}/api/v1/rooms/${room}/files`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function putChunk(url: string, data: Buffer, start: number, size: number): Promise<Response> {
  return fetch(`${gw.http}${url}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', 'content-range': `bytes ${start}-${start + data.length - 1}/${size}` },
    body: data as unknown as BodyInit,
  });
}

async function uploadOffset(url: string): Promise<number> {
  const res = await fetch(`${gw.http}${url}`, { method: 'HEAD' });
  expect(res.status).toBe(200);
  return Number(res.headers.get('upload-offset'));
}

describe('room files', () => {
  it('uploads 20 MB in chunks with progress on another participant, and downloads it byte-identical', async () => {
    const room = newRoom();
    const alice = await join_(room, 'alice');
    const bob = await join_(room, 'bob');
    const data = randomBytes(20 * 1024 * 1024);
    const res = await create(room, { name: 'site plan.bin', size: data.length, type: 'application/x-plan', from: 'alice' });
    expect(res.status).toBe(201);
    const { id, uploadUrl } = (await res.json()) as { id: string; uploadUrl: string };
    expect(await bob.next('file')).toMatchObject({ id, name: 'site plan.bin', size: data.length, contentType: 'application/x-plan', from: { name: 'alice' } });

    const chunk = 2 * 1024 * 1024;
    const started = Date.now();
    for (let at = 0; at < data.length; at += chunk) {
      const r = await putChunk(uploadUrl, data.subarray(at, at + chunk), at, data.length);
      expect(r.status).toBe(200);
      expect(Number(r.headers.get('upload-offset'))).toBe(Math.min(at + chunk, data.length));
      await new Promise((r) => setTimeout(r, 120));
    }
    const done = await bob.next('file-done', (f) => f.id === id);
    expect(done.size).toBe(data.length);
    const seconds = (Date.now() - started) / 1000;
    const progress = bob.of('file-progress').filter((f) => f.id === id);
    expect(progress.length).toBeGreaterThanOrEqual(3);
    // About 4 per second, plus one at the end of each chunk that is not complete.
    expect(progress.length).toBeLessThanOrEqual(Math.ceil(seconds * 4) + 10 + 1);
    const received = progress.map((f) => f.received);
    expect(received).toEqual([...received].sort((a, b) => a - b));
    expect(received.every((n) => n > 0 && n < data.length)).toBe(true);
    expect(alice.of('file-done').map((f) => f.id)).toContain(id);

    const list = (await (await fetch(`${gw.http}/api/v1/rooms/${room}/files`)).json()) as any;
    expect(list.files).toEqual([expect.objectContaining({ id, complete: true, received: data.length, size: data.length })]);

    const dl = await fetch(`${gw.http}${uploadUrl}`);
    expect(dl.status).toBe(200);
    expect(dl.headers.get('content-type')).toBe('application/x-plan');
    expect(dl.headers.get('content-disposition')).toContain('filename="site plan.bin"');
    const body = Buffer.from(await dl.arrayBuffer());
    expect(body.length).toBe(data.length);
    expect(sha256(body)).toBe(sha256(data));
    expect(existsSync(join(dataDir, 'rooms', encodeURIComponent(room), 'files', id))).toBe(true);
  });

  it('answers a Range request with 206 and the right slice', async () => {
    const room = newRoom();
    const data = randomBytes(100_000);
    const { uploadUrl } = (await (await create(room, { name: 'a.bin', size: data.length })).json()) as any;
    expect((await putChunk(uploadUrl, data, 0, data.length)).status).toBe(200);
    const slice = await fetch(`${gw.http}${uploadUrl}`, { headers: { range: 'bytes=1000-1999' } });
    expect(slice.status).toBe(206);
    expect(slice.headers.get('content-range')).toBe(`bytes 1000-1999/${data.length}`);
    expect(slice.headers.get('content-type')).toBe('application/octet-stream');
    expect(Buffer.from(await slice.arrayBuffer()).equals(data.subarray(1000, 2000))).toBe(true);
    const suffix = await fetch(`${gw.http}${uploadUrl}`, { headers: { range: 'bytes=-10' } });
    expect(suffix.status).toBe(206);
    expect(Buffer.from(await suffix.arrayBuffer()).equals(data.subarray(data.length - 10))).toBe(true);
    const past = await fetch(`${gw.http}${uploadUrl}`, { headers: { range: `bytes=${data.length}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${data.length}`);
  });

  it('refuses a file over rooms.maxFileBytes and one past rooms.maxFilesPerRoom, with their codes', async () => {
    const room = newRoom();
    const big = await create(room, { name: 'huge.iso', size: MAX_FILE + 1 });
    expect(big.status).toBe(413);
    expect(((await big.json()) as any).error.code).toBe('SG_ERR_ROOM_FILE_TOO_LARGE');
    for (let i = 0; i < 3; i++) expect((await create(room, { name: `f${i}`, size: 10 })).status).toBe(201);
    const fourth = await create(room, { name: 'f3', size: 10 });
    expect(fourth.status).toBe(409);
    expect(((await fourth.json()) as any).error.code).toBe('SG_ERR_ROOM_FILE_LIMIT');
  });

  it('refuses to serve an incomplete file and a chunk past the declared size', async () => {
    const room = newRoom();
    const { uploadUrl } = (await (await create(room, { name: 'x', size: 10 })).json()) as any;
    const early = await fetch(`${gw.http}${uploadUrl}`);
    expect(early.status).toBe(409);
    expect(((await early.json()) as any).error.code).toBe('SG_ERR_ROOM_FILE_INCOMPLETE');
    const wrong = await putChunk(uploadUrl, Buffer.alloc(5), 3, 10);
    expect(wrong.status).toBe(409);
    expect(((await wrong.json()) as any).error.code).toBe('SG_ERR_ROOM_FILE_OFFSET');
    expect(wrong.headers.get('upload-offset')).toBe('0');
  });

  it('resumes after an interrupted chunk from Upload-Offset', async () => {
    const room = newRoom();
    const watcher = await join_(room, 'watcher');
    const data = randomBytes(4 * 1024 * 1024);
    const { id, uploadUrl } = (await (await create(room, { name: 'r.bin', size: data.length })).json()) as any;
    // Send the first 1.5 MB of a chunk that announced the whole file, then cut the connection.
    const cut = 1536 * 1024;
    await new Promise<void>((resolve) => {
      const url = new URL(`${gw.http}${uploadUrl}`);
      const req = request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream', 'content-range': `bytes 0-${data.length - 1}/${data.length}`, 'content-length': data.length },
      });
      req.on('error', () => resolve());
      req.write(data.subarray(0, cut), () => setTimeout(() => {
        req.destroy();
        resolve();
      }, 200));
    });
    // Until the server noticed the cut, the chunk is still being received (409): retry from the
    // offset HEAD gives, which is what reached the disk.
    let offset = 0;
    let rest: Response | undefined;
    for (let i = 0; i < 50; i++) {
      offset = await uploadOffset(uploadUrl);
      rest = await putChunk(uploadUrl, data.subarray(offset), offset, data.length);
      if (rest.status !== 409) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(offset).toBe(cut);
    expect(rest!.status).toBe(200);
    await watcher.next('file-done', (f) => f.id === id);
    const body = Buffer.from(await (await fetch(`${gw.http}${uploadUrl}`)).arrayBuffer());
    expect(sha256(body)).toBe(sha256(data));
  });

  it('keeps entries across a restart with persistence', async () => {
    const room = newRoom();
    const data = randomBytes(1000);
    const { id, uploadUrl } = (await (await create(room, { name: 'keep.txt', size: data.length, type: 'text/plain' })).json()) as any;
    await putChunk(uploadUrl, data, 0, data.length);
    const second = await startGateway({ dataDir, rooms: { persist: true } });
    try {
      const list = (await (await fetch(`${second.http}/api/v1/rooms/${room}/files`)).json()) as any;
      expect(list.files).toEqual([expect.objectContaining({ id, name: 'keep.txt', contentType: 'text/plain', complete: true })]);
      const body = Buffer.from(await (await fetch(`${second.http}${uploadUrl}`)).arrayBuffer());
      expect(body.equals(data)).toBe(true);
    } finally {
      await second.stop();
    }
  });

  it('announces file-failed when an unfinished upload is deleted, file-removed for a complete one', async () => {
    const room = newRoom();
    const watcher = await join_(room, 'watcher');
    const { id, uploadUrl } = (await (await create(room, { name: 'half.bin', size: 10 })).json()) as any;
    await putChunk(uploadUrl, Buffer.alloc(4), 0, 10);
    expect((await fetch(`${gw.http}${uploadUrl}`, { method: 'DELETE' })).status).toBe(204);
    expect(await watcher.next('file-failed', (f) => f.id === id)).toMatchObject({ reason: 'aborted' });
    expect((await fetch(`${gw.http}${uploadUrl}`, { method: 'HEAD' })).status).toBe(404);
    const done = (await (await create(room, { name: 'whole.bin', size: 2 })).json()) as any;
    await putChunk(done.uploadUrl, Buffer.alloc(2), 0, 2);
    expect((await fetch(`${gw.http}${done.uploadUrl}`, { method: 'DELETE' })).status).toBe(204);
    await watcher.next('file-removed', (f) => f.id === done.id);
    expect(((await (await fetch(`${gw.http}/api/v1/rooms/${room}/files`)).json()) as any).files).toEqual([]);
  });

  it('fails and deletes an upload that received nothing for rooms.fileIdleTimeoutMs', async () => {
    const g = await startGateway({ dataDir, rooms: { persist: true, fileIdleTimeoutMs: 300 } });
    const watcher = await RoomClient.connect(g.ws, 'room/idle', 'watcher');
    try {
      const res = await fetch(`${g.http}/api/v1/rooms/room/idle/files`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'slow.bin', size: 10 }) });
      const { id, uploadUrl } = (await res.json()) as any;
      const chunk = await fetch(`${g.http}${uploadUrl}`, { method: 'PUT', headers: { 'content-range': 'bytes 0-3/10' }, body: 'abcd' });
      expect(chunk.status).toBe(200);
      const failed = await watcher.next('file-failed', (f) => f.id === id);
      expect(failed.reason).toBe('timeout');
      expect((await fetch(`${g.http}${uploadUrl}`, { method: 'HEAD' })).status).toBe(404);
      expect(existsSync(join(dataDir, 'rooms', encodeURIComponent('room/idle'), 'files', id))).toBe(false);
    } finally {
      await watcher.close();
      await g.stop();
    }
  });

  it('follows the rooms API access rules: changes need an admin credential, reads the room access', async () => {
    const ADMIN = 'admin-token-for-files-test';
    const g = await startGateway({
      dataDir,
      auth: { rules: [{ paths: 'keys/*', mode: 'keys', publishKey: 'pub-key', playKey: 'play-key' }], admin: { tokens: [{ token: ADMIN, role: 'admin' }], publicReads: true } },
    });
    try {
      const post = (headers: Record<string, string>) =>
        fetch(`${g.http}/api/v1/rooms/keys/room1/files`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ name: 'k.txt', size: 3 }) });
      expect((await post({})).status).toBe(401);
      const created = await post({ authorization: `Bearer ${ADMIN}` });
      expect(created.status).toBe(201);
      const { uploadUrl } = (await created.json()) as any;
      const put = (headers: Record<string, string>) =>
        fetch(`${g.http}${uploadUrl}`, { method: 'PUT', headers: { 'content-range': 'bytes 0-2/3', ...headers }, body: 'abc' });
      expect((await put({})).status).toBe(401);
      expect((await put({ authorization: `Bearer ${ADMIN}` })).status).toBe(200);
      expect((await fetch(`${g.http}/api/v1/rooms/keys/room1/files`)).status).toBe(401);
      expect((await fetch(`${g.http}${uploadUrl}`)).status).toBe(401);
      expect((await fetch(`${g.http}${uploadUrl}?token=wrong`)).status).toBe(403);
      const dl = await fetch(`${g.http}${uploadUrl}?token=play-key`);
      expect(dl.status).toBe(200);
      expect(await dl.text()).toBe('abc');
      expect((await fetch(`${g.http}/api/v1/rooms/keys/room1/files?token=play-key`)).status).toBe(200);
    } finally {
      await g.stop();
    }
  });
});

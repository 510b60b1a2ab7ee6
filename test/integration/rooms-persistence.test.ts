import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { RoomClient } from '../helpers/rooms-client.js';

let dataDir: string;
let gateways: TestGateway[] = [];
let clients: RoomClient[] = [];

async function start(rooms: Record<string, unknown> = { persist: true }): Promise<TestGateway> {
  const gw = await startGateway({ rooms, dataDir });
  gateways.push(gw);
  return gw;
}

async function joinRoom(gw: TestGateway, room: string, name: string): Promise<RoomClient> {
  const c = await RoomClient.connect(gw.ws, room, name);
  clients.push(c);
  return c;
}

const file = (name: string) => join(dataDir, 'rooms', name);

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'sg-rooms-'));
});

afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(gateways.map((g) => g.stop()));
  clients = [];
  gateways = [];
  rmSync(dataDir, { recursive: true, force: true });
});

describe('room history persistence', () => {
  it('keeps the history across a gateway stop and start, and ids continue', async () => {
    const first = await start();
    const a = await joinRoom(first, 'live/cam1', 'alice');
    for (let i = 1; i <= 3; i++) a.send({ type: 'chat', text: `before restart ${i}` });
    await a.waitFor(() => a.of('chat').length === 3);
    const sent = a.of('chat');
    await first.stop();
    await a.closed;

    const lines = readFileSync(file('live%2Fcam1.jsonl'), 'utf8').trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l))).toEqual(sent);

    const second = await start();
    const b = await joinRoom(second, 'live/cam1', 'bob');
    expect((await b.next('history')).messages).toEqual(sent);
    const api = (await (await fetch(`${second.http}/api/v1/rooms/live/cam1/messages`)).json()) as any;
    expect(api.messages).toEqual(sent);
    b.send({ type: 'chat', text: 'after restart' });
    expect((await b.next('chat')).id).toBe(sent[2]!.id + 1);
  });

  it('skips a truncated last line with a log line, not a failed start', async () => {
    mkdirSync(join(dataDir, 'rooms'), { recursive: true });
    const good = { type: 'chat', id: 1, from: { id: 1, name: 'alice', role: 'viewer' }, text: 'complete', ts: 1 };
    writeFileSync(file('room%2F7.jsonl'), `${JSON.stringify(good)}\n{"type":"chat","id":2,"from":{"id":1,"na`);
    const gw = await start();
    const c = await joinRoom(gw, 'room/7', 'bob');
    expect((await c.next('history')).messages).toEqual([good]);
    expect(gw.logs.some((l) => String(l.msg).includes('truncated last line'))).toBe(true);
    c.send({ type: 'chat', text: 'next' });
    expect((await c.next('chat')).id).toBe(2);
    // The partial line is gone, the new one starts on its own line.
    const lines = readFileSync(file('room%2F7.jsonl'), 'utf8').trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l).text)).toEqual(['complete', 'next']);
  });

  it('loads a history file written before start for GET /messages without anyone joining', async () => {
    mkdirSync(join(dataDir, 'rooms'), { recursive: true });
    const m = { type: 'chat', id: 41, from: { id: 0, name: 'dispatch', role: 'system' }, text: 'alarm', ts: 5 };
    appendFileSync(file('site%2Fnorth.jsonl'), `${JSON.stringify(m)}\n`);
    const gw = await start();
    const body = (await (await fetch(`${gw.http}/api/v1/rooms/site/north/messages`)).json()) as any;
    expect(body).toMatchObject({ lastMessageId: 41, messages: [m] });
  });

  it('writes nothing when persistence is off', async () => {
    const gw = await start({ persist: false });
    const a = await joinRoom(gw, 'live/cam2', 'alice');
    a.send({ type: 'chat', text: 'ephemeral' });
    await a.next('chat');
    expect(existsSync(join(dataDir, 'rooms'))).toBe(false);
  });
});

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway, waitFor } from '../helpers/gateway.js';
import { RoomClient } from '../helpers/rooms-client.js';

let gw: TestGateway;
const clients: RoomClient[] = [];
let roomSeq = 0;

/** A fresh room per test, so tests do not see each other's presence or history. */
const newRoom = () => `room/t${++roomSeq}`;

async function join(room: string, name: string, query: Record<string, string> = {}): Promise<RoomClient> {
  const c = await RoomClient.connect(gw.ws, room, name, query);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  gw = await startGateway({
    rooms: { hostNames: ['host'], historySize: 5, rateBurst: 30, ratePerSecond: 20, maxMessageBytes: 4096, kickBanMs: 60_000, maxRefusals: 15 },
  });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await gw.stop();
});

describe('rooms over WebSocket', () => {
  it('delivers every chat message to 1 host and 50 viewers exactly once, in order', async () => {
    const room = newRoom();
    const host = await join(room, 'host');
    const viewers = await Promise.all(Array.from({ length: 50 }, (_, i) => join(room, `viewer${i}`)));
    expect(host.welcome.you.role).toBe('host');
    expect(viewers[0]!.welcome.you.role).toBe('viewer');
    // Host and a few viewers send interleaved; the server's order is the one everybody sees.
    const senders = [host, viewers[3]!, viewers[17]!, viewers[42]!];
    for (let round = 0; round < 5; round++) for (const s of senders) s.send({ type: 'chat', text: `m${round}-${s.welcome.you.name}` });
    const total = 5 * senders.length;
    const everyone = [host, ...viewers];
    await Promise.all(everyone.map((c) => c.waitFor(() => c.of('chat').length >= total, 'all chat')));
    const reference = host.of('chat').map((f) => f.id);
    expect(reference).toHaveLength(total);
    expect(new Set(reference).size).toBe(total);
    expect(reference).toEqual([...reference].sort((a, b) => a - b));
    for (const c of everyone) {
      const chats = c.of('chat');
      expect(chats).toHaveLength(total);
      expect(chats.map((f) => f.id)).toEqual(reference);
    }
    // Per sender, the relayed order is the send order, with sender and timestamp filled by the server.
    const fromV3 = viewers[0]!.of('chat').filter((f) => f.from.name === 'viewer3');
    expect(fromV3.map((f) => f.text)).toEqual(['m0-viewer3', 'm1-viewer3', 'm2-viewer3', 'm3-viewer3', 'm4-viewer3']);
    expect(fromV3[0]).toMatchObject({ from: { id: viewers[3]!.id, role: 'viewer' }, ts: expect.any(Number) });
  });

  it('replays the last N messages to a joiner and serves them on GET /messages', async () => {
    const room = newRoom();
    const host = await join(room, 'host');
    for (let i = 1; i <= 8; i++) host.send({ type: 'chat', text: `line ${i}` });
    await host.waitFor(() => host.of('chat').length === 8);
    const late = await join(room, 'late');
    const history = await late.next('history');
    expect(history.messages.map((m: any) => m.text)).toEqual(['line 4', 'line 5', 'line 6', 'line 7', 'line 8']);
    expect(history.messages[4]).toEqual(host.of('chat')[7]);
    const res = await fetch(`${gw.http}/api/v1/rooms/${room}/messages?after=${history.messages[2].id}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.messages.map((m: any) => m.text)).toEqual(['line 7', 'line 8']);
    expect(body.lastMessageId).toBe(history.messages[4].id);
  });

  it('keeps presence counts right through joins and leaves', async () => {
    const room = newRoom();
    const host = await join(room, 'host');
    expect(await host.next('participants')).toMatchObject({ count: 1 });
    const a = await join(room, 'alice');
    const b = await join(room, 'bob');
    expect(await b.next('participants')).toMatchObject({ count: 3, participants: [{ name: 'host' }, { name: 'alice' }, { name: 'bob' }] });
    await host.waitFor(() => host.of('join').length === 2);
    expect(host.of('join').map((f) => [f.participant.name, f.count])).toEqual([['alice', 2], ['bob', 3]]);
    await a.close();
    const leave = await host.next('leave');
    expect(leave).toMatchObject({ participant: { name: 'alice' }, count: 2, reason: 'left' });
    const res = await fetch(`${gw.http}/api/v1/rooms/${room}`);
    const entry = (await res.json()) as any;
    expect(entry).toMatchObject({ room, participants: 2, hosts: 1 });
    expect(entry.participantList.map((p: any) => p.name)).toEqual(['host', 'bob']);
  });

  it('sends data to the host only, to one participant only, and to all', async () => {
    const room = newRoom();
    const host = await join(room, 'host');
    const a = await join(room, 'alice');
    const b = await join(room, 'bob');
    a.send({ type: 'data', to: 'host', payload: { raiseHand: true }, ref: 'r1' });
    await a.next('ack', (f) => f.ref === 'r1');
    host.send({ type: 'data', to: b.id, payload: { pin: [1, 2] } });
    b.send({ type: 'data', to: 'all', payload: 'everyone' });
    await Promise.all([host, a, b].map((c) => c.next('data', (f) => f.payload === 'everyone')));
    const payloads = (c: RoomClient) => c.of('data').map((f) => f.payload);
    expect(payloads(host)).toEqual([{ raiseHand: true }, 'everyone']);
    expect(payloads(a)).toEqual(['everyone']);
    expect(payloads(b)).toEqual([{ pin: [1, 2] }, 'everyone']);
    expect(host.of('data')[0]).toMatchObject({ from: { name: 'alice', role: 'viewer' }, to: 'host', id: expect.any(Number) });
    a.send({ type: 'data', to: 9999, payload: 1, ref: 'nobody' });
    expect(await a.next('error', (f) => f.ref === 'nobody')).toMatchObject({ code: 'SG_ERR_ROOM_NO_TARGET' });
  });

  it('relays binary payloads intact, to one participant and to all', async () => {
    const room = newRoom();
    const host = await join(room, 'host');
    const a = await join(room, 'alice');
    const blob = randomBytes(3000);
    host.send({ type: 'data', to: a.id, binary: true });
    host.sendRaw(blob, true);
    const header = await a.next('data');
    expect(header).toMatchObject({ binary: true, size: 3000, to: a.id, from: { name: 'host' } });
    await a.waitFor(() => a.of('binary').length === 1);
    expect(a.frames[a.frames.indexOf(header) + 1]!.data.equals(blob)).toBe(true);
    const all = randomBytes(1000);
    a.send({ type: 'data', to: 'all', binary: true });
    a.sendRaw(all, true);
    await host.waitFor(() => host.of('binary').length === 1);
    expect(host.of('binary')[0]!.data.equals(all)).toBe(true);
    a.sendRaw(Buffer.from([1, 2, 3]), true);
    expect(await a.next('error')).toMatchObject({ code: 'SG_ERR_ROOM_INVALID_MESSAGE' });
  });

  it('disconnects a kicked participant and refuses its rejoin for the ban time', async () => {
    const room = newRoom();
    const host = await join(room, 'host');
    const troll = await join(room, 'troll');
    host.send({ type: 'kick', participant: troll.id, reason: 'spam' });
    expect(await troll.next('error')).toMatchObject({ code: 'SG_ERR_ROOM_KICKED' });
    expect((await troll.closed).code).toBe(4403);
    expect(await host.next('leave')).toMatchObject({ participant: { name: 'troll' }, reason: 'kicked', count: 1 });
    const again = await join(room, 'troll');
    expect(again.frames[0]).toMatchObject({ type: 'error', code: 'SG_ERR_ROOM_BANNED' });
    expect((await again.closed).code).toBe(4403);
    // A short ban runs out.
    const brief = await join(room, 'brief');
    host.send({ type: 'kick', participant: brief.id, banMs: 200 });
    await brief.closed;
    await waitFor('the ban to expire', async () => {
      const c = await join(room, 'brief');
      return c.welcome !== undefined;
    });
  });

  it('refuses chat from a muted participant until unmuted; data still flows', async () => {
    const room = newRoom();
    const host = await join(room, 'host');
    const a = await join(room, 'alice');
    host.send({ type: 'mute', participant: a.id });
    await a.next('mute', (f) => f.muted === true);
    a.send({ type: 'chat', text: 'can you hear me', ref: 'm' });
    expect(await a.next('error', (f) => f.ref === 'm')).toMatchObject({ code: 'SG_ERR_ROOM_MUTED' });
    a.send({ type: 'data', to: 'host', payload: { raiseHand: true } });
    await host.next('data');
    host.send({ type: 'unmute', participant: a.id });
    await a.next('mute', (f) => f.muted === false);
    a.send({ type: 'chat', text: 'back' });
    expect(await host.next('chat')).toMatchObject({ text: 'back' });
    expect(host.of('chat')).toHaveLength(1);
  });

  it('refuses moderation from a viewer', async () => {
    const room = newRoom();
    const host = await join(room, 'host');
    const a = await join(room, 'alice');
    a.send({ type: 'kick', participant: host.id });
    expect(await a.next('error')).toMatchObject({ code: 'SG_ERR_ROOM_FORBIDDEN' });
    a.send({ type: 'close' });
    await a.waitFor(() => a.of('error').length === 2);
    expect(host.of('closed')).toHaveLength(0);
  });

  it('refuses an oversized message with an error frame; the room keeps working', async () => {
    const room = newRoom();
    const a = await join(room, 'alice');
    const b = await join(room, 'bob');
    a.send({ type: 'chat', text: 'x'.repeat(5000), ref: 'big' });
    expect(await a.next('error', (f) => f.ref === undefined)).toMatchObject({ code: 'SG_ERR_ROOM_MESSAGE_TOO_LARGE' });
    a.send({ type: 'chat', text: 'small' });
    b.send({ type: 'chat', text: 'hello' });
    await Promise.all([a, b].map((c) => c.waitFor(() => c.of('chat').length === 2)));
    expect(b.of('chat').map((f) => f.text)).toEqual(['small', 'hello']);
  });

  it('closes a connection that sends a frame beyond 4x the limit (1009)', async () => {
    const room = newRoom();
    const a = await join(room, 'alice');
    const b = await join(room, 'bob');
    a.sendRaw(Buffer.alloc(4096 * 4 + 1), true);
    expect((await a.closed).code).toBe(1009);
    b.send({ type: 'chat', text: 'still here' });
    await b.next('chat');
  });

  it('refuses a flood with SG_ERR_ROOM_RATE_LIMIT, then disconnects; others keep chatting', async () => {
    const room = newRoom();
    const flooder = await join(room, 'flooder');
    const b = await join(room, 'bob');
    for (let i = 0; i < 200; i++) flooder.send({ type: 'chat', text: `flood ${i}` });
    const closed = await flooder.closed;
    expect(closed.code).toBe(4429);
    const codes = flooder.of('error').map((f) => f.code);
    expect(codes).toContain('SG_ERR_ROOM_RATE_LIMIT');
    expect(codes.at(-1)).toBe('SG_ERR_ROOM_ABUSE');
    expect(flooder.of('error').find((f) => f.code === 'SG_ERR_ROOM_RATE_LIMIT')).toMatchObject({ retryAfterMs: expect.any(Number) });
    // The burst got through, the rest did not.
    expect(b.of('chat').length).toBeGreaterThanOrEqual(30);
    expect(b.of('chat').length).toBeLessThan(60);
    b.send({ type: 'chat', text: 'calm again', ref: 'calm' });
    await b.next('ack', (f) => f.ref === 'calm');
    await b.next('leave', (f) => f.participant.name === 'flooder' && f.reason === 'abuse');
  });

  it('refuses malformed frames with SG_ERR_ROOM_INVALID_MESSAGE', async () => {
    const a = await join(newRoom(), 'alice');
    a.sendRaw('not json');
    a.send({ type: 'dance' });
    a.send({ type: 'chat', text: '', ref: 7 });
    await a.waitFor(() => a.of('error').length === 3);
    expect(a.of('error').map((f) => f.code)).toEqual(Array(3).fill('SG_ERR_ROOM_INVALID_MESSAGE'));
    expect(a.of('error')[2]!.ref).toBe(7);
  });

  it('refuses a join without a name, with a bad room path, or into a full room', async () => {
    const noName = await join(newRoom(), undefined as unknown as string);
    expect(noName.frames[0]).toMatchObject({ type: 'error', code: 'SG_ERR_ROOM_INVALID_NAME' });
    expect((await noName.closed).code).toBe(4400);
    const badPath = await join('onlyone', 'alice');
    expect(badPath.frames[0]).toMatchObject({ type: 'error', code: 'SG_ERR_INVALID_PATH' });
    const full = await startGateway({ rooms: { maxParticipants: 2 } });
    try {
      const c1 = await RoomClient.connect(full.ws, 'live/cam1', 'a');
      const c2 = await RoomClient.connect(full.ws, 'live/cam1', 'b');
      const c3 = await RoomClient.connect(full.ws, 'live/cam1', 'c');
      expect(c3.frames[0]).toMatchObject({ type: 'error', code: 'SG_ERR_ROOM_FULL' });
      expect((await c3.closed).code).toBe(4409);
      await Promise.all([c1.close(), c2.close()]);
    } finally {
      await full.stop();
    }
  });

  it('a history bigger than the slow-consumer limit is cut to the newest messages, not to the joiner', async () => {
    const big = await startGateway({ rooms: { historySize: 1000, maxBufferedBytes: 64 * 1024, maxMessageBytes: 16 * 1024 } });
    try {
      const text = 'x'.repeat(1000);
      for (let i = 0; i < 200; i++) {
        const res = await fetch(`${big.http}/api/v1/rooms/live/big/messages`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ text }) });
        expect(res.status).toBe(201);
      }
      const c = await RoomClient.connect(big.ws, 'live/big', 'late');
      await c.waitFor(() => c.frames.some((f) => f.type === 'history'), 'history');
      const history = c.frames.find((f) => f.type === 'history')!.messages as { id: number }[];
      // about 200 KB of history against a 64 KiB limit: the newest ones that fit in half of it
      expect(history.length).toBeGreaterThan(10);
      expect(history.length).toBeLessThan(200);
      expect(history.at(-1)!.id).toBe(200);
      await new Promise((r) => setTimeout(r, 300));
      expect(c.ws.readyState, 'still joined').toBe(1);
      await c.close();
    } finally {
      await big.stop();
    }
  });

  it('lets a host close the room for everyone', async () => {
    const room = newRoom();
    const host = await join(room, 'host');
    const a = await join(room, 'alice');
    host.send({ type: 'close', reason: 'drill over' });
    expect(await a.next('closed')).toMatchObject({ room, reason: 'drill over', by: { name: 'host' } });
    expect((await a.closed).code).toBe(4410);
    expect((await host.closed).code).toBe(4410);
  });
});

describe('rooms REST API', () => {
  it('posts chat and data from an integration to the participants and the history', async () => {
    const room = newRoom();
    const host = await join(room, 'host');
    const post = (body: unknown) =>
      fetch(`${gw.http}/api/v1/rooms/${room}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const res = await post({ text: 'Alarm: gate 3 <b>open</b>', from: 'dispatch' });
    expect(res.status).toBe(201);
    const message = (await res.json()) as any;
    expect(message).toMatchObject({ type: 'chat', text: 'Alarm: gate 3 <b>open</b>', from: { id: 0, name: 'dispatch', role: 'system' } });
    expect(await host.next('chat')).toEqual(message);
    expect((await post({ type: 'data', to: 'host', payload: { alarm: 3 } })).status).toBe(201);
    expect(await host.next('data')).toMatchObject({ payload: { alarm: 3 }, from: { role: 'system' } });
    const bad = await post({ text: '' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.code).toBe('SG_ERR_ROOM_INVALID_MESSAGE');
    const big = await post({ text: 'x'.repeat(5000) });
    expect(big.status).toBe(413);
    expect(((await big.json()) as any).error.code).toBe('SG_ERR_ROOM_MESSAGE_TOO_LARGE');
    const msgs = (await (await fetch(`${gw.http}/api/v1/rooms/${room}/messages`)).json()) as any;
    expect(msgs.messages).toEqual([message]);
  });

  it('lists rooms with their participants and the streams published under them', async () => {
    const room = newRoom();
    await join(room, 'host');
    const session = gw.gw.registry.publish(`${room}/alice`, { protocol: 'test', remoteAddress: '127.0.0.1:1', query: {}, close: () => {} });
    try {
      const list = (await (await fetch(`${gw.http}/api/v1/rooms`)).json()) as any;
      expect(list.rooms.find((r: any) => r.room === room)).toMatchObject({ participants: 1, streams: [`${room}/alice`] });
      const entry = (await (await fetch(`${gw.http}/api/v1/rooms/${room}`)).json()) as any;
      expect(entry.streamList[0]).toMatchObject({ path: `${room}/alice` });
      expect(entry.participantList[0]).toMatchObject({ name: 'host', role: 'host', muted: false });
    } finally {
      session.close('test done');
    }
    const missing = await fetch(`${gw.http}/api/v1/rooms/nobody/here`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as any).error.code).toBe('SG_ERR_ROOM_NOT_FOUND');
  });

  it('kicks, mutes and closes through the API', async () => {
    const room = newRoom();
    const a = await join(room, 'alice');
    const b = await join(room, 'bob');
    const muted = await fetch(`${gw.http}/api/v1/rooms/${room}/participants/${b.id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ muted: true }),
    });
    expect(await muted.json()).toMatchObject({ name: 'bob', muted: true });
    await b.next('mute');
    expect((await fetch(`${gw.http}/api/v1/rooms/${room}/participants/${b.id}?banMs=0`, { method: 'DELETE' })).status).toBe(204);
    expect((await b.closed).code).toBe(4403);
    expect((await fetch(`${gw.http}/api/v1/rooms/${room}`, { method: 'DELETE' })).status).toBe(204);
    expect(await a.next('closed')).toMatchObject({ reason: 'closed through the API' });
    expect((await a.closed).code).toBe(4410);
    expect((await fetch(`${gw.http}/api/v1/rooms/${room}`)).status).toBe(404);
  });
});

describe('rooms.enabled: false', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ rooms: { enabled: false } });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('turns off the REST API too: nothing creates rooms or history files', async () => {
    const post = await fetch(`${gw.http}/api/v1/rooms/live/off/messages`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ type: 'chat', text: 'hello' }),
    });
    expect(post.status).toBe(404);
    expect(gw.gw.rooms.list()).toEqual([]);
  });
});

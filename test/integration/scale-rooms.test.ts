import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { hasRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { RoomClient } from '../helpers/rooms-client.js';

describe.skipIf(!hasRedis())('rooms shared by two nodes over the Redis room bus', () => {
  let redis: TestRedis;
  let a: TestGateway;
  let b: TestGateway;

  beforeAll(async () => {
    redis = await startRedis();
    const config = { cluster: { redis: { url: redis.url } }, rooms: { hostNames: ['ops'] } };
    a = await startGateway(config);
    b = await startGateway(config);
  });

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.stop();
  });

  it('participants on different nodes see each other, chat, send data and are moderated', async () => {
    const ops = await RoomClient.connect(a.ws, 'room/r1', 'ops');
    expect(ops.welcome.you.role).toBe('host');
    const bob = await RoomClient.connect(b.ws, 'room/r1', 'bob');
    // bob's node asked for the others' participants when it opened the room: ops is shown on B.
    await bob.next('join', (f) => f.participant.name === 'ops');
    const bobOnA = await ops.next('join', (f) => f.participant.name === 'bob');
    expect(bobOnA.count).toBe(2);

    ops.send({ type: 'chat', text: 'hello from A' });
    const got = await bob.next('chat', (f) => f.text === 'hello from A');
    expect(got.from.name).toBe('ops');
    bob.send({ type: 'chat', text: 'hi from B', ref: 1 });
    expect((await ops.next('chat', (f) => f.text === 'hi from B')).from.name).toBe('bob');
    // Each node keeps the lines in its own history.
    const history = (await (await fetch(`${b.http}/api/v1/rooms/room/r1/messages`)).json()) as any;
    expect(history.messages.map((m: any) => m.text)).toEqual(['hello from A', 'hi from B']);

    bob.send({ type: 'data', to: 'host', payload: { ptz: 'left' } });
    expect((await ops.next('data', (f) => f.payload?.ptz === 'left')).from.name).toBe('bob');
    ops.send({ type: 'data', to: bobOnA.participant.id, payload: { ok: true } });
    await bob.next('data', (f) => f.payload?.ok === true);

    // The host on A mutes bob (who is on B) by A's id for him: B refuses bob's chat.
    ops.send({ type: 'mute', participant: bobOnA.participant.id });
    await bob.next('mute', (f) => f.muted === true);
    bob.send({ type: 'chat', text: 'muted?', ref: 2 });
    expect((await bob.next('error', (f) => f.ref === 2)).code).toBe('SG_ERR_ROOM_MUTED');

    // Kicked from A: B closes bob's socket.
    ops.send({ type: 'kick', participant: bobOnA.participant.id, reason: 'test' });
    expect((await bob.closed).code).toBe(4403);
    await ops.next('leave', (f) => f.participant.name === 'bob');
    await ops.close();
  }, 30_000);

  it('talkback crosses nodes: a grant on A reaches the participant on B with a key both nodes accept; revoke and audio mute follow', async () => {
    const ops = await RoomClient.connect(a.ws, 'room/r3', 'ops');
    const carol = await RoomClient.connect(b.ws, 'room/r3', 'carol');
    const carolOnA = await ops.next('join', (f) => f.participant.name === 'carol');
    ops.send({ type: 'grant', participant: carolOnA.participant.id });
    const granted = await carol.next('floor', (f) => f.floor === 'granted');
    expect(granted).toMatchObject({ stream: 'room/r3/carol', participant: { name: 'carol' }, by: { name: 'ops' } });
    expect(typeof granted.grant).toBe('string');
    for (const gw of [a, b]) expect(gw.gw.rooms.find('room/r3')!.floor.keyMatches('carol', granted.grant)).toBe(true);
    ops.send({ type: 'mute', participant: carolOnA.participant.id, media: 'audio' });
    await carol.next('mute', (f) => f.media === 'audio' && f.muted === true);
    expect(b.gw.rooms.audioMuted('room/r3/carol')).toBe(true);
    ops.send({ type: 'revoke', participant: carolOnA.participant.id });
    await carol.next('floor', (f) => f.floor === 'revoked');
    expect(b.gw.rooms.find('room/r3')!.floor.isRevoked('carol')).toBe(true);
    await Promise.all([ops.close(), carol.close()]);
  }, 30_000);

  it('Redis restarting: each node keeps its room going locally, and the bus works again afterwards', async () => {
    const ops = await RoomClient.connect(a.ws, 'room/r2', 'ops');
    const eve = await RoomClient.connect(b.ws, 'room/r2', 'eve');
    await ops.next('join', (f) => f.participant.name === 'eve');
    await redis.stop();
    const local = await RoomClient.connect(a.ws, 'room/r2', 'local');
    local.send({ type: 'chat', text: 'while redis is away' });
    await ops.next('chat', (f) => f.text === 'while redis is away');
    expect((await fetch(`${b.http}/healthz`)).status).toBe(200);
    await redis.restart();
    // The subscriber reconnects and resubscribes by itself; then lines cross again.
    let crossed = false;
    for (let i = 0; i < 40 && !crossed; i++) {
      ops.send({ type: 'chat', text: `after ${i}` });
      crossed = await eve.next('chat', (f) => String(f.text).startsWith('after'), 250).then(
        () => true,
        () => false,
      );
    }
    expect(crossed).toBe(true);
    await Promise.all([ops.close(), eve.close(), local.close()]);
  }, 30_000);
});

/**
 * Talkback in a room with `rooms.publish: granted`: real RTMP publishers (ffmpeg) and real room
 * WebSockets. A participant without the floor is refused; a host's grant sends the participant a
 * key it publishes with; presence shows who is live; a camera with a publish token needs no
 * grant; rooms.maxPublishers refuses one more; the camera's audio goes through its clean-up
 * filter before the mix; an audio mute takes a participant out of `_mix`; revoke and kick cut the
 * participant's stream and refuse it again.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createToken } from '../../gateway/auth/tokens.js';
import type { Publisher } from '../helpers/ffmpeg.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { RoomClient } from '../helpers/rooms-client.js';
import { hasTool } from '../helpers/tools.js';
import { bandLevels, toneParticipant } from '../helpers/tones.js';

const enabled = hasTool('ffmpeg');
const keys = { k1: 'talkback-test-secret' };

describe.skipIf(!enabled)('room talkback (rooms.publish: granted)', () => {
  let gw: TestGateway;
  let ops: RoomClient;
  let alice: RoomClient;
  const pubs: Publisher[] = [];
  const start = (path: string, hz: number, query = ''): Publisher => {
    const p = toneParticipant(`${gw.rtmp}/${path}${query}`, hz);
    pubs.push(p);
    return p;
  };
  const live = async (path: string) => {
    const r = await fetch(`${gw.http}/api/v1/streams/${path}`);
    return r.ok && ((await r.json()) as { publisher?: unknown }).publisher !== undefined;
  };
  const refusals = async (reason: string) => {
    const text = await (await fetch(`${gw.http}/metrics`)).text();
    return Number(new RegExp(`^streamgate_refusals_total\\{protocol="rtmp",reason="${reason}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  };

  beforeAll(async () => {
    gw = await startGateway({
      auth: { keys },
      rooms: {
        hostNames: ['ops'],
        publish: 'granted',
        maxPublishers: 2,
        // Takes the camera's 2500 Hz tone off (a stand-in for hum and hiss filters).
        audioCleanup: [{ paths: 'room/t1/cam', filter: 'lowpass=f=300,lowpass=f=300,lowpass=f=300' }],
      },
      transcode: { idleCloseMs: 60_000 },
    });
    ops = await RoomClient.connect(gw.ws, 'room/t1', 'ops');
    alice = await RoomClient.connect(gw.ws, 'room/t1', 'alice');
  }, 30_000);

  afterAll(async () => {
    for (const p of pubs) await p.stop();
    ops?.ws.close();
    alice?.ws.close();
    await gw?.stop();
  });

  test('without the floor a participant is refused; the welcome says where it would publish', async () => {
    expect(alice.welcome).toMatchObject({ stream: 'room/t1/alice', publish: 'granted', floor: 'none' });
    expect(alice.welcome.grant).toBeUndefined();
    const p = start('room/t1/alice', 440);
    await p.exited;
    expect(await live('room/t1/alice')).toBe(false);
    expect(await refusals('SG_ERR_ROOM_NOT_GRANTED')).toBe(1);
  }, 20_000);

  test('a viewer cannot grant; a host grants: only the participant gets the key; it publishes and presence shows it live', async () => {
    alice.send({ type: 'grant', participant: alice.id, ref: 'self' });
    await alice.waitFor(() => alice.of('error').some((e) => e.ref === 'self' && e.code === 'SG_ERR_ROOM_FORBIDDEN'));
    ops.send({ type: 'grant', participant: alice.id, ref: 'g1' });
    await alice.waitFor(() => alice.of('floor').length > 0, 'floor frame');
    await ops.waitFor(() => ops.of('floor').length > 0 && ops.of('ack').some((a) => a.ref === 'g1'));
    const own = alice.of('floor')[0]!;
    expect(own).toMatchObject({ floor: 'granted', stream: 'room/t1/alice', participant: { name: 'alice' }, by: { name: 'ops' } });
    expect(typeof own.grant).toBe('string');
    expect(ops.of('floor')[0]!.grant).toBeUndefined();

    start('room/t1/alice', 440, `?grant=${own.grant}`);
    await ops.waitFor(() => ops.of('live').some((f) => f.live && f.stream.path === 'room/t1/alice'), 'alice live', 15_000);
    expect(ops.of('live').find((f) => f.live)!.stream).toMatchObject({ name: 'alice', protocol: 'rtmp', participant: { id: alice.id, name: 'alice' } });
    const room = (await (await fetch(`${gw.http}/api/v1/rooms/room/t1`)).json()) as any;
    expect(room.participantList.find((p: any) => p.name === 'alice')).toMatchObject({ live: true, floor: 'granted', stream: 'room/t1/alice' });
    expect(room.live.map((s: any) => s.path)).toEqual(['room/t1/alice']);
  }, 30_000);

  test('a camera with a publish token needs no grant and appears live; rooms.maxPublishers refuses a third', async () => {
    const token = createToken(keys, 'k1', 'publish', 'room/t1/**', 600);
    start('room/t1/cam', 2500, `?token=${token}`);
    await ops.waitFor(() => ops.of('live').some((f) => f.live && f.stream.path === 'room/t1/cam'), 'cam live', 15_000);
    expect(ops.of('live').find((f) => f.stream.path === 'room/t1/cam')!.stream.participant).toBeUndefined();
    const third = start('room/t1/carol', 1000, `?token=${token}`);
    await third.exited;
    expect(await live('room/t1/carol')).toBe(false);
    expect(await refusals('SG_ERR_ROOM_PUBLISHER_LIMIT')).toBe(1);
  }, 30_000);

  test('_mix carries alice; the camera\'s tone is taken off by its clean-up filter; an audio mute takes alice out', async () => {
    await waitFor('camera ready', () => gw.gw.registry.get('room/t1/cam')?.ready, 10_000);
    const levels = await bandLevels(`${gw.rtmp}/room/t1/_mix`);
    expect(levels[440]! - levels[3000]!, JSON.stringify(levels)).toBeGreaterThan(20);
    expect(levels[2500]! - levels[3000]!, JSON.stringify(levels)).toBeLessThan(10);

    ops.send({ type: 'mute', participant: alice.id, media: 'audio' });
    await alice.waitFor(() => alice.of('mute').some((m) => m.media === 'audio' && m.muted), 'audio mute frame');
    await waitFor('alice out of the mix', async () => {
      const l = await bandLevels(`${gw.rtmp}/room/t1/_mix`, 2);
      return l[440]! - l[3000]! < 10;
    }, 30_000, 500);
    ops.send({ type: 'unmute', participant: alice.id, media: 'audio' });
    await waitFor('alice back in the mix', async () => {
      const l = await bandLevels(`${gw.rtmp}/room/t1/_mix`, 2);
      return l[440]! - l[3000]! > 20;
    }, 30_000, 500);
  }, 120_000);

  test('revoke cuts the publisher at once and its key no longer publishes', async () => {
    const key = alice.of('floor')[0]!.grant as string;
    const publisher = pubs.find((p) => p.proc.spawnargs.some((a) => a.includes(`grant=${key}`)))!;
    ops.send({ type: 'revoke', participant: alice.id, reason: 'time is up' });
    await alice.waitFor(() => alice.of('floor').some((f) => f.floor === 'revoked'), 'revoked frame');
    expect(alice.of('floor').find((f) => f.floor === 'revoked')).toMatchObject({ reason: 'time is up', by: { name: 'ops' } });
    await publisher.exited;
    await ops.waitFor(() => ops.of('live').some((f) => !f.live && f.stream.path === 'room/t1/alice'), 'alice not live');
    const again = start('room/t1/alice', 440, `?grant=${key}`);
    await again.exited;
    expect(await live('room/t1/alice')).toBe(false);
    expect(await refusals('SG_ERR_ROOM_NOT_GRANTED')).toBe(2);
  }, 30_000);

  test('kick cuts a granted participant\'s stream (API grant, WebSocket kick)', async () => {
    const bob = await RoomClient.connect(gw.ws, 'room/t1', 'bob');
    const grant = await fetch(`${gw.http}/api/v1/rooms/room/t1/participants/${bob.id}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${createToken(keys, 'k1', 'admin', '**', 600)}` },
      body: JSON.stringify({ floor: 'granted' }),
    });
    expect(grant.status).toBe(200);
    expect(await grant.json()).toMatchObject({ name: 'bob', floor: 'granted' });
    await bob.waitFor(() => bob.of('floor').length > 0);
    // The camera still holds one of the two slots: bob takes the other.
    const p = start('room/t1/bob', 1000, `?grant=${bob.of('floor')[0]!.grant}`);
    await waitFor('bob live', () => live('room/t1/bob'), 15_000);
    ops.send({ type: 'kick', participant: bob.id, banMs: 0 });
    await p.exited;
    expect(await live('room/t1/bob')).toBe(false);
    expect((await bob.closed).code).toBe(4403);
  }, 30_000);
});

import { describe, expect, it } from 'vitest';
import { roomsConfigSchema } from '../../../gateway/rooms/config.js';
import { type Connection, Room } from '../../../gateway/rooms/room.js';
import { memoryLogger } from '../../helpers/gateway.js';

class FakeConnection implements Connection {
  frames: Array<Record<string, any>> = [];
  binaries: Buffer[] = [];
  bufferedAmount = 0;
  closedWith: number | undefined;
  /** Bytes each send adds to bufferedAmount (a socket that never drains). */
  constructor(private readonly growth = 0) {}
  send(data: Buffer, binary: boolean): void {
    if (binary) this.binaries.push(data);
    else this.frames.push(JSON.parse(data.toString()));
    this.bufferedAmount += this.growth;
  }
  close(code: number): void {
    this.closedWith ??= code;
  }
  of(type: string) {
    return this.frames.filter((f) => f.type === type);
  }
}

function room(config: Record<string, unknown> = {}) {
  const closed: Room[] = [];
  const r = new Room('live/cam1', roomsConfigSchema.parse(config), undefined, [], 0, { roomClosed: (x) => closed.push(x) }, memoryLogger().log);
  return { r, closed };
}

const text = (frame: unknown) => Buffer.from(JSON.stringify(frame));

describe('Room', () => {
  it('sends one shared Buffer to every participant of a broadcast', () => {
    const { r } = room();
    const seen: Buffer[] = [];
    const conn = (): Connection => ({ bufferedAmount: 0, close: () => {}, send: (d) => seen.push(d) });
    const a = r.join(conn(), 'a', null);
    r.join(conn(), 'b', null);
    seen.length = 0;
    r.handleText(a, text({ type: 'chat', text: 'hi' }));
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBe(seen[1]);
  });

  it('assigns increasing ids across chat and data', () => {
    const { r } = room();
    const c = new FakeConnection();
    const a = r.join(c, 'a', null);
    r.handleText(a, text({ type: 'chat', text: '1' }));
    r.handleText(a, text({ type: 'data', payload: 2 }));
    r.handleText(a, text({ type: 'chat', text: '3' }));
    expect(c.frames.filter((f) => f.id !== undefined).map((f) => [f.type, f.id])).toEqual([['chat', 1], ['data', 2], ['chat', 3]]);
    expect(r.history.list().map((e) => e.message.id)).toEqual([1, 3]);
  });

  it.each([
    { rule: 'names', names: ['ops'], joins: [['x', null], ['ops', null]], roles: ['viewer', 'host'] },
    { rule: 'first', names: [], joins: [['x', null], ['y', null]], roles: ['host', 'viewer'] },
    { rule: 'query', names: [], joins: [['x', 'host'], ['y', null]], roles: ['host', 'viewer'] },
    { rule: 'names', names: [], joins: [['x', 'host']], roles: ['viewer'] },
  ])('decides roles with hostRule $rule and hostNames $names', ({ rule, names, joins, roles }) => {
    const { r } = room({ hostRule: rule, hostNames: names });
    expect(joins.map(([n, q]) => r.join(new FakeConnection(), n!, q!).role)).toEqual(roles);
  });

  it('disconnects a participant whose socket does not drain, and only that one', () => {
    const { r } = room({ maxBufferedBytes: 64 * 1024 });
    const fast = new FakeConnection();
    const slow = new FakeConnection(20 * 1024);
    const a = r.join(fast, 'fast', null);
    r.join(slow, 'slow', null);
    for (let i = 0; i < 5; i++) r.handleText(a, text({ type: 'chat', text: `${i}` }));
    expect(slow.closedWith).toBe(4408);
    expect(slow.of('error').at(-1)).toMatchObject({ code: 'SG_ERR_ROOM_SLOW_CONSUMER' });
    expect(fast.closedWith).toBeUndefined();
    expect(fast.of('chat')).toHaveLength(5);
    expect(fast.of('leave')[0]).toMatchObject({ participant: { name: 'slow' }, reason: 'too slow', count: 1 });
  });

  it('keeps a mute across a reconnect with the same name', () => {
    const { r } = room({ hostNames: ['ops'] });
    const host = r.join(new FakeConnection(), 'ops', null);
    const v = r.join(new FakeConnection(), 'v', null);
    r.handleText(host, text({ type: 'mute', participant: v.id }));
    r.leave(v, 'left');
    const back = new FakeConnection();
    r.join(back, 'v', null);
    expect(back.of('welcome')[0]).toMatchObject({ muted: true });
  });

  it('refuses a join into a closed room and tells its host', () => {
    const { r, closed } = room();
    r.close('done');
    expect(closed).toEqual([r]);
    expect(() => r.join(new FakeConnection(), 'late', null)).toThrow(expect.objectContaining({ code: 'SG_ERR_ROOM_CLOSED' }));
  });
});

describe('Room on the room bus', () => {
  const host = () => {
    const published: Record<string, any>[] = [];
    return { published, host: { roomClosed: () => {}, publish: (_r: Room, e: any) => published.push(e) } };
  };

  it('shows another node’s participant with a local id, and forgets it when that node goes silent', () => {
    const { host: h } = host();
    const r = new Room('room/1', roomsConfigSchema.parse({}), undefined, [], 0, h, memoryLogger().log);
    const conn = new FakeConnection();
    r.join(conn, 'local', null);
    r.applyRemote({ t: 'join', node: 'B', p: { id: 7, name: 'far', role: 'viewer' } }, 'A');
    const joined = conn.of('join').find((f) => f.participant.name === 'far')!;
    expect(joined.count).toBe(2);
    expect(joined.participant.id).not.toBe(7);
    expect(r.participantList().find((p) => p.name === 'far')).toMatchObject({ node: 'B' });
    r.expirePeers(Date.now() - 60_000); // heard from recently: kept
    expect(r.count).toBe(2);
    r.expirePeers(Date.now() + 1);
    expect(r.count).toBe(1);
    expect(conn.of('leave').at(-1)).toMatchObject({ participant: { name: 'far' }, reason: 'node gone', count: 1 });
  });

  it('announces its participants and asks for theirs on the first word from a node', () => {
    const { host: h, published } = host();
    const r = new Room('room/1', roomsConfigSchema.parse({}), undefined, [], 0, h, memoryLogger().log);
    r.join(new FakeConnection(), 'local', null);
    published.length = 0;
    r.applyRemote({ t: 'chat', node: 'B', from: { id: 3, name: 'far', role: 'viewer' }, text: 'hi', ts: 1 }, 'A');
    expect(published.map((e) => e.t)).toEqual(['join', 'sync']);
    published.length = 0;
    r.applyRemote({ t: 'alive', node: 'B' }, 'A');
    expect(published).toEqual([]);
    // A chat line from the bus is not published back.
    expect(r.history.jsonArray(1 << 20)).toContain('"text":"hi"');
  });
});

/** The browser rooms client against a scripted socket: presence, once-and-in-order delivery, close codes. */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { RoomClient } from '../../../player/src/rooms/room-client.js';
import { roomUrls } from '../../../player/src/api/urls.js';

class FakeSocket {
  static readonly OPEN = 1;
  static instances: FakeSocket[] = [];
  readyState = FakeSocket.OPEN;
  sent: string[] = [];
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.instances.push(this);
  }
  send(data: string): void {
    this.sent.push(data);
  }
  close(): void {
    this.readyState = 3;
  }
  /** The server sends a frame. */
  frame(f: Record<string, unknown>): void {
    this.onmessage?.({ data: JSON.stringify(f) });
  }
  /** The server closes. */
  closed(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

const alice = { id: 2, name: 'alice', role: 'viewer' };
const ops = { id: 1, name: 'ops', role: 'host' };
const chat = (id: number, text: string) => ({ type: 'chat', id, from: alice, text, ts: 1_700_000_000_000 + id });

function joinedClient(extra: Partial<ConstructorParameters<typeof RoomClient>[0]> = {}) {
  const client = new RoomClient({ server: 'http://gw:8080', room: 'room/42', name: 'alice', token: 's3cret', ...extra });
  const events = { chat: [] as string[], states: [] as string[], counts: [] as number[], errors: [] as string[] };
  client.on('chat', (m) => events.chat.push(m.text));
  client.on('state', (s) => events.states.push(s.state));
  client.on('presence', (p) => events.counts.push(p.count));
  client.on('error', (e) => events.errors.push(e.code));
  client.connect();
  const ws = FakeSocket.instances.at(-1)!;
  ws.frame({ type: 'welcome', room: 'room/42', you: alice, muted: false });
  ws.frame({ type: 'participants', count: 2, participants: [ops, alice] });
  return { client, ws, events };
}

describe('RoomClient', () => {
  beforeEach(() => {
    FakeSocket.instances = [];
    vi.stubGlobal('WebSocket', FakeSocket);
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  test('joins the room WebSocket with the name and the token from the page', () => {
    const { client, ws } = joinedClient();
    expect(ws.url).toBe('ws://gw:8080/api/v1/rooms/room/42/ws?name=alice&token=s3cret');
    expect(client.state).toBe('joined');
    expect(client.self).toEqual(alice);
    expect(roomUrls('room/42', { server: 'https://gw', token: 'a b' }).api).toBe('https://gw/api/v1/rooms/room/42?token=a%20b');
  });

  test('keeps the participant list from participants, join and leave', () => {
    const { client, ws, events } = joinedClient();
    ws.frame({ type: 'join', participant: { id: 3, name: 'bob', role: 'viewer' }, count: 3 });
    expect(client.participantList.map((p) => p.name).sort()).toEqual(['alice', 'bob', 'ops']);
    ws.frame({ type: 'leave', participant: ops, count: 2, reason: 'left' });
    expect(client.participantList.map((p) => p.name).sort()).toEqual(['alice', 'bob']);
    expect(events.counts).toEqual([2, 3, 2]);
  });

  test('delivers each message once, in server order, across a history replay', () => {
    const { ws, events } = joinedClient();
    ws.frame({ type: 'history', messages: [chat(1, 'one'), chat(2, 'two')] });
    ws.frame(chat(3, 'three'));
    ws.frame(chat(3, 'three'));
    ws.frame({ type: 'history', messages: [chat(2, 'two'), chat(3, 'three'), chat(4, 'four')] });
    expect(events.chat).toEqual(['one', 'two', 'three', 'four']);
  });

  test('sends chat and data frames only while joined', () => {
    const { client, ws } = joinedClient();
    expect(client.sendChat('<b>hi</b>')).toBe(true);
    expect(client.sendData('host', { kind: 'raise-hand' })).toBe(true);
    expect(ws.sent.map((s) => JSON.parse(s))).toEqual([{ type: 'chat', text: '<b>hi</b>' }, { type: 'data', to: 'host', payload: { kind: 'raise-hand' } }]);
    ws.closed(1006);
    expect(client.sendChat('lost')).toBe(false);
  });

  test.each([
    [4401, 'SG_ERR_UNAUTHORIZED', 'unauthorized'],
    [4403, 'SG_ERR_FORBIDDEN', 'unauthorized'],
    [4403, 'SG_ERR_ROOM_KICKED', 'refused'],
    [4409, 'SG_ERR_ROOM_FULL', 'refused'],
    [4410, 'SG_ERR_ROOM_CLOSED', 'refused'],
  ])('close %i after %s: state %s, no reconnect', (code, errorCode, state) => {
    const client = new RoomClient({ server: 'http://gw:8080', room: 'room/42', name: 'eve' });
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    client.connect();
    const ws = FakeSocket.instances[0]!;
    ws.frame({ type: 'error', code: errorCode, message: 'no' });
    ws.closed(code, errorCode);
    expect(client.state).toBe(state);
    expect(errors).toEqual([errorCode]);
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.instances).toHaveLength(1);
  });

  test('a dropped connection reconnects with backoff; the replayed history is not shown twice', () => {
    const { ws, events } = joinedClient();
    ws.frame(chat(1, 'one'));
    ws.closed(1006);
    expect(events.states.at(-1)).toBe('connecting');
    vi.advanceTimersByTime(1000);
    expect(FakeSocket.instances).toHaveLength(2);
    const again = FakeSocket.instances[1]!;
    again.frame({ type: 'welcome', room: 'room/42', you: alice, muted: false });
    again.frame({ type: 'history', messages: [chat(1, 'one'), chat(2, 'two')] });
    expect(events.chat).toEqual(['one', 'two']);
    expect(events.states.at(-1)).toBe('joined');
  });

  test('after a gateway restart the ids start over: lastMessageId in welcome makes new messages count as new', () => {
    const { ws, events } = joinedClient();
    ws.frame(chat(10, 'ten'));
    ws.frame({ type: 'data', id: 15, from: alice, to: 'all', ts: 1, payload: 1 }); // data ids are not persisted
    ws.closed(1001);
    vi.advanceTimersByTime(1000);
    const again = FakeSocket.instances[1]!;
    again.frame({ type: 'welcome', room: 'room/42', you: alice, muted: false, lastMessageId: 10 });
    again.frame({ type: 'history', messages: [chat(10, 'ten')] });
    again.frame(chat(11, 'eleven'));
    expect(events.chat).toEqual(['ten', 'eleven']);
  });

  test('close() is final and idempotent', () => {
    const { client, ws } = joinedClient();
    client.close();
    client.close();
    expect(client.state).toBe('closed');
    expect(ws.readyState).toBe(3);
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.instances).toHaveLength(1);
  });
});

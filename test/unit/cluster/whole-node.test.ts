import { describe, expect, it } from 'vitest';
import { type ApiPart, wholeNodeRoute } from '../../../gateway/cluster/whole-node.js';

const JSON_TYPE = 'application/json; charset=utf-8';
const part = (worker: number, status: number, body: unknown): ApiPart => ({ worker, status, type: JSON_TYPE, body: JSON.stringify(body) });

describe('whole-node routes', () => {
  it.each([
    ['GET', '/api/v1/streams/live/cam1', 'all'],
    ['DELETE', '/api/v1/streams/live/cam1', 'all'],
    ['GET', '/api/v1/webrtc/sessions', 'all'],
    ['GET', '/api/v1/srt/connections', 'all'],
    ['GET', '/api/v1/recordings', 'all'],
    ['GET', '/api/v1/renditions', 'all'],
    ['PATCH', '/api/v1/renditions/live/cam1_h264', 'all'],
    ['GET', '/api/v1/sources', 'all'],
    ['POST', '/api/v1/sources', 'first'],
    ['DELETE', '/api/v1/sources/cams/door', 'first'],
    ['POST', '/api/v1/streams/live/cam1/record', 'owner'],
    ['GET', '/api/v1/streams/live/cam1/snapshot.jpg', undefined],
    ['GET', '/api/v1/streams', undefined],
    ['GET', '/api/v1/server', undefined],
    ['GET', '/api/v1/rooms/room/a', undefined],
  ])('%s %s is answered by %s', (method, path, kind) => {
    expect(wholeNodeRoute(method, path)?.target.kind).toBe(kind);
  });

  it('names the path a recording request is forwarded for', () => {
    expect(wholeNodeRoute('POST', '/api/v1/streams/live/cam%201/record')?.target).toEqual({ kind: 'owner', path: 'live/cam 1' });
  });

  it("merges a stream's entries: the owner's, readers of every worker, relays not counted", () => {
    const owner = { path: 'live/x', publisher: { protocol: 'rtmp' }, readers: { count: 3, flv: 3 }, bitrateKbps: { in: 2000, out: 6000 }, readerList: [{ id: 1 }, { id: 2 }, { id: 3, relay: true }] };
    const relay = { path: 'live/x', publisher: { protocol: 'edge-pull' }, readers: { count: 2, flv: 2 }, bitrateKbps: { in: 2000, out: 4000 }, readerList: [{ id: 1 }, { id: 2 }] };
    const answer = wholeNodeRoute('GET', '/api/v1/streams/live/x')!.merge([part(1, 200, relay), part(0, 200, owner)]);
    const body = JSON.parse(answer.body);
    expect(answer.status).toBe(200);
    expect(body).toMatchObject({ publisher: { protocol: 'rtmp' }, readers: { count: 4, flv: 4 }, bitrateKbps: { in: 2000, out: 10000 } });
    expect(body.readerList.map((r: { worker: number }) => r.worker).sort()).toEqual([0, 0, 1, 1]);
    expect(body.workers).toHaveLength(2);
  });

  it('answers 404 when no worker has the stream', () => {
    const missing = { error: { code: 'SG_ERR_STREAM_NOT_FOUND' } };
    expect(wholeNodeRoute('GET', '/api/v1/streams/live/x')!.merge([part(0, 404, missing), part(1, 404, missing)]).status).toBe(404);
  });

  it('a kick succeeds when one worker had the stream', () => {
    const answer = wholeNodeRoute('DELETE', '/api/v1/streams/live/x')!.merge([part(0, 404, {}), { worker: 1, status: 204, type: '', body: '' }]);
    expect(answer.status).toBe(204);
  });

  it('concatenates lists with their worker, recordings once per file, flags or-ed', () => {
    const a = { enabled: false, recordings: [{ id: 'r/1' }], sessions: [{ path: 'live/x' }] };
    const b = { enabled: true, recordings: [{ id: 'r/1' }, { id: 'r/2' }], sessions: [] };
    const body = JSON.parse(wholeNodeRoute('GET', '/api/v1/recordings')!.merge([part(1, 200, b), part(0, 200, a)]).body);
    expect(body).toEqual({ enabled: true, recordings: [{ worker: 0, id: 'r/1' }, { worker: 1, id: 'r/2' }], sessions: [{ worker: 0, path: 'live/x' }] });
  });
});

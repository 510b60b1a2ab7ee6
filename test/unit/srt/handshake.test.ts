import { describe, expect, it } from 'vitest';
import { InvalidPathError, InvalidRequestError, srtRejectReasonOf, PublisherConflictError } from '../../../gateway/core/errors.js';
import { ForbiddenError, UnauthorizedError } from '../../../gateway/auth/errors.js';
import { buildRejection, encodeSid, HS_CONCLUSION, HS_INDUCTION, parseHandshake, rejectionReason } from '../../../gateway/protocols/srt/handshake.js';
import { maskStreamId, parseStreamId } from '../../../gateway/protocols/srt/stream-id.js';

/** A handshake control packet as libsrt sends it (draft-sharabayko-srt §3.2.1), with extensions. */
function handshake(o: { version: number; type: number; socketId?: number; cookie?: number; sid?: string; kmreq?: boolean }): Buffer {
  const exts: Buffer[] = [];
  const ext = (type: number, body: Buffer) => {
    const h = Buffer.alloc(4);
    h.writeUInt16BE(type, 0);
    h.writeUInt16BE(body.length / 4, 2);
    exts.push(h, body);
  };
  ext(1, Buffer.alloc(12)); // HSREQ
  if (o.kmreq) ext(3, Buffer.alloc(24));
  if (o.sid !== undefined) ext(5, encodeSid(o.sid));
  const p = Buffer.alloc(64);
  p.writeUInt32BE(0x80000000, 0);
  p.writeUInt32BE(o.socketId ?? 0, 12);
  p.writeUInt32BE(o.version, 16);
  p.writeUInt32BE(o.type >>> 0, 36);
  p.writeUInt32BE(0x1234abcd, 40);
  p.writeUInt32BE(o.cookie ?? 0, 44);
  return Buffer.concat([p, ...exts]);
}

describe('SRT handshake', () => {
  it('reads an induction request', () => {
    expect(parseHandshake(handshake({ version: 4, type: HS_INDUCTION }))).toMatchObject({ version: 4, type: HS_INDUCTION, streamId: undefined, encrypted: false });
  });

  it.each(['#!::r=live/cam1,m=publish,t=abc', 'live/cam1', 'a', 'abcd', 'abcde', 'ünï/cödé'])('reads the stream id %j from a conclusion (words little-endian)', (sid) => {
    const hs = parseHandshake(handshake({ version: 5, type: HS_CONCLUSION, sid, kmreq: true }))!;
    expect(hs.streamId).toBe(sid);
    expect(hs.encrypted).toBe(true);
    expect(hs.socketId).toBe(0x1234abcd);
  });

  it('matches the byte order libsrt puts on the wire', () => {
    // libsrt (ffmpeg 5.1 / libsrt 1.5, the integration tests) sends "live/cam1" as the words "evil" "mac/" "\0\0\01".
    expect(encodeSid('live/cam1')).toEqual(Buffer.from('evilmac/\0\0\x001', 'latin1'));
  });

  it('ignores packets that are not handshakes, and truncated extensions', () => {
    expect(parseHandshake(Buffer.alloc(64))).toBeUndefined(); // a data packet
    expect(parseHandshake(Buffer.alloc(10, 0x80))).toBeUndefined();
    const hs = handshake({ version: 5, type: HS_CONCLUSION, sid: 'live/cam1' });
    expect(parseHandshake(hs.subarray(0, hs.length - 2))).toBeUndefined();
  });

  it('builds a rejection addressed to the caller, with 1000 + reason as handshake type', () => {
    const req = parseHandshake(handshake({ version: 5, type: HS_CONCLUSION, sid: 'x/y', cookie: 77 }))!;
    const rej = parseHandshake(buildRejection(req, 1403, 9))!;
    expect(rej.type).toBe(2403);
    expect(rejectionReason(rej)).toBe(1403);
    expect(rej.cookie).toBe(77);
    expect(buildRejection(req, 1403, 9).readUInt32BE(12)).toBe(0x1234abcd);
    expect(rejectionReason(req)).toBeUndefined();
  });

  it.each([
    { error: new UnauthorizedError('x'), reason: 1401 },
    { error: new ForbiddenError('x'), reason: 1403 },
    { error: new PublisherConflictError('live/a'), reason: 1409 },
    { error: new InvalidPathError('..'), reason: 1400 },
    { error: new Error('not ours'), reason: 1500 },
  ])('answers $error.name with rejection reason $reason', ({ error, reason }) => {
    expect(srtRejectReasonOf(error)).toBe(reason);
  });
});

describe('SRT stream id', () => {
  it.each([
    { id: '#!::r=live/cam1,m=publish', path: 'live/cam1', mode: 'publish', query: {} },
    { id: '#!::r=live/cam1,m=publish,t=TOKEN', path: 'live/cam1', mode: 'publish', query: { token: 'TOKEN' } },
    { id: '#!::m=publish,r=live/cam1,token=T2,u=alice', path: 'live/cam1', mode: 'publish', query: { token: 'T2', u: 'alice' } },
    { id: '#!::r=live/cam1,m=publish,t=stream', path: 'live/cam1', mode: 'publish', query: {} },
    { id: '#!::r=live/cam1', path: 'live/cam1', mode: 'request', query: {} },
    { id: '#!::r=live/cam1,m=request', path: 'live/cam1', mode: 'request', query: {} },
    { id: 'live/cam1', path: 'live/cam1', mode: 'publish', query: {} },
    { id: 'live/cam1?token=abc', path: 'live/cam1', mode: 'publish', query: { token: 'abc' } },
    { id: 'publish:live/cam1:bob:pw', path: 'live/cam1', mode: 'publish', query: { user: 'bob', token: 'pw' } },
    { id: 'read:live/cam1', path: 'live/cam1', mode: 'request', query: {} },
  ])('$id', ({ id, path, mode, query }) => {
    expect(parseStreamId(id)).toEqual({ path, mode, query });
  });

  it.each([
    { id: undefined, error: InvalidRequestError, says: 'no streamid' },
    { id: '', error: InvalidRequestError, says: 'no streamid' },
    { id: '#!::m=publish', error: InvalidRequestError, says: 'no resource' },
    { id: '#!::r=live/cam1,m=bidirectional', error: InvalidRequestError, says: 'supported: publish, request' },
    { id: '#!::r=live/cam1,junk', error: InvalidRequestError, says: 'not key=value' },
    { id: '#!::r=../etc,m=publish', error: InvalidPathError, says: 'invalid stream path' },
    { id: 'cam1', error: InvalidPathError, says: 'invalid stream path' },
  ])('refuses $id', ({ id, error, says }) => {
    expect(() => parseStreamId(id)).toThrow(error);
    expect(() => parseStreamId(id)).toThrow(says);
  });
});

describe('SRT stream id in logs', () => {
  it.each([
    ['#!::r=live/cam1,m=publish,t=SECRET', '#!::r=live/cam1,m=publish,t=***'],
    ['#!::t=SECRET,r=live/cam1', '#!::t=***,r=live/cam1'],
    ['#!::r=live/cam1,token=SECRET,u=bob', '#!::r=live/cam1,token=***,u=bob'],
    ['live/cam1?token=SECRET', 'live/cam1?token=***'],
    ['publish:live/cam1:bob:SECRET', 'publish:live/cam1:bob:***'],
    ['live/cam1', 'live/cam1'],
  ])('masks %s', (id, masked) => {
    expect(maskStreamId(id)).toBe(masked);
  });
});

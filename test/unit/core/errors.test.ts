import { PassThrough } from 'node:stream';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ForbiddenError, UnauthorizedError } from '../../../gateway/auth/errors.js';
import { CodecError } from '../../../gateway/codecs/errors.js';
import {
  ERRORS,
  httpStatusOf,
  InternalError,
  InvalidPathError,
  ProtocolError,
  PublisherConflictError,
  rtmpStatusOf,
  rtspStatusOf,
  StreamEndedError,
  StreamNotFoundError,
  UnsupportedCodecError,
  wsCloseCodeOf,
} from '../../../gateway/core/errors.js';
import { rejectUpgrade } from '../../../gateway/http/errors.js';
import { HlsBadRequestError, HlsTimeoutError } from '../../../gateway/protocols/hls/errors.js';
import { SourceUnavailableError } from '../../../gateway/sources/source.js';
import { RecordDiskFullError } from '../../../gateway/record/errors.js';
import { RoomError } from '../../../gateway/rooms/errors.js';
import { SnapshotError, TranscodeLimitError, TranscodeStartError } from '../../../transcode/errors.js';

describe('one status table for every protocol', () => {
  // [error, HTTP, RTSP, WebSocket close]: what the FLV, HLS, API, RTSP and rooms code answered before the table.
  const cases: [Error, number, number, number][] = [
    [new PublisherConflictError('live/a'), 409, 409, 4409],
    [new StreamNotFoundError('live/a'), 404, 404, 4404],
    [new InvalidPathError('../x'), 400, 400, 4400],
    [new UnsupportedCodecError('VP8', ['H264']), 415, 415, 4415],
    [new ProtocolError('rtmp', 'bad chunk'), 502, 400, 4502],
    [new UnauthorizedError('token required'), 401, 401, 4401],
    [new ForbiddenError('wrong key'), 403, 403, 4403],
    [new SourceUnavailableError('cams/a', 'refused'), 502, 503, 4502],
    [new StreamEndedError('live/a', 'gone'), 502, 503, 4502],
    [new HlsTimeoutError('slow'), 503, 503, 4503],
    [new HlsBadRequestError('too far'), 400, 400, 4400],
    [new RecordDiskFullError('live/a', 'full'), 507, 503, 4507],
    [new TranscodeStartError('live/a_h264', 'exit 1'), 502, 503, 4502],
    [new TranscodeLimitError('live/a_h264', '2 transcode jobs are running already'), 503, 503, 4503],
    [new RoomError('SG_ERR_ROOM_FULL', 'full'), 409, 503, 4409],
    [new RoomError('SG_ERR_ROOM_LIMIT', 'limit'), 503, 503, 4409],
    [new RoomError('SG_ERR_ROOM_BANNED', 'banned'), 403, 403, 4403],
    [new RoomError('SG_ERR_ROOM_CLOSED', 'closed'), 410, 410, 4410],
    [new RoomError('SG_ERR_ROOM_SLOW_CONSUMER', 'slow'), 400, 503, 4408],
    [new RoomError('SG_ERR_ROOM_STORAGE', 'disk'), 503, 503, 4400],
    [new InternalError(new TypeError('bug')), 500, 500, 1011],
    [new CodecError('bad SPS'), 500, 500, 1011],
    [new Error('not ours'), 500, 500, 1011],
  ];
  it.each(cases)('%s', (error, http, rtsp, ws) => {
    expect([httpStatusOf(error), rtspStatusOf(error), wsCloseCodeOf(error)]).toEqual([http, rtsp, ws]);
  });

  it('a thrower can give one instance another HTTP status; RTSP and close code stay the code’s', () => {
    const error = new RoomError('SG_ERR_ROOM_CLOSED', 'the gateway is stopping', 503);
    expect([httpStatusOf(error), rtspStatusOf(error), wsCloseCodeOf(error)]).toEqual([503, 410, 4410]);
    expect(httpStatusOf(new SnapshotError('live/a', 'no keyframe', 503))).toBe(503);
  });

  it('express errors that are not ours keep their HTTP status', () => {
    expect(httpStatusOf(Object.assign(new Error('request entity too large'), { status: 413 }))).toBe(413);
    expect(httpStatusOf(Object.assign(new Error('odd'), { status: 200 }))).toBe(500);
  });

  it('RTMP refuses a publish with BadName and a play with StreamNotFound or Failed', () => {
    expect(rtmpStatusOf(new PublisherConflictError('live/a'), 'publish')).toBe('NetStream.Publish.BadName');
    expect(rtmpStatusOf(new UnauthorizedError('x'), 'publish')).toBe('NetStream.Publish.BadName');
    expect(rtmpStatusOf(new StreamNotFoundError('live/a'), 'play')).toBe('NetStream.Play.StreamNotFound');
    expect(rtmpStatusOf(new ForbiddenError('x'), 'play')).toBe('NetStream.Play.Failed');
    expect(rtmpStatusOf(new Error('not ours'), 'play')).toBe('NetStream.Play.Failed');
  });

  it('every WebSocket close code is a valid one (RFC 6455 §7.4: 1000-1014 or 4000-4999)', () => {
    for (const [code, row] of Object.entries(ERRORS)) expect(row.ws >= 4000 && row.ws <= 4999 || row.ws === 1011, code).toBe(true);
  });
});

describe('rejectUpgrade', () => {
  function refused(error: unknown): string {
    const socket = new PassThrough();
    let written = '';
    socket.on('data', (chunk: Buffer) => (written += chunk.toString()));
    rejectUpgrade(socket as unknown as Socket, error);
    return written;
  }

  it('writes the error’s HTTP status, reason and JSON body, then ends the socket', () => {
    const text = refused(new StreamNotFoundError('live/x'));
    expect(text.split('\r\n')[0]).toBe('HTTP/1.1 404 Not Found');
    expect(text).toContain('Connection: close');
    const body = text.slice(text.indexOf('\r\n\r\n') + 4);
    expect(JSON.parse(body)).toEqual({ error: { code: 'SG_ERR_STREAM_NOT_FOUND', message: 'no stream is published at live/x' } });
    expect(text).toContain(`Content-Length: ${Buffer.byteLength(body)}`);
  });

  it('answers an error that is not ours with 500 and SG_ERR_INTERNAL', () => {
    const text = refused(new Error('boom'));
    expect(text.split('\r\n')[0]).toBe('HTTP/1.1 500 Internal Server Error');
    expect(text).toContain('"code":"SG_ERR_INTERNAL"');
  });
});

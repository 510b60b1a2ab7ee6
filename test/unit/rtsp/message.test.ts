import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseAvcDecoderConfig } from '../../../gateway/codecs/h264.js';
import { parseChallenges, RtspAuthenticator } from '../../../gateway/protocols/rtsp/auth.js';
import { parseSession, parseTransport, RtspParser, type RtspMessage } from '../../../gateway/protocols/rtsp/message.js';
import { buildSdp, mediaTracks, parseSdp } from '../../../gateway/formats/rtp/sdp.js';
import { aacTrackFromConfig, g711Track, videoTrackFromConfig } from '../../../gateway/formats/tracks.js';
import { FFMPEG_AVCC, hex } from '../codecs/vectors.js';

function collect(chunks: Buffer[], limits?: { maxHeaderBytes: number; maxHeaders: number; maxBodyBytes: number }) {
  const messages: RtspMessage[] = [];
  const frames: { channel: number; payload: string }[] = [];
  const p = new RtspParser({ message: (m) => messages.push(m), interleaved: (channel, payload) => frames.push({ channel, payload: payload.toString() }) }, limits);
  for (const c of chunks) p.push(c);
  return { messages, frames };
}

const STREAM = Buffer.concat([
  Buffer.from('ANNOUNCE rtsp://h/live/x RTSP/1.0\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n'),
  Buffer.from('$\x00\x00\x03abc'),
  Buffer.from('RTSP/1.0 200 OK\r\nCSeq: 3\r\nsession: 1234;timeout=30\r\n\r\n'),
  Buffer.from('$\x03\x00\x02zz'),
]);

describe('RtspParser', () => {
  it('parses requests, responses and interleaved frames from one stream', () => {
    const { messages, frames } = collect([STREAM]);
    expect(messages.map((m) => (m.kind === 'request' ? m.method : m.status))).toEqual(['ANNOUNCE', 200]);
    expect(messages[0]!.body.toString()).toBe('v=0\r\n');
    expect(messages[1]!.headers.get('session')).toBe('1234;timeout=30');
    expect(frames).toEqual([
      { channel: 0, payload: 'abc' },
      { channel: 3, payload: 'zz' },
    ]);
  });

  it('gives the same result however the bytes are split', () => {
    const whole = collect([STREAM]);
    for (let cut = 1; cut < STREAM.length; cut++) {
      const split = collect([STREAM.subarray(0, cut), STREAM.subarray(cut)]);
      expect(split.frames).toEqual(whole.frames);
      expect(split.messages.map((m) => m.body.toString())).toEqual(whole.messages.map((m) => m.body.toString()));
    }
    const bytewise = collect([...STREAM].map((b) => Buffer.from([b])));
    expect(bytewise.frames).toEqual(whole.frames);
  });

  const limits = { maxHeaderBytes: 1024, maxHeaders: 8, maxBodyBytes: 2048 };
  it.each([
    { name: 'a head past the size limit', input: 'OPTIONS rtsp://h/a/b RTSP/1.0\r\nX: ' + 'a'.repeat(2000), error: /exceeds 1024 bytes/ },
    { name: 'too many header lines', input: 'OPTIONS rtsp://h/a/b RTSP/1.0\r\n' + 'X: 1\r\n'.repeat(9) + '\r\n', error: /exceed the limit of 8/ },
    { name: 'a body past the limit', input: 'ANNOUNCE rtsp://h/a/b RTSP/1.0\r\nContent-Length: 4096\r\n\r\n', error: /body of 4096 bytes exceeds/ },
    { name: 'a bad Content-Length', input: 'ANNOUNCE rtsp://h/a/b RTSP/1.0\r\nContent-Length: -1\r\n\r\n', error: /bad Content-Length/ },
    { name: 'a malformed request line', input: 'OPTIONS rtsp://h/a/b HTTP/1.1\r\n\r\n', error: /malformed request line/ },
    { name: 'a header line without a colon', input: 'OPTIONS * RTSP/1.0\r\nnonsense\r\n\r\n', error: /malformed header line/ },
    { name: 'binary garbage', input: '\x00\x01\x02\xff garbage', error: /garbage on the connection/ },
  ])('rejects $name', ({ input, error }) => {
    expect(() => collect([Buffer.from(input, 'latin1')], limits)).toThrow(error);
  });
});

describe('Transport and Session headers', () => {
  it.each([
    { header: 'RTP/AVP/TCP;unicast;interleaved=0-1', want: { protocol: 'tcp', interleaved: [0, 1], multicast: false } },
    { header: 'RTP/AVP;unicast;client_port=5000-5001;mode=record', want: { protocol: 'udp', clientPort: [5000, 5001], mode: 'RECORD' } },
    { header: 'RTP/AVP/UDP;unicast;client_port=6000', want: { protocol: 'udp', clientPort: [6000, 6001] } },
    { header: 'RTP/SAVP;unicast, RTP/AVP/TCP;interleaved=4-5', want: { protocol: 'tcp', interleaved: [4, 5] } },
    { header: 'RTP/AVP;multicast', want: { protocol: 'udp', multicast: true } },
  ])('parses $header', ({ header, want }) => {
    expect(parseTransport(header)).toMatchObject(want);
  });

  it.each([
    { header: undefined, error: /without a Transport header/ },
    { header: 'RTP/SAVP;unicast', error: /unsupported transport "RTP\/SAVP"; supported: RTP\/AVP \(UDP\), RTP\/AVP\/TCP/ },
    { header: 'RTP/AVP/TCP;interleaved=x', error: /bad interleaved/ },
    { header: 'RTP/AVP/TCP;interleaved=300-301', error: /out of range 0-255/ },
    { header: 'RTP/AVP;client_port=70000-70001', error: /out of range/ },
  ])('rejects $header', ({ header, error }) => {
    expect(() => parseTransport(header)).toThrow(error);
  });

  it('reads the session id and timeout', () => {
    expect(parseSession('abc123;timeout=30')).toEqual({ id: 'abc123', timeoutS: 30 });
    expect(parseSession('abc123')).toEqual({ id: 'abc123', timeoutS: 60 });
  });
});

const FFMPEG_SDP = [
  'v=0',
  'o=- 0 0 IN IP4 127.0.0.1',
  's=No Name',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'a=tool:libavformat 59.27.100',
  'm=video 0 RTP/AVP 96',
  'a=rtpmap:96 H264/90000',
  'a=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z2QADKzZQUH7ARAAAAMAEAAAAwMg8UKZYA==,aOvjyyLA; profile-level-id=64000C',
  'a=control:streamid=0',
  'm=audio 0 RTP/AVP 97',
  'b=AS:64',
  'a=rtpmap:97 MPEG4-GENERIC/44100/1',
  'a=fmtp:97 profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3; config=120856E500',
  'a=control:streamid=1',
  '',
].join('\r\n');

describe('SDP', () => {
  it("maps ffmpeg's ANNOUNCE SDP to H.264 and AAC tracks", () => {
    const tracks = mediaTracks(parseSdp(FFMPEG_SDP));
    expect(tracks.map((t) => [t.codec, t.media.control, t.clockRate])).toEqual([
      ['H264', 'streamid=0', 90000],
      ['AAC', 'streamid=1', 44100],
    ]);
    expect(tracks[0]!.track).toMatchObject({ kind: 'video', width: 320, height: 240 });
    expect(tracks[1]!.track).toMatchObject({ kind: 'audio', sampleRate: 44100, channels: 1 });
    expect(tracks[1]!.aac).toEqual({ sizeLength: 13, indexLength: 3, indexDeltaLength: 3 });
  });

  it('round-trips hub tracks through buildSdp with complete parameter sets', () => {
    const video = videoTrackFromConfig('H264', hex(FFMPEG_AVCC[0].record));
    const aac = aacTrackFromConfig(Buffer.from('1210', 'hex'));
    for (const audio of [aac, g711Track('PCMA'), g711Track('PCMU')]) {
      const tracks = mediaTracks(parseSdp(buildSdp([video, audio], 'live/x')));
      const { config: _c, ...fields } = video;
      expect(tracks[0]!.track).toMatchObject(fields);
      expect(parseAvcDecoderConfig(tracks[0]!.track!.config)).toMatchObject({ sps: parseAvcDecoderConfig(video.config).sps, pps: parseAvcDecoderConfig(video.config).pps });
      expect(tracks[1]!.track).toEqual(audio);
      expect(tracks.map((t) => t.media.control)).toEqual(['trackID=0', 'trackID=1']);
    }
  });

  it('a video track without sprop-parameter-sets waits for in-band ones', () => {
    const tracks = mediaTracks(parseSdp('v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n'));
    expect(tracks[0]!.track).toBeUndefined();
  });

  it.each([
    { name: 'not SDP', sdp: 'hello', error: /must start with v=0/ },
    { name: 'no media', sdp: 'v=0\r\ns=x\r\n', error: /no media/ },
    { name: 'a bad media line', sdp: 'v=0\r\nm=video x\r\n', error: /bad SDP media line/ },
    { name: 'a bad line', sdp: 'v=0\r\nthis is not sdp\r\n', error: /bad SDP line/ },
    { name: 'too large', sdp: 'v=0\r\n' + 'a=x\r\n'.repeat(20000), error: /exceeds 65536/ },
  ])('rejects $name', ({ sdp, error }) => {
    expect(() => parseSdp(sdp)).toThrow(error);
  });

  it('refuses unsupported codecs naming the supported ones', () => {
    const sdp = 'v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\nm=audio 0 RTP/AVP 110\r\na=rtpmap:110 speex/16000\r\n';
    expect(() => mediaTracks(parseSdp(sdp))).toThrow('unsupported codec video VP8, audio SPEEX; supported: H264, H265, MPEG4-GENERIC (AAC), PCMA, PCMU, OPUS');
  });

  it('keeps the supported tracks of a mixed SDP', () => {
    const sdp = 'v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\nm=audio 0 RTP/AVP 8\r\n';
    expect(mediaTracks(parseSdp(sdp)).map((t) => t.codec)).toEqual(['PCMA']);
  });

});

describe('camera authentication', () => {
  it('parses Basic and Digest challenges from one header', () => {
    const c = parseChallenges('Digest realm="GStreamer RTSP Server", nonce="abc,def", Basic realm="cam"');
    expect(c.map((x) => x.scheme)).toEqual(['digest', 'basic']);
    expect(c[0]!.params.get('nonce')).toBe('abc,def');
    expect(c[1]!.params.get('realm')).toBe('cam');
  });

  it('answers Basic', () => {
    const a = new RtspAuthenticator('user', 'secret');
    expect(a.accept('Basic realm="x"')).toBe(true);
    expect(a.header('DESCRIBE', 'rtsp://h/a')).toBe(`Basic ${Buffer.from('user:secret').toString('base64')}`);
  });

  it('answers Digest without qop as RFC 2617 §3.2.2.1 computes it', () => {
    const a = new RtspAuthenticator('user', 'secret');
    expect(a.accept('Basic realm="x", Digest realm="r", nonce="n0"')).toBe(true);
    const md5 = (s: string) => createHash('md5').update(s).digest('hex');
    const expected = md5(`${md5('user:r:secret')}:n0:${md5('DESCRIBE:rtsp://h/a')}`);
    expect(a.header('DESCRIBE', 'rtsp://h/a')).toContain(`response="${expected}"`);
  });

  it('answers Digest with qop=auth using nc and cnonce', () => {
    const a = new RtspAuthenticator('user', 'secret');
    a.accept('Digest realm="r", nonce="n0", qop="auth"');
    const h = a.header('SETUP', 'rtsp://h/a/trackID=0')!;
    const cnonce = /cnonce="([^"]+)"/.exec(h)![1];
    const md5 = (s: string) => createHash('md5').update(s).digest('hex');
    const expected = md5(`${md5('user:r:secret')}:n0:00000001:${cnonce}:auth:${md5('SETUP:rtsp://h/a/trackID=0')}`);
    expect(h).toContain(`response="${expected}"`);
    expect(h).toContain('nc=00000001');
  });
});

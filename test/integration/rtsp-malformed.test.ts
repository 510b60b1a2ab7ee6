/**
 * Malformed RTSP input closes that session with a clear logged error (naming the peer), never
 * the process: the gateway keeps serving other connections.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway, waitFor } from '../helpers/gateway.js';

/** Sends `steps` (waiting for an answer after each request) and resolves when the server closes. */
function session(port: number, steps: (string | Buffer)[]): Promise<{ text: string; closed: boolean; local: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    let i = 0;
    let local = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false, local });
    }, 5000);
    const next = () => {
      if (i >= steps.length) return;
      const step = steps[i++]!;
      socket.write(step);
      // Requests get an answer first; raw bytes (interleaved, garbage) go out back to back.
      if (typeof step !== 'string' || !step.includes('RTSP/1.0')) setImmediate(next);
    };
    socket.on('connect', () => {
      local = `127.0.0.1:${socket.localPort}`;
      next();
    });
    socket.on('data', (d) => {
      text += d.toString('latin1');
      if (/\r\n\r\n/.test(text)) next();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true, local });
    });
  });
}

const SDP = 'v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:streamid=0\r\n';

function req(method: string, url: string, cseq: number, headers: string[] = [], body = ''): string {
  const h = [`${method} ${url} RTSP/1.0`, `CSeq: ${cseq}`, ...headers];
  if (body) h.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return h.join('\r\n') + '\r\n\r\n' + body;
}

describe('malformed RTSP input', () => {
  let gw: TestGateway;
  let port: number;

  beforeAll(async () => {
    gw = await startGateway({ rtsp: { maxHeaderBytes: 4096, maxHeaders: 32, maxBodyBytes: 8192 } });
    port = Number(new URL(gw.rtsp).port);
  });

  afterAll(async () => {
    await gw?.stop();
  });

  const publishSteps = (path: string) => [
    req('ANNOUNCE', `rtsp://127.0.0.1/${path}`, 1, ['Content-Type: application/sdp'], SDP),
    req('SETUP', `rtsp://127.0.0.1/${path}/streamid=0`, 2, ['Transport: RTP/AVP/TCP;unicast;interleaved=0-1;mode=record']),
    req('RECORD', `rtsp://127.0.0.1/${path}`, 3, ['Session: x']),
  ];

  const CASES: { name: string; steps: (string | Buffer)[]; status?: RegExp; log: RegExp }[] = [
    { name: 'a request without CSeq', steps: ['OPTIONS rtsp://127.0.0.1/live/a RTSP/1.0\r\n\r\n'], status: /^RTSP\/1\.0 400/, log: /without a valid CSeq/ },
    { name: 'huge headers', steps: [Buffer.from('OPTIONS rtsp://127.0.0.1/live/a RTSP/1.0\r\nCSeq: 1\r\nX-Big: ' + 'a'.repeat(10000))], log: /exceeds 4096 bytes/ },
    { name: 'too many headers', steps: [req('OPTIONS', 'rtsp://127.0.0.1/live/a', 1, Array.from({ length: 40 }, (_, i) => `X-${i}: 1`))], log: /exceed the limit of 32/ },
    { name: 'a body larger than allowed', steps: ['ANNOUNCE rtsp://127.0.0.1/live/a RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 100000000\r\n\r\n'], log: /body of 100000000 bytes exceeds/ },
    {
      name: 'a bad Transport',
      steps: [req('ANNOUNCE', 'rtsp://127.0.0.1/live/badtransport', 1, ['Content-Type: application/sdp'], SDP), req('SETUP', 'rtsp://127.0.0.1/live/badtransport/streamid=0', 2, ['Transport: RTP/SAVP;unicast;client_port=a-b'])],
      status: /RTSP\/1\.0 461/,
      log: /unsupported transport "RTP\/SAVP"/,
    },
    { name: 'a bad SDP', steps: [req('ANNOUNCE', 'rtsp://127.0.0.1/live/badsdp', 1, ['Content-Type: application/sdp'], 'hello there')], status: /^RTSP\/1\.0 400/, log: /bad SDP/ },
    { name: 'garbage interleaved frames', steps: [...publishSteps('live/garbage'), Buffer.from('$\x00\x00\x10NOTRTP!!NOTRTP!!', 'latin1')], status: /CSeq: 3/, log: /not an RTP packet/ },
    { name: 'a truncated RTP packet', steps: [...publishSteps('live/truncated'), Buffer.from([0x24, 0, 0, 4, 0x80, 0x60, 0, 1])], status: /CSeq: 3/, log: /truncated RTP packet/ },
    { name: 'binary garbage instead of a request', steps: [Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0d, 0x0a])], log: /garbage on the connection/ },
    { name: 'a request line that is not RTSP', steps: ['GET / HTTP/1.1\r\nHost: x\r\n\r\n'], log: /malformed request line/ },
  ];

  it.each(CASES)('$name closes that session with a logged error naming the peer', async (c) => {
    const result = await session(port, c.steps);
    expect(result.closed).toBe(true);
    if (c.status) expect(result.text).toMatch(c.status);
    const line = await waitFor('the error log line', () => gw.logs.find((l) => typeof l.msg === 'string' && l.msg.includes(result.local) && c.log.test(l.msg)), 3000);
    expect(line.msg).toMatch(/closing RTSP connection from 127\.0\.0\.1:\d+/);
  });

  it('the gateway still answers after all of that', async () => {
    const result = await session(port, [req('OPTIONS', 'rtsp://127.0.0.1/live/a', 7), req('TEARDOWN', 'rtsp://127.0.0.1/live/a', 8)]);
    expect(result.text).toMatch(/^RTSP\/1\.0 200 OK\r\nCSeq: 7\r\n/);
    expect(result.text).toMatch(/Public: .*ANNOUNCE/);
    expect(gw.gw.registry.list().filter((s) => s.publisher)).toEqual([]);
  });

  it('an unsupported codec in ANNOUNCE is refused with 415 naming the supported ones', async () => {
    const sdp = 'v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n';
    const result = await session(port, [req('ANNOUNCE', 'rtsp://127.0.0.1/live/vp8', 1, ['Content-Type: application/sdp'], sdp), req('TEARDOWN', 'rtsp://127.0.0.1/live/vp8', 2)]);
    expect(result.text).toMatch(/RTSP\/1\.0 415 unsupported codec video VP8; supported: H264, H265, MPEG4-GENERIC \(AAC\), PCMA, PCMU/);
  });
});

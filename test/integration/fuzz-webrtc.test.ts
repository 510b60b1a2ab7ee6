/**
 * Seeded fuzzing of the WebRTC surface of a running gateway. The offers, trickle fragments and
 * ICE datagrams end in native code (libdatachannel's SDP parser, libjuice's STUN parser), where an
 * uncaught C++ exception aborts the whole process (it did once: a failed ICE gathering), so this
 * runs them against the real thing in-process:
 * - mutated WHEP and WHIP offers (lines dropped, doubled, swapped, cut; numbers out of range;
 *   hostile attribute lines; byte flips): every answer is 201 or a 4xx/503 with an error code,
 *   never a 5xx of ours, and every session made is ended;
 * - mutated trickle-ICE PATCH fragments on a live session: 204 or 4xx;
 * - mutated STUN, DTLS and RTP datagrams on the ICE mux port.
 * Afterwards the gateway still serves: an FLV reader kept receiving, and a new WHEP client plays.
 */
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publish, type Publisher } from '../helpers/ffmpeg.js';
import { readFlv, type FlvCapture } from '../helpers/flv-client.js';
import { mutate, pool } from '../helpers/fuzz.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { prng } from '../helpers/prng.js';
import { hasTool } from '../helpers/tools.js';
import { freeUdpPort, whepClient } from '../helpers/webrtc-client.js';

export const WEBRTC_FUZZ_CASES = { offers: 2000, trickle: 600, datagrams: 10000 };

/** A Chromium-shaped offer: BUNDLE, Opus/G.711 audio, H.264 + RTX and VP8 video, extmaps, SSRCs. */
function offer(direction: 'recvonly' | 'sendonly'): string {
  /** Each section's connection, ICE and DTLS lines (the same in both: one BUNDLE transport). */
  const transport = [
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    'a=ice-ufrag:Fz9q',
    'a=ice-pwd:fuzzfuzzfuzzfuzzfuzzfuzz',
    'a=ice-options:trickle',
    'a=fingerprint:sha-256 3C:4A:AA:2D:9B:10:6E:5A:4C:44:5C:8E:1D:8F:8A:4A:73:5F:24:7E:0E:8C:4B:0F:92:DD:5A:63:5E:BD:45:C1',
    'a=setup:actpass',
  ];
  const ssrcs = direction === 'sendonly' ? ['a=ssrc-group:FID 1001 1002', 'a=ssrc:1001 cname:fuzz', 'a=ssrc:1002 cname:fuzz'] : [];
  return [
    'v=0',
    'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0 1',
    'a=extmap-allow-mixed',
    'a=msid-semantic: WMS',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111 0 8',
    ...transport,
    'a=mid:0',
    'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
    'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
    'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
    `a=${direction}`,
    'a=rtcp-mux',
    'a=rtpmap:111 opus/48000/2',
    'a=rtcp-fb:111 transport-cc',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    ...(direction === 'sendonly' ? ['a=ssrc:2001 cname:fuzz'] : []),
    'm=video 9 UDP/TLS/RTP/SAVPF 102 103 96',
    ...transport,
    'a=mid:1',
    'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
    'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
    `a=${direction}`,
    'a=rtcp-mux',
    'a=rtcp-rsize',
    'a=rtpmap:102 H264/90000',
    'a=rtcp-fb:102 goog-remb',
    'a=rtcp-fb:102 transport-cc',
    'a=rtcp-fb:102 ccm fir',
    'a=rtcp-fb:102 nack',
    'a=rtcp-fb:102 nack pli',
    'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
    'a=rtpmap:103 rtx/90000',
    'a=fmtp:103 apt=102',
    'a=rtpmap:96 VP8/90000',
    ...ssrcs,
    '',
  ].join('\r\n');
}

/** Lines an offer should never carry, or carries wrongly. */
const HOSTILE = [
  'a=rtpmap:102 H264/0',
  'a=rtpmap:300 opus/48000/2',
  'a=rtpmap:-1 PCMA/8000',
  `a=fmtp:102 ${'x'.repeat(5000)}`,
  'a=fmtp:103 apt=999',
  'a=fmtp:103 apt=103',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
  'a=sctp-port:0',
  'a=max-message-size:-1',
  'a=ssrc-group:FID',
  'a=ssrc-group:FID 1 1 1 1 1',
  'a=ssrc:4294967296 cname:x',
  'a=ssrc:0',
  'a=extmap:0 urn:ietf:params:rtp-hdrext:sdes:mid',
  'a=extmap:4096 urn:x',
  'a=extmap:3/sendrecv',
  'a=setup:holdconn',
  'a=setup:active',
  'a=fingerprint:sha-256 ZZ',
  'a=fingerprint:md5 00',
  'a=candidate:1 1 udp 1 999.1.1.1 70000 typ host',
  'a=candidate:1 1 tcp 2105524479 127.0.0.1 9 typ host tcptype active',
  'a=candidate:x',
  'a=candidate:1 1 udp 1 abcd.local 5000 typ host',
  'a=end-of-candidates',
  'a=group:BUNDLE 0 1 2 3 4 5 6 7',
  'a=group:BUNDLE',
  `a=mid:${'0'.repeat(300)}`,
  'a=mid:',
  'a=rid:h send',
  'a=simulcast:send h;l',
  'm=video 0 UDP/TLS/RTP/SAVPF',
  'm=audio 9 RTP/AVP 0',
  'm=video 65536 UDP/TLS/RTP/SAVPF 102',
  'a=msid:- -',
  'a=rtcp-fb:* nack',
  'a=ice-ufrag:',
  'a=ice-pwd:x',
  'a=ice-lite',
  'c=IN IP6 ::1',
  'a=sendrecv',
  'a=inactive',
  'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x',
  'b=AS:-5',
  'a=bundle-only',
  '\0\0\0',
  'a=\u00ff\u00fe',
];

const NUMBERS = ['0', '-1', '65535', '65536', '4294967295', '4294967296', '99999999999999999999', '1e9', 'NaN', ''];

/** SDP-aware mutations: whole lines dropped, doubled, swapped, cut; numbers out of range; hostile lines. */
function mutateSdp(sdp: string, rnd: () => number): string {
  const lines = sdp.split('\r\n');
  const pick = () => Math.floor(rnd() * lines.length);
  const ops = 1 + Math.floor(rnd() * 3);
  for (let i = 0; i < ops; i++) {
    const r = rnd();
    const at = pick();
    if (r < 0.15) lines.splice(at, 1);
    else if (r < 0.25) lines.splice(at, 0, lines[pick()]!);
    else if (r < 0.35) {
      const other = pick();
      [lines[at], lines[other]] = [lines[other]!, lines[at]!];
    } else if (r < 0.5) lines[at] = lines[at]!.replace(/\d+/, () => NUMBERS[Math.floor(rnd() * NUMBERS.length)]!);
    else if (r < 0.6) lines[at] = lines[at]!.slice(0, Math.floor(rnd() * lines[at]!.length));
    else if (r < 0.85) lines.splice(at, 0, HOSTILE[Math.floor(rnd() * HOSTILE.length)]!);
    else if (r < 0.95) return mutate(Buffer.from(lines.join('\r\n')), rnd).toString('latin1');
    else return lines.join('\n');
  }
  return lines.join('\r\n');
}

/** A STUN binding request for a mux port (RFC 8489): USERNAME, a dummy integrity and fingerprint. */
function stunRequest(username: string): Buffer {
  const user = Buffer.from(username);
  const padded = Buffer.concat([user, Buffer.alloc((4 - (user.length % 4)) % 4)]);
  const attrs = Buffer.concat([
    Buffer.from([0x00, 0x06, user.length >> 8, user.length & 0xff]), padded,
    Buffer.from([0x00, 0x24, 0, 4, 0x6e, 0x7f, 0x1e, 0xff]), // PRIORITY
    Buffer.from([0x80, 0x2a, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]), // ICE-CONTROLLING
    Buffer.from([0x00, 0x08, 0, 20]), Buffer.alloc(20, 0xab), // MESSAGE-INTEGRITY
    Buffer.from([0x80, 0x28, 0, 4, 0xde, 0xad, 0xbe, 0xef]), // FINGERPRINT
  ]);
  const head = Buffer.from([0x00, 0x01, attrs.length >> 8, attrs.length & 0xff, 0x21, 0x12, 0xa4, 0x42, ...Array.from({ length: 12 }, (_, i) => i)]);
  return Buffer.concat([head, attrs]);
}

interface Answer {
  status: number;
  code?: string;
  location: string | null;
  body: string;
}

describe.skipIf(!hasTool('ffmpeg'))('fuzzing the WebRTC endpoints of a running gateway', () => {
  let gw: TestGateway;
  let pub: Publisher;
  let watcher: FlvCapture;
  let muxPort: number;
  const statuses = new Map<number, number>();

  beforeAll(async () => {
    muxPort = await freeUdpPort();
    gw = await startGateway({ log: { level: 'warn' }, hub: { readyTimeoutMs: 500 }, webrtc: { udpPort: muxPort, maxSessions: 200, peerTimeoutMs: 3000 } });
    pub = publish(`${gw.rtmp}/live/steady`, { size: '320x240', audio: 'pcma', duration: 120 });
    await waitFor('stream ready', () => gw.gw.registry.get('live/steady')?.ready, 15_000);
    watcher = readFlv(`${gw.http}/live/steady.flv`);
    await waitFor('watcher receiving', () => watcher.tags.length > 10);
  }, 30_000);

  afterAll(async () => {
    watcher?.close();
    await pub?.stop();
    await gw?.stop();
  });

  async function post(url: string, body: string): Promise<Answer> {
    const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body });
    const text = await res.text();
    let code: string | undefined;
    try {
      code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
    } catch {
      // an SDP answer
    }
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    return { status: res.status, code, location: res.headers.get('Location'), body: text };
  }

  /** 201, or a refusal with its code: a 4xx, or 503 (limits); never a 500 of ours. */
  function expectAnswered(a: Answer, body: string): void {
    const what = `${a.status} ${a.code ?? ''} for:\n${body.slice(0, 3000)}`;
    expect(a.status === 201 || (a.status >= 400 && a.status < 500) || a.status === 503, what).toBe(true);
    if (a.status !== 201) expect(a.code, what).toMatch(/^SG_ERR_/);
    // An accepted offer gets an answer a peer can use: ICE credentials, a DTLS fingerprint, media.
    else {
      expect(a.body, what).toMatch(/^m=(audio|video) \d+ UDP\/TLS\/RTP\/SAVPF \d+/m);
      expect(a.body, what).toMatch(/^a=ice-ufrag:\S+/m);
      expect(a.body, what).toMatch(/^a=fingerprint:sha-256 [0-9A-F:]{95}\r?$/m);
      // No attribute without its value (an empty a=fmtp line was written once for an offer without one).
      expect(a.body, what).not.toMatch(/^a=fmtp:\d+ ?\r?$/m);
    }
  }

  async function stillServing(): Promise<void> {
    const n = watcher.tags.length;
    await waitFor('the FLV reader still receiving', () => watcher.tags.length > n + 5, 10_000);
  }

  it(`answers ${WEBRTC_FUZZ_CASES.offers} mutated WHEP and WHIP offers with 201 or a coded 4xx/503`, async () => {
    const rnd = prng(21);
    const cases = Array.from({ length: WEBRTC_FUZZ_CASES.offers }, (_, i) => {
      const whip = i % 3 === 2;
      return { whip, i, body: mutateSdp(offer(whip ? 'sendonly' : 'recvonly'), rnd) };
    });
    // The unmutated offers work: the fuzz starts from inputs the gateway accepts.
    for (const whip of [false, true]) {
      const a = await post(`${gw.http}/${whip ? 'fuzz/valid/whip' : 'live/steady/whep'}`, offer(whip ? 'sendonly' : 'recvonly'));
      expect(a.status).toBe(201);
      await fetch(`${gw.http}${a.location}`, { method: 'DELETE' });
    }
    await pool(cases, 6, async ({ whip, i, body }) => {
      const a = await post(`${gw.http}/${whip ? `fuzz/p${i}/whip` : 'live/steady/whep'}`, body);
      expectAnswered(a, body);
      if (a.location) expect((await fetch(`${gw.http}${a.location}`, { method: 'DELETE' })).status).toBe(200);
    });
    console.log(`WebRTC offer fuzz: ${WEBRTC_FUZZ_CASES.offers} offers, answers by status ${JSON.stringify(Object.fromEntries(statuses))}`);
    // Both sides of the fuzz were reached: offers accepted and offers refused.
    expect(statuses.get(201) ?? 0).toBeGreaterThan(20);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(20);
    await waitFor('every fuzz session ended', () => gw.gw.webrtc!.infos().length === 0, 10_000);
    await stillServing();
  }, 120_000);

  it(`answers ${WEBRTC_FUZZ_CASES.trickle} mutated trickle-ICE fragments with 204 or a coded 4xx`, async () => {
    const rnd = prng(22);
    const a = await post(`${gw.http}/live/steady/whep`, offer('recvonly'));
    expect(a.status).toBe(201);
    const valid = Buffer.from(
      'a=ice-ufrag:Fz9q\r\na=ice-pwd:fuzzfuzzfuzzfuzzfuzzfuzz\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n' +
        'a=candidate:1 1 udp 2113937151 127.0.0.1 50000 typ host generation 0\r\na=candidate:2 1 udp 1677729535 127.0.0.1 50001 typ srflx raddr 0.0.0.0 rport 0\r\na=end-of-candidates\r\n',
    );
    const seen = new Map<number, number>();
    await pool(Array.from({ length: WEBRTC_FUZZ_CASES.trickle }, (_, i) => i), 4, async (i) => {
      const body = i % 2 ? mutateSdp(valid.toString(), rnd) : mutate(valid, rnd).toString('latin1');
      const res = await fetch(`${gw.http}${a.location}`, { method: 'PATCH', headers: { 'Content-Type': 'application/trickle-ice-sdpfrag' }, body });
      const text = await res.text();
      seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
      expect(res.status === 204 || (res.status >= 400 && res.status < 500), `${res.status} ${text} for:\n${body}`).toBe(true);
    });
    console.log(`WebRTC trickle fuzz: answers by status ${JSON.stringify(Object.fromEntries(seen))}`);
    expect(seen.get(204) ?? 0).toBeGreaterThan(10);
    expect((await fetch(`${gw.http}${a.location}`, { method: 'DELETE' })).status).toBe(200);
    await stillServing();
  }, 60_000);

  it('a trickle candidate that cannot be parsed answers 400 naming it; the good one beside it is taken', async () => {
    const a = await post(`${gw.http}/live/steady/whep`, offer('recvonly'));
    expect(a.status).toBe(201);
    const res = await fetch(`${gw.http}${a.location}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/trickle-ice-sdpfrag' },
      body: 'a=mid:0\r\na=candidate:1 1 udp 2113937151 127.0.0.1 50000 typ host\r\na=candidate:2 1 udp 1677729535 127.0.0.1 yp srflx\r\n',
    });
    const err = ((await res.json()) as { error: { code: string; message: string } }).error;
    expect(res.status).toBe(400);
    expect(err.code).toBe('SG_ERR_SDP_INVALID');
    expect(err.message).toContain('bad trickle-ICE candidate: a=candidate:2 1 udp 1677729535 127.0.0.1 yp srflx');
    expect((await fetch(`${gw.http}${a.location}`, { method: 'DELETE' })).status).toBe(200);
  });

  it(`survives ${WEBRTC_FUZZ_CASES.datagrams} mutated STUN, DTLS and RTP datagrams on the ICE mux port, then plays a new WHEP client`, async () => {
    const rnd = prng(23);
    // A live session on the mux port while the datagrams come.
    const a = await post(`${gw.http}/live/steady/whep`, offer('recvonly'));
    expect(a.status).toBe(201);
    const seeds = [
      stunRequest('nobody:Fz9q'),
      stunRequest(`${'u'.repeat(200)}:x`),
      Buffer.concat([Buffer.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 40, 1, 0, 0, 36]), Buffer.alloc(36, 7)]), // DTLS ClientHello-ish
      Buffer.concat([Buffer.from([0x80, 102, 0, 1, 0, 0, 0, 1, 0, 0, 3, 0xe9]), Buffer.alloc(100, 9)]), // RTP
      Buffer.concat([Buffer.from([0x81, 201, 0, 7]), Buffer.alloc(28, 1)]), // RTCP RR
    ];
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    try {
      for (let i = 0; i < WEBRTC_FUZZ_CASES.datagrams; i++) {
        const d = mutate(seeds[i % seeds.length]!, rnd);
        if (d.length > 0) sock.send(d, muxPort, '127.0.0.1');
        if (i % 100 === 99) await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      sock.close();
    }
    expect((await fetch(`${gw.http}${a.location}`, { method: 'DELETE' })).status).toBe(200);
    // The mux port still does its work: a real client connects through it and gets pictures.
    const c = await whepClient(`${gw.http}/live/steady/whep`);
    try {
      expect(c.status).toBe(201);
      await c.connected;
      await waitFor('video frames on the new WHEP client', () => c.video.frames > 10 && c.video.keyframes > 0, 15_000);
    } finally {
      c.close();
    }
    await stillServing();
  }, 60_000);
});

import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { selfSignedCertificate } from '../../../gateway/protocols/webrtc/certificate.js';
import { announceAddresses, chooseAudio, chooseH264, chooseRtx, offeredCodecs, parseOffer } from '../../../gateway/protocols/webrtc/sdp.js';
import { SdpInvalidError } from '../../../gateway/protocols/webrtc/errors.js';

/** The shape of a Chromium recvonly offer (trimmed). */
const OFFER = [
  'v=0',
  'o=- 1 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 108 116',
  'a=ice-ufrag:abcd',
  'a=ice-pwd:0123456789012345678901',
  'a=fingerprint:sha-256 AA:BB',
  'a=setup:actpass',
  'a=mid:0',
  'a=recvonly',
  'a=rtpmap:96 VP8/90000',
  'a=rtpmap:97 rtx/90000',
  'a=fmtp:97 apt=96',
  'a=rtpmap:102 H264/90000',
  'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f',
  'a=rtpmap:103 H264/90000',
  'a=fmtp:103 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f',
  'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'a=extmap:4/recvonly urn:ietf:params:rtp-hdrext:sdes:mid',
  'a=rtpmap:108 H264/90000',
  'a=rtcp-fb:108 nack',
  'a=rtcp-fb:108 transport-cc',
  'a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
  'a=rtpmap:116 H264/90000',
  'a=fmtp:116 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f',
  'a=candidate:1 1 udp 2113937151 192.168.1.20 50000 typ host',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 0 8',
  'a=mid:1',
  'a=recvonly',
  'a=rtpmap:111 opus/48000/2',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  '',
].join('\r\n');

describe('WebRTC offers', () => {
  it('parses each section: mid, direction, codecs in offer order with fmtp, static G.711 types without rtpmap', () => {
    const [video, audio] = parseOffer(OFFER);
    expect(video).toMatchObject({ kind: 'video', mid: '0', direction: 'recvonly', active: true });
    expect(video!.codecs.map((c) => `${c.payloadType} ${c.name}`)).toEqual(['96 VP8', '97 RTX', '102 H264', '103 H264', '108 H264', '116 H264']);
    expect(audio!.codecs.map((c) => `${c.payloadType} ${c.name}/${c.clockRate}`)).toEqual(['111 OPUS/48000', '0 PCMU/8000', '8 PCMA/8000']);
    expect(audio!.codecs[0]!.channels).toBe(2);
  });

  it('keeps each section\'s header extensions (a=extmap, direction suffix allowed) and each codec\'s rtcp-fb', () => {
    const [video, audio] = parseOffer(OFFER);
    expect([...video!.extensions]).toEqual([
      ['http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01', 3],
      ['urn:ietf:params:rtp-hdrext:sdes:mid', 4],
    ]);
    expect(video!.codecs.find((c) => c.payloadType === 108)!.rtcpFb).toEqual(['nack', 'transport-cc']);
    expect(audio!.extensions.size).toBe(0);
  });

  it('finds the RTX payload type that retransmits a codec (fmtp apt=)', () => {
    const video = parseOffer(OFFER)[0]!;
    expect(chooseRtx(video, 96)).toBe(97);
    expect(chooseRtx(video, 108)).toBeUndefined();
  });

  it('a section on port 0 is rejected, unless it is bundle-only (max-bundle: it rides the first transport)', () => {
    const rejected = OFFER.replace('m=audio 9 ', 'm=audio 0 ');
    expect(parseOffer(rejected)[1]!.active).toBe(false);
    const bundleOnly = rejected.replace('a=mid:1\r\n', 'a=mid:1\r\na=bundle-only\r\n');
    expect(parseOffer(bundleOnly)[1]).toMatchObject({ kind: 'audio', mid: '1', active: true });
  });

  it.each([
    ['the stream profile when offered (High, 0x64)', 0x64, 116],
    ['constrained baseline by default', -1, 108],
    ['constrained baseline for a profile not offered (Main, 0x4d)', 0x4d, 108],
  ])('chooses H.264 with packetization-mode 1: %s', (_name, profile, pt) => {
    expect(chooseH264(parseOffer(OFFER)[0]!, profile)?.payloadType).toBe(pt);
  });

  it('chooses the audio payload type of the hub codec, and names what was offered', () => {
    const audio = parseOffer(OFFER)[1]!;
    expect(chooseAudio(audio, 'OPUS')?.payloadType).toBe(111);
    expect(chooseAudio(audio, 'PCMA')?.payloadType).toBe(8);
    expect(chooseAudio(audio, 'PCMU')?.payloadType).toBe(0);
    expect(offeredCodecs(parseOffer(OFFER)[0]!)).toBe('VP8, H264');
  });

  it.each([
    ['text that is not SDP', 'hello', /starts with v=0/],
    ['no media', 'v=0\r\ns=-\r\na=ice-ufrag:x\r\na=ice-pwd:y\r\na=fingerprint:sha-256 AA\r\n', /no media section/],
    ['no ICE credentials', OFFER.replace(/a=ice-(ufrag|pwd):.*\r\n/g, ''), /no ICE credentials/],
    ['no fingerprint', OFFER.replace(/a=fingerprint:.*\r\n/, ''), /no DTLS fingerprint/],
    ['a section without mid', OFFER.replace('a=mid:1\r\n', ''), /audio section has no a=mid/],
    ['a bad line', OFFER + 'garbage\r\n', /bad SDP line/],
    ['a huge body', 'v=0\r\n' + 'a=x\r\n'.repeat(20000), /exceeds/],
  ])('refuses %s with SdpInvalidError', (_name, text, message) => {
    expect(() => parseOffer(text)).toThrow(SdpInvalidError);
    expect(() => parseOffer(text)).toThrow(message);
  });

  it('announces extra host candidates next to the bound one, dropping 0.0.0.0', () => {
    const answer = ['m=video 40000 UDP/TLS/RTP/SAVPF 102', 'a=candidate:1 1 UDP 2114977791 0.0.0.0 40000 typ host', 'a=candidate:2 1 UDP 2114977791 10.0.0.1 40000 typ host', 'a=end-of-candidates'].join('\r\n');
    const out = announceAddresses(answer, ['203.0.113.7']).split('\r\n');
    expect(out.filter((l) => l.includes('0.0.0.0'))).toEqual([]);
    expect(out.filter((l) => l.includes('203.0.113.7 40000 typ host'))).toHaveLength(2);
    expect(out).toContain('a=candidate:2 1 UDP 2114977791 10.0.0.1 40000 typ host');
    expect(announceAddresses(answer, [])).toBe(answer);
  });
});

describe('the DTLS certificate', () => {
  it('is a self-signed ECDSA P-256 X.509 certificate that verifies with its own key and matches the private key', () => {
    const { cert, key } = selfSignedCertificate('streamgate-test', 30);
    const x509 = new X509Certificate(cert);
    expect(x509.subject).toBe('CN=streamgate-test');
    expect(x509.issuer).toBe('CN=streamgate-test');
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(x509.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(createPublicKey(createPrivateKey(key)).export({ type: 'spki', format: 'der' })).toEqual(x509.publicKey.export({ type: 'spki', format: 'der' }));
    const days = (Date.parse(x509.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29);
    expect(days).toBeLessThan(31);
    expect(x509.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });
});

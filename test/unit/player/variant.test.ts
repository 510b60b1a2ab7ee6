/** Which variant the player opens: every camera/browser/rendition combination the issue names. */
import { describe, expect, test } from 'vitest';
import type { StreamEntry } from '../../../player/src/api/types.js';
import { chooseVariant, webrtcFit, type Capabilities } from '../../../player/src/variant.js';

/** Debian's Chromium: H.264 + AAC in MSE, no HEVC. */
const CHROMIUM: Capabilities = { h264: true, h265: false, aac: true, mp3: true };
const HEVC_BROWSER: Capabilities = { ...CHROMIUM, h265: true };

function entry(video: string | null, audio: string | null, renditions?: StreamEntry['renditions']): StreamEntry {
  return {
    path: 'live/cam2',
    app: 'live',
    name: 'cam2',
    state: 'publishing',
    ready: true,
    publisher: { protocol: 'rtsp', remoteAddress: '127.0.0.1', since: '' },
    video: video ? { codec: video, width: 1920, height: 1080, fps: 25 } : null,
    audio: audio ? { codec: audio, sampleRate: 8000, channels: 1 } : null,
    readers: { count: 0 },
    bitrateKbps: { in: 0, out: 0 },
    droppedFrames: 0,
    ...(renditions ? { renditions } : {}),
  };
}

const H264_RENDITION = { path: 'live/cam2_h264', profile: 'h264', video: 'H264', audio: 'AAC' };
const WALL_RENDITION = { path: 'live/cam2_wall', profile: 'wall', video: 'H264', audio: 'AAC' };
const OFFERED = { browser: H264_RENDITION, tile: WALL_RENDITION };

describe('chooseVariant', () => {
  test('H.265 + G.711 in a browser without HEVC: the H.264 + AAC rendition, saying why', () => {
    const c = chooseVariant(entry('H265', 'PCMA', OFFERED), CHROMIUM, 'auto');
    expect(c).toMatchObject({ kind: 'rendition', path: 'live/cam2_h264', hasAudio: true, hasVideo: true });
    expect(c.reason).toBe('H.265 + G.711 A-law camera, playing the H.264 + AAC rendition live/cam2_h264');
  });

  test('a small tile takes the tile rendition; without one, the full-size one', () => {
    expect(chooseVariant(entry('H265', 'PCMA', OFFERED), CHROMIUM, 'auto', true).path).toBe('live/cam2_wall');
    expect(chooseVariant(entry('H265', 'PCMA', { browser: H264_RENDITION, tile: null }), CHROMIUM, 'auto', true).path).toBe('live/cam2_h264');
  });

  test('H.264 + G.711: only audio needs the rendition, which is still chosen (sound), naming AAC only', () => {
    const c = chooseVariant(entry('H264', 'PCMU', OFFERED), CHROMIUM, 'auto');
    expect(c.kind).toBe('rendition');
    expect(c.reason).toBe('G.711 µ-law camera, playing the AAC rendition live/cam2_h264');
  });

  test('H.264 + AAC, or H.265 where the browser decodes HEVC: the source', () => {
    expect(chooseVariant(entry('H264', 'AAC', OFFERED), CHROMIUM, 'auto')).toMatchObject({ kind: 'source', path: 'live/cam2', hasAudio: true });
    expect(chooseVariant(entry('H265', 'AAC', OFFERED), HEVC_BROWSER, 'auto')).toMatchObject({ kind: 'source', path: 'live/cam2' });
    // H.265 decodable but G.711 not: the rendition (for the sound).
    expect(chooseVariant(entry('H265', 'PCMA', OFFERED), HEVC_BROWSER, 'auto').kind).toBe('rendition');
  });

  test('variant=source never switches: video it cannot decode is unsupported, audio it cannot decode is left out', () => {
    const c = chooseVariant(entry('H265', 'PCMA', OFFERED), CHROMIUM, 'source');
    expect(c).toMatchObject({ kind: 'unsupported', offer: 'live/cam2_h264' });
    expect(c.reason).toMatch(/cannot decode H\.265 video nor G\.711 A-law audio \(variant=source\)/);
    expect(chooseVariant(entry('H264', 'PCMA', OFFERED), CHROMIUM, 'source')).toMatchObject({ kind: 'source', hasAudio: false, hasVideo: true });
  });

  test('no rendition configured: unsupported with the link and the config line that would enable one', () => {
    const enable = 'transcode: { enabled: true }';
    const c = chooseVariant(entry('H265', 'PCMA', { browser: null, tile: null, enable }), CHROMIUM, 'auto');
    expect(c).toMatchObject({ kind: 'unsupported', offer: 'live/cam2_h264', enable });
    expect(c.reason).toContain(enable);
    // H.264 + G.711 without a rendition: the picture without sound, and why.
    const v = chooseVariant(entry('H264', 'PCMA', { browser: null, tile: null, enable }), CHROMIUM, 'auto');
    expect(v).toMatchObject({ kind: 'source', hasAudio: false });
    expect(v.reason).toMatch(/G\.711 A-law audio: playing without sound/);
  });

  test('a rendition the browser cannot decode either (profile copies H.265) is not chosen', () => {
    const copy = { browser: { ...H264_RENDITION, video: 'H265' }, tile: null };
    expect(chooseVariant(entry('H265', 'AAC', copy), CHROMIUM, 'auto').kind).toBe('unsupported');
  });

  test('an older gateway without `renditions`: the rendition in browserUrl', () => {
    const e = { ...entry('H265', 'PCMA'), browserUrl: '/live/cam2_h264.flv' };
    expect(chooseVariant(e, CHROMIUM, 'auto')).toMatchObject({ kind: 'rendition', path: 'live/cam2_h264' });
  });

  test('audio-only and video-only streams', () => {
    expect(chooseVariant(entry(null, 'PCMA', { browser: { ...H264_RENDITION, video: null }, tile: null }), CHROMIUM, 'auto')).toMatchObject({ kind: 'rendition', hasVideo: false, hasAudio: true });
    expect(chooseVariant(entry('H265', null, { browser: { ...H264_RENDITION, audio: null }, tile: null }), CHROMIUM, 'auto')).toMatchObject({ kind: 'rendition', hasVideo: true, hasAudio: false });
  });

  describe('Opus sources (WebRTC publishers): FLV and HLS carry no Opus', () => {
    const AAC_RENDITION = { path: 'live/cam2_aac', profile: 'aac', video: 'H264', audio: 'AAC' };
    const WITH_AAC = { ...OFFERED, aac: AAC_RENDITION };
    test.each([
      // name, video, audio, offers, tile, expected path, kind
      ['H.264 + Opus: the aac rendition (video copied)', 'H264', 'OPUS', WITH_AAC, false, 'live/cam2_aac', 'rendition'],
      ['H.264 + Opus in a wall tile: still the aac rendition (no video encode)', 'H264', 'OPUS', WITH_AAC, true, 'live/cam2_aac', 'rendition'],
      ['H.265 + Opus without HEVC: the H.264 rendition (it also makes AAC)', 'H265', 'OPUS', WITH_AAC, false, 'live/cam2_h264', 'rendition'],
      ['H.264 + Opus, no aac profile: the browser rendition', 'H264', 'OPUS', OFFERED, false, 'live/cam2_h264', 'rendition'],
      ['H.264 + Opus, no rendition at all: the source without sound', 'H264', 'OPUS', { browser: null, tile: null, enable: 'x' }, false, 'live/cam2', 'source'],
    ] as const)('%s', (_name, video, audio, offers, tile, path, kind) => {
      const c = chooseVariant(entry(video, audio, offers), CHROMIUM, 'auto', tile);
      expect(c).toMatchObject({ kind, path });
      if (kind === 'rendition') expect(c.hasAudio).toBe(true);
      else expect(c.hasAudio).toBe(false);
    });

    test('says why, naming Opus', () => {
      expect(chooseVariant(entry('H264', 'OPUS', WITH_AAC), CHROMIUM, 'auto').reason).toBe('Opus camera, playing the AAC rendition live/cam2_aac');
    });
  });
});

/** Whether `transport=auto` picks WebRTC: what the gateway's WHEP sends as it is, or through a rendition. */
describe('webrtcFit', () => {
  const OPUS_RENDITION = { path: 'live/cam2_opus', profile: 'opus', video: 'H264', audio: 'OPUS' };
  test.each([
    ['H.264 + G.711 A-law', entry('H264', 'PCMA'), true, /G\.711 A-law audio goes over WebRTC as it is/],
    ['H.264 + G.711 µ-law', entry('H264', 'PCMU'), true, /as it is/],
    ['H.264 + Opus (a WHIP publish)', entry('H264', 'OPUS'), true, /as it is/],
    ['H.264 without audio', entry('H264', null), true, /no audio/],
    ['audio only, Opus', entry(null, 'OPUS'), true, /as it is/],
    ['H.265 + G.711 (the gateway sends the _h264 rendition)', entry('H265', 'PCMA'), true, /^H\.265 video as the gateway's H\.264 rendition, G\.711 A-law audio goes over WebRTC as it is$/],
    ['H.264 + AAC, no Opus rendition', entry('H264', 'AAC', OFFERED), false, /AAC audio and no Opus rendition/],
    ['H.264 + AAC, an Opus rendition listed', entry('H264', 'AAC', { browser: H264_RENDITION, tile: null, opus: OPUS_RENDITION } as StreamEntry['renditions']), true, /Opus rendition live\/cam2_opus/],
    ['H.264 + AAC, a webrtc profile listed', entry('H264', 'AAC', { browser: { ...H264_RENDITION, path: 'live/cam2_webrtc', profile: 'webrtc' }, tile: null }), true, /live\/cam2_webrtc/],
    ['H.264 + MP3', entry('H264', 'MP3'), false, /MP3 audio and no Opus rendition/],
    ['VP8 video', entry('VP8', null), false, /WebRTC carries H\.264, not VP8/],
  ])('%s', (_name, e, ok, reason) => {
    const fit = webrtcFit(e);
    expect(fit.ok).toBe(ok);
    expect(fit.reason).toMatch(reason);
  });
});

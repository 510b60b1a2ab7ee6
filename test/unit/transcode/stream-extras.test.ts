/**
 * What the streams API tells players about renditions (Transcoder.streamExtras): the offered
 * rendition with the codecs it carries, the tile rendition, or the config line that enables one.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { configWith } from '../../../gateway/config.js';
import type { AudioTrack, VideoTrack } from '../../../gateway/core/media.js';
import { StreamRegistry } from '../../../gateway/core/registry.js';
import type { TranscodeConfig } from '../../../transcode/config.js';
import { Transcoder } from '../../../transcode/transcoder.js';

const log = pino({ level: 'silent' });
const hevc: VideoTrack = { kind: 'video', codec: 'H265', config: Buffer.from([1]), width: 1920, height: 1080, fps: 25 };
const avc: VideoTrack = { ...hevc, codec: 'H264' };
const pcma: AudioTrack = { kind: 'audio', codec: 'PCMA', config: Buffer.alloc(0), sampleRate: 8000, channels: 1 };
const aac: AudioTrack = { ...pcma, codec: 'AAC', config: Buffer.from([0x12, 0x10]) };
const opus: AudioTrack = { kind: 'audio', codec: 'OPUS', config: Buffer.alloc(0), sampleRate: 48000, channels: 2 };

function extrasFor(path: string, tracks: { video?: VideoTrack; audio?: AudioTrack }, transcode: Record<string, unknown> = {}) {
  const config = configWith({ transcode });
  const registry = new StreamRegistry(
    { ...config.hub, maxBytes: 1_000_000, maxDurationMs: 10_000, maxReaderLagMs: 200, maxReaderQueueBytes: 100_000, readerStallTimeoutMs: 60_000, publisherGraceMs: 1000, readyTimeoutMs: 300, takeoverPaths: [], writeMergeMs: 0 },
    log,
  );
  const t = new Transcoder({ registry, config: config.transcode as TranscodeConfig, log, ports: () => ({ rtmp: 1, rtsp: 1 }) });
  const session = registry.publish(path, { protocol: 'rtsp', remoteAddress: '127.0.0.1', query: {}, close: () => undefined });
  if (tracks.video) session.setVideoTrack(tracks.video);
  if (tracks.audio) session.setAudioTrack(tracks.audio);
  const extras = t.streamExtras(registry.get(path)!);
  t.close();
  return extras;
}

describe('streamExtras', () => {
  it('H.265 + G.711: browserUrl and both renditions as H.264 + AAC', () => {
    const e = extrasFor('live/cam2', { video: hevc, audio: pcma });
    expect(e.browserUrl).toBe('/live/cam2_h264.flv');
    expect(e.renditions.browser).toEqual({ path: 'live/cam2_h264', profile: 'h264', video: 'H264', audio: 'AAC' });
    expect(e.renditions.tile).toEqual({ path: 'live/cam2_wall', profile: 'wall', video: 'H264', audio: 'AAC' });
  });

  it('H.264 + AAC keeps its own browserUrl; a rendition of a rendition is never offered', () => {
    expect(extrasFor('live/cam1', { video: avc, audio: aac }).browserUrl).toBe('/live/cam1.flv');
    expect(extrasFor('live/cam2_h264', { video: avc, audio: aac }).renditions).toEqual({ browser: null, tile: null });
  });

  it('a profile that copies video or drops audio says so in the codecs', () => {
    const e = extrasFor('live/cam2', { video: hevc, audio: pcma }, { profiles: { h264: { video: { codec: 'copy' }, audio: { codec: 'none' } } }, auto: [{ paths: '**', profile: 'h264' }] });
    expect(e.renditions).toEqual({ browser: { path: 'live/cam2_h264', profile: 'h264', video: 'H265', audio: null }, tile: null });
  });

  it('no rendition configured: the config line that would enable one', () => {
    expect(extrasFor('live/cam2', { video: hevc }, { enabled: false }).renditions).toEqual({ browser: null, tile: null, enable: 'transcode: { enabled: true }' });
    expect(extrasFor('live/cam2', { video: hevc }, { auto: [{ paths: 'other/*', profile: 'h264' }] }).renditions.enable).toBe('transcode: { auto: [{ paths: "live/cam2", profile: h264 }] }');
    expect(extrasFor('live/cam2', { video: hevc }, { enabled: false }).browserUrl).toBe('/live/cam2.flv');
  });
});

describe('streamExtras: the aac and opus renditions', () => {
  it('H.264 + Opus (a WebRTC publisher): renditions.aac, and browserUrl points at it (video copied)', () => {
    const e = extrasFor('live/x', { video: avc, audio: opus });
    expect(e.renditions.aac).toEqual({ path: 'live/x_aac', profile: 'aac', video: 'H264', audio: 'AAC' });
    expect(e.renditions.opus).toBeUndefined();
    expect(e.browserUrl).toBe('/live/x_aac.flv');
  });

  it('H.265 + Opus: browserUrl is the h264 rendition (the video needs encoding too)', () => {
    const e = extrasFor('live/x', { video: hevc, audio: opus });
    expect(e.renditions.aac).toMatchObject({ video: 'H265', audio: 'AAC' });
    expect(e.browserUrl).toBe('/live/x_h264.flv');
  });

  it.each([
    ['AAC', aac],
    ['G.711', pcma],
  ])('an %s camera: renditions.opus for WebRTC readers, no aac offer', (_name, audio) => {
    const e = extrasFor('live/cam', { video: avc, audio });
    expect(e.renditions.opus).toEqual({ path: 'live/cam_opus', profile: 'opus', video: 'H264', audio: 'OPUS' });
    expect(e.renditions.aac).toBeUndefined();
  });

  it('no audio, or the profiles not configured: neither is offered', () => {
    expect(extrasFor('live/cam', { video: avc }).renditions).not.toHaveProperty('opus');
    const e = extrasFor('live/x', { video: avc, audio: opus }, { profiles: { h264: {} } });
    expect(e.renditions).not.toHaveProperty('aac');
    expect(e.browserUrl).toBe('/live/x_h264.flv');
  });
});

describe('the CPU budget of rendition jobs', () => {
  it('adds up the jobs CPU as a share of all cores (unknown CPU counts 0)', async () => {
    const { cpuShare } = await import('../../../transcode/renditions.js');
    // 16 sub-stream cameras at 9 % of a core each on 2 cores: 72 % (under the default 80).
    expect(cpuShare(Array(16).fill(9), 2)).toBe(72);
    // 4 1080p cameras at 48 %: 96 % of 2 cores, over the budget.
    expect(cpuShare([48, 48, 48, 48], 2)).toBe(96);
    expect(cpuShare([null, 50], 1)).toBe(50);
  });
});

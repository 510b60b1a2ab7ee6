import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configWith } from '../../../gateway/config.js';
import { DEFAULT_PROFILES, profileSchema } from '../../../transcode/config.js';
import { FfmpegNotFoundError } from '../../../transcode/errors.js';
import { errorLine, ffmpegArgs, parseProgress, resolveFfmpeg } from '../../../transcode/ffmpeg.js';
import { planRendition, renditionAudioCodec, renditionOutputProtocol, renditionSpec } from '../../../transcode/profiles.js';
import { parseRenditionPath } from '../../../transcode/renditions.js';

const h264 = DEFAULT_PROFILES.h264!;
const track = <C extends string>(codec: C | undefined) => (codec ? { codec } : undefined) as never;

describe('rendition plans', () => {
  const cases: [string, string | undefined, string | undefined, Record<string, unknown>, string, string][] = [
    ['H.264 + AAC is copied', 'H264', 'AAC', {}, 'copy', 'copy'],
    ['H.265 + PCMA is encoded', 'H265', 'PCMA', {}, 'encode', 'encode'],
    ['H.264 + PCMU: video copied, audio encoded', 'H264', 'PCMU', {}, 'copy', 'encode'],
    ['a size change forces a video encode', 'H264', 'AAC', { video: { height: 360 } }, 'encode', 'copy'],
    ['an fps change forces a video encode', 'H264', 'AAC', { video: { fps: 15 } }, 'encode', 'copy'],
    ['audio clean-up forces an audio encode', 'H264', 'AAC', { audio: { denoise: true } }, 'copy', 'encode'],
    ['codec h264 always encodes', 'H264', 'AAC', { video: { codec: 'h264' } }, 'encode', 'copy'],
    ['audio none drops audio', 'H265', 'AAC', { audio: { codec: 'none' } }, 'encode', 'none'],
    ['missing tracks stay missing', undefined, 'PCMA', {}, 'none', 'encode'],
    ['H.264 + Opus: auto encodes Opus to AAC', 'H264', 'OPUS', {}, 'copy', 'encode'],
    ['audio opus copies Opus', 'H264', 'OPUS', { audio: { codec: 'opus' } }, 'copy', 'copy'],
    ['audio opus encodes AAC', 'H264', 'AAC', { audio: { codec: 'opus' } }, 'copy', 'encode'],
    ['audio opus encodes G.711', 'H265', 'PCMU', { video: { codec: 'copy' }, audio: { codec: 'opus' } }, 'copy', 'encode'],
    ['audio opus with clean-up re-encodes Opus', 'H264', 'OPUS', { audio: { codec: 'opus', denoise: true } }, 'copy', 'encode'],
  ];
  for (const [name, video, audio, profile, v, a] of cases) {
    it(name, () => {
      expect(planRendition(profileSchema.parse(profile), { video: track(video), audio: track(audio) })).toEqual({ video: v, audio: a });
    });
  }

  it('builds low-latency x264 and AAC arguments, reading RTSP over TCP and writing FLV', () => {
    const spec = renditionSpec(profileSchema.parse({ video: { height: 360, bitrateKbps: 800 }, audio: { loudnorm: true } }), { video: track('H265'), audio: track('PCMA') }, 'rtsp://127.0.0.1:1/live/cam', 'rtmp://127.0.0.1:2/live/cam_360p');
    const args = ffmpegArgs(spec).join(' ');
    expect(args).toContain('-rtsp_transport tcp');
    expect(args).toContain('-i rtsp://127.0.0.1:1/live/cam');
    expect(args).toContain('-c:v libx264 -preset ultrafast -tune zerolatency');
    expect(args).toContain('-b:v 800k');
    expect(args).toContain('-vf scale=-2:360');
    expect(args).toContain('-c:a aac -b:a 64k -ar 48000');
    expect(args).toContain('-af loudnorm');
    expect(args).toMatch(/-f flv .*rtmp:\/\/127\.0\.0\.1:2\/live\/cam_360p$/);
  });

  it('decodes up to 720p on one thread (no frame-threading delay) and larger sources with the default threads, without probing', () => {
    const hd = { video: { codec: 'H265' as const, width: 1280, height: 720 }, audio: track('PCMA') };
    const fhd = { video: { codec: 'H265' as const, width: 1920, height: 1080 }, audio: track('PCMA') };
    const at = (source: typeof hd) => ffmpegArgs(renditionSpec(h264, source, 'rtsp://a/b/c', 'rtmp://a/b/c_h264')).join(' ');
    expect(at(hd)).toContain('-threads 1 -rtsp_transport tcp');
    expect(at(fhd)).not.toContain('-threads 1');
    expect(at(hd)).toContain('-fflags nobuffer -probesize 32768 -analyzeduration 0 -i rtsp://a/b/c');
  });

  it('copies with -c:v copy -c:a copy', () => {
    const args = ffmpegArgs(renditionSpec(h264, { video: track('H264'), audio: track('AAC') }, 'rtsp://a/b/c', 'rtmp://a/b/c_h264')).join(' ');
    expect(args).toContain('-c:v copy');
    expect(args).toContain('-c:a copy');
    expect(args).not.toContain('libx264');
  });
});

describe('the aac and opus renditions', () => {
  const aac = DEFAULT_PROFILES.aac!;
  const opus = DEFAULT_PROFILES.opus!;
  it.each([
    // profile, source video, source audio, rendition audio, publishes over
    ['aac', 'H264', 'OPUS', 'AAC', 'rtmp'],
    ['aac', 'H264', 'AAC', 'AAC', 'rtmp'],
    ['aac', 'H265', 'PCMA', 'AAC', 'rtmp'],
    ['opus', 'H264', 'AAC', 'OPUS', 'rtsp'],
    ['opus', 'H264', 'PCMU', 'OPUS', 'rtsp'],
    ['opus', 'H264', 'OPUS', 'OPUS', 'rtsp'],
    ['opus', 'H264', undefined, null, 'rtmp'],
  ] as const)('%s of %s + %s carries %s and publishes over %s', (name, video, audio, carried, protocol) => {
    const profile = name === 'aac' ? aac : opus;
    const source = { video: track(video), audio: track(audio) };
    expect(planRendition(profile, source).video).toBe('copy');
    expect(renditionAudioCodec(profile, source)).toBe(carried);
    expect(renditionOutputProtocol(profile, source)).toBe(protocol);
  });

  it('encodes Opus with libopus at 48 kHz in 20 ms low-delay packets and publishes over RTSP/TCP', () => {
    const args = ffmpegArgs(renditionSpec(opus, { video: track('H264'), audio: track('AAC') }, 'rtsp://a:1/live/y', 'rtsp://a:1/live/y_opus')).join(' ');
    expect(args).toContain('-c:v copy');
    expect(args).toContain('-c:a libopus -application lowdelay -frame_duration 20 -b:a 64k -ar 48000');
    expect(args).not.toContain('-c:a aac');
    expect(args).not.toContain('-f flv');
    expect(args).toMatch(/-f rtsp -rtsp_transport tcp rtsp:\/\/a:1\/live\/y_opus$/);
  });

  it('encodes Opus to AAC, reading the source over RTSP and writing FLV', () => {
    const args = ffmpegArgs(renditionSpec(aac, { video: track('H264'), audio: track('OPUS') }, 'rtsp://a:1/live/x', 'rtmp://a:2/live/x_aac')).join(' ');
    expect(args).toContain('-i rtsp://a:1/live/x');
    expect(args).toContain('-c:v copy');
    expect(args).toContain('-c:a aac -b:a 64k -ar 48000');
    expect(args).toMatch(/-f flv .*rtmp:\/\/a:2\/live\/x_aac$/);
  });
});

describe('rendition paths', () => {
  it.each([
    ['live/cam1_h264', { source: 'live/cam1', profile: 'h264' }],
    ['live/front_door_360p', { source: 'live/front_door', profile: '360p' }],
    ['live/cam1_h264_360p', { source: 'live/cam1_h264', profile: '360p' }],
    ['live/cam1', undefined],
    ['live/_h264', undefined],
  ])('%s', (path, expected) => {
    expect(parseRenditionPath(path)).toEqual(expected);
  });
});

describe('transcode config', () => {
  it('defaults to the h264, 720p, 360p, wall, aac, opus and webrtc profiles and an auto rule for every path (wall for small tiles)', () => {
    const c = configWith().transcode;
    expect(Object.keys(c.profiles)).toEqual(['h264', '720p', '360p', 'wall', 'aac', 'opus', 'webrtc']);
    expect(c.profiles.webrtc).toMatchObject({ video: { codec: 'auto' }, audio: { codec: 'opus' } });
    expect(c.profiles.aac).toMatchObject({ video: { codec: 'copy' }, audio: { codec: 'auto' } });
    expect(c.profiles.opus).toMatchObject({ video: { codec: 'copy' }, audio: { codec: 'opus' } });
    expect(c.auto).toEqual([{ paths: '**', profile: 'h264', tileProfile: 'wall' }]);
    expect(c.profiles.wall!.video).toMatchObject({ codec: 'h264', height: 360, bitrateKbps: 600 });
  });

  it.each([
    [{ transcode: { profiles: { h264: { video: { codec: 'vp9' } } } } }, 'transcode.profiles.h264.video.codec'],
    [{ transcode: { profiles: { 'bad_name': {} } } }, 'transcode.profiles.bad_name: Invalid key'],
    [{ transcode: { maxJobs: -1 } }, 'transcode.maxJobs'],
    [{ transcode: { speed: 1 } }, 'unknown key transcode.speed'],
  ])('refuses %j', (input, message) => {
    expect(() => configWith(input)).toThrow(message);
  });
});

describe('ffmpeg binary and output', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sg-ffbin-'));
  const fake = join(dir, 'ffmpeg');
  writeFileSync(fake, '#!/bin/sh\necho "ffmpeg version fake-1.0"\n');
  chmodSync(fake, 0o755);

  it('prefers FFMPEG_PATH, then PATH, then the bundled binary', () => {
    expect(resolveFfmpeg({ FFMPEG_PATH: fake, PATH: '/usr/bin' })).toEqual({ path: fake, source: 'FFMPEG_PATH', version: 'ffmpeg version fake-1.0' });
    expect(resolveFfmpeg({ PATH: `${dir}:/usr/bin` })).toMatchObject({ path: fake, source: 'PATH' });
    const bundled = resolveFfmpeg({ PATH: '/nonexistent' });
    expect(bundled.source).toBe('bundled');
    expect(bundled.path).toContain('@ffmpeg-installer');
    expect(bundled.version).toMatch(/^ffmpeg version/);
  });

  it('refuses an FFMPEG_PATH that is not executable, naming it', () => {
    expect(() => resolveFfmpeg({ FFMPEG_PATH: join(dir, 'missing') })).toThrow(FfmpegNotFoundError);
    expect(() => resolveFfmpeg({ FFMPEG_PATH: join(dir, 'missing') })).toThrow(/FFMPEG_PATH=.*missing/);
  });

  it('reads progress and error lines', () => {
    expect(parseProgress('[info] frame=  50 fps= 25 q=23.0 size=  100kB time=00:00:02.00 bitrate= 409.6kbits/s speed=1.01x')).toEqual({ frames: 50, fps: 25, speed: 1.01 });
    expect(parseProgress('[info] Stream mapping:')).toBeUndefined();
    expect(errorLine('[libx264 @ 0x55d0c8] [error] width not divisible by 2 (161x121)')).toBe('width not divisible by 2 (161x121)');
    expect(errorLine('[info] Press [q] to stop')).toBeUndefined();
  });
});

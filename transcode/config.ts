/**
 * The `transcode:` config section: ffmpeg renditions, their profiles, supervision and snapshots.
 * config/default.yaml writes out the same defaults (test/unit/config.test.ts ties them).
 */
import { z } from 'zod';
import { pathPatternSchema as pathPattern } from '../gateway/schemas.js';


/** x264 presets, fastest first. */
export const X264_PRESETS = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow'] as const;

export const videoProfileSchema = z.strictObject({
  /** auto: copy H.264 untouched (when no size/fps change is asked), encode anything else; h264: always encode; copy: never. */
  codec: z.enum(['auto', 'h264', 'copy']).default('auto'),
  /** Output size; 0 keeps the source's (one of the two 0 keeps the aspect ratio). */
  width: z.number().int().min(0).max(7680).default(0),
  height: z.number().int().min(0).max(4320).default(0),
  /** Output frame rate; 0 keeps the source's. */
  fps: z.number().min(0).max(120).default(0),
  bitrateKbps: z.number().int().min(50).max(100000).default(2000),
  /** Keyframe interval: readers join at a keyframe, so this bounds their startup. */
  gopSeconds: z.number().min(0.1).max(10).default(1),
  preset: z.enum(X264_PRESETS).default('ultrafast'),
});

export const audioProfileSchema = z.strictObject({
  /**
   * auto: copy AAC, encode G.711, Opus (or anything else) to AAC; aac: always encode; opus: copy
   * Opus, encode anything else to Opus (libopus; a rendition carrying Opus publishes back over
   * RTSP, since RTMP cannot carry it); copy: never; none: drop audio.
   */
  codec: z.enum(['auto', 'aac', 'opus', 'copy', 'none']).default('auto'),
  /** Output sample rate of encoded AAC; 0 keeps the source's. Encoded Opus is always 48000 (RFC 7587 §4.1). */
  sampleRate: z.union([z.literal(0), z.literal(8000), z.literal(16000), z.literal(22050), z.literal(24000), z.literal(32000), z.literal(44100), z.literal(48000)]).default(48000),
  /** Output channels of encoded AAC; 0 keeps the source's. */
  channels: z.number().int().min(0).max(2).default(0),
  bitrateKbps: z.number().int().min(8).max(512).default(64),
  /** Camera audio clean-up: ffmpeg's FFT noise reduction (afftdn). Forces an encode. */
  denoise: z.boolean().default(false),
  /** EBU R128 loudness normalization (loudnorm). Forces an encode. */
  loudnorm: z.boolean().default(false),
});

export const profileSchema = z.strictObject({
  video: videoProfileSchema.prefault({}),
  audio: audioProfileSchema.prefault({}),
});

export type Profile = z.infer<typeof profileSchema>;
export type VideoProfile = z.infer<typeof videoProfileSchema>;
export type AudioProfile = z.infer<typeof audioProfileSchema>;

/**
 * The built-in profiles: `h264` makes any stream browser-safe; `720p` and `360p` also scale;
 * `wall` is 360p at a low bitrate for small wall tiles (a 16-tile wall of 1080p cameras would
 * otherwise encode 16 full-size streams to show them at a quarter of the width). `aac` and `opus`
 * copy the video and change only the audio: `aac` for FLV/HLS/RTMP readers of a WebRTC (Opus)
 * publisher, `opus` for WebRTC readers of an AAC or G.711 camera.
 */
export const DEFAULT_PROFILES: Record<string, Profile> = {
  h264: profileSchema.parse({}),
  '720p': profileSchema.parse({ video: { codec: 'h264', height: 720, bitrateKbps: 2500 } }),
  '360p': profileSchema.parse({ video: { codec: 'h264', height: 360, bitrateKbps: 800 }, audio: { bitrateKbps: 48 } }),
  wall: profileSchema.parse({ video: { codec: 'h264', height: 360, bitrateKbps: 600 }, audio: { bitrateKbps: 48 } }),
  aac: profileSchema.parse({ video: { codec: 'copy' } }),
  opus: profileSchema.parse({ video: { codec: 'copy' }, audio: { codec: 'opus' } }),
  webrtc: profileSchema.parse({ video: { codec: 'auto' }, audio: { codec: 'opus' } }),
};

const profileName = z.string().regex(/^[A-Za-z0-9-]{1,32}$/, 'profile names are [A-Za-z0-9-] (the rendition path is {name}_{profile})');

export const transcodeConfigSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Rendition profiles by name; `live/cam1_{name}` plays `live/cam1` through profile `{name}`. */
  profiles: z.record(profileName, profileSchema).default(DEFAULT_PROFILES),
  /**
   * Streams matching a rule get this profile's rendition offered in the API (`renditions.browser`,
   * and `browserUrl` when they are not H.264 + AAC); players switch to it when the browser cannot
   * decode the source. `tileProfile`: the smaller rendition wall tiles play instead.
   */
  auto: z
    .array(z.strictObject({ paths: pathPattern, profile: profileName, tileProfile: profileName.optional() }))
    .default([{ paths: '**', profile: 'h264', tileProfile: 'wall' }]),
  /** Most ffmpeg jobs at once; a rendition past it is refused (HTTP 503) instead of overloading the machine. */
  maxJobs: z.number().int().min(0).default(16),
  /**
   * A new job is also refused while the running jobs use this share of all cores (measured from
   * /proc); 0 turns the check off. 16 sub-stream cameras fit where 16 1080p ones would not.
   */
  maxCpuPercent: z.number().min(0).max(100).default(80),
  /** A job stops this long after its last reader left. */
  idleCloseMs: z.number().int().min(0).default(10000),
  /** A job that has not published its first keyframe by then is killed and its readers fail. */
  startTimeoutMs: z.number().int().min(1000).default(10000),
  /** A job that dies is restarted after this delay, doubled per failure up to maxRestartDelayMs. */
  restartDelayMs: z.number().int().min(0).default(500),
  maxRestartDelayMs: z.number().int().min(0).default(10000),
  /** Lines of ffmpeg's stderr kept per job (shown by the API). */
  stderrLines: z.number().int().min(1).max(1000).default(20),
  snapshot: z
    .strictObject({
      /** A snapshot is reused for this long per stream and width: a wall polling it starts one decoder. */
      cacheMs: z.number().int().min(0).default(1000),
      /** A decode that takes longer fails with 504. */
      timeoutMs: z.number().int().min(100).default(5000),
      /** JPEG quality as ffmpeg's -q:v: 2 (best) to 31. */
      quality: z.number().int().min(2).max(31).default(5),
      /** Largest ?width= accepted. */
      maxWidth: z.number().int().min(16).max(7680).default(1920),
    })
    .prefault({}),
});

export type TranscodeConfig = z.infer<typeof transcodeConfigSchema>;

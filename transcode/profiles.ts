/**
 * Profiles to ffmpeg arguments. Pure: the source's tracks and a profile in, a spec out, so the
 * copy-or-encode decision is testable without running anything.
 */
import type { AudioTrack, VideoTrack } from '../gateway/core/media.js';
import type { AudioProfile, Profile, VideoProfile } from './config.js';
import { type FfmpegSpec } from './ffmpeg.js';

export interface SourceTracks {
  readonly video: (Pick<VideoTrack, 'codec'> & Partial<Pick<VideoTrack, 'width' | 'height'>>) | undefined;
  readonly audio: Pick<AudioTrack, 'codec'> | undefined;
}

export type TrackPlan = 'copy' | 'encode' | 'none';

/** Sources up to this height are decoded on one thread (lowest latency; 720p HEVC keeps real time here). */
const SINGLE_THREAD_DECODE_MAX_HEIGHT = 720;

export interface RenditionPlan {
  readonly video: TrackPlan;
  readonly audio: TrackPlan;
}

/** What happens to each track: browser-safe media (H.264, AAC) is copied unless the profile changes it. */
export function planRendition(profile: Profile, source: SourceTracks): RenditionPlan {
  return { video: planVideo(profile.video, source.video), audio: planAudio(profile.audio, source.audio) };
}

function planVideo(p: VideoProfile, track: SourceTracks['video']): TrackPlan {
  if (!track) return 'none';
  if (p.codec === 'copy') return 'copy';
  if (p.codec === 'h264') return 'encode';
  const reshaped = p.width > 0 || p.height > 0 || p.fps > 0;
  return track.codec === 'H264' && !reshaped ? 'copy' : 'encode';
}

function planAudio(p: AudioProfile, track: SourceTracks['audio']): TrackPlan {
  if (!track || p.codec === 'none') return 'none';
  if (p.codec === 'copy') return 'copy';
  if (p.codec === 'aac') return 'encode';
  const target = p.codec === 'opus' ? 'OPUS' : 'AAC';
  return track.codec === target && !p.denoise && !p.loudnorm ? 'copy' : 'encode';
}

/** The audio codec a rendition carries (API names), or null when it has none. */
export function renditionAudioCodec(profile: Profile, source: SourceTracks): string | null {
  const plan = planAudio(profile.audio, source.audio);
  if (plan === 'none') return null;
  if (plan === 'copy') return source.audio?.codec ?? null;
  return profile.audio.codec === 'opus' ? 'OPUS' : 'AAC';
}

/**
 * How a rendition publishes back into the hub: RTMP (FLV) unless it carries Opus, which FLV
 * cannot (no SoundFormat for it; ffmpeg 5.1 writes no Enhanced RTMP audio), so then RTSP
 * ANNOUNCE/RECORD (RFC 7587 payload).
 */
export function renditionOutputProtocol(profile: Profile, source: SourceTracks): 'rtmp' | 'rtsp' {
  return renditionAudioCodec(profile, source) === 'OPUS' ? 'rtsp' : 'rtmp';
}

/** libopus in its low-delay mode (CELT only, no SILK lookahead), 20 ms frames: one RTP packet each. */
function opusEncoderArgs(a: AudioProfile): string[] {
  return ['-c:a', 'libopus', '-application', 'lowdelay', '-frame_duration', '20', '-b:a', `${a.bitrateKbps}k`, '-ar', '48000'];
}

function videoFilters(p: VideoProfile): string[] {
  const filters: string[] = [];
  if (p.width > 0 || p.height > 0) filters.push(`scale=${p.width || -2}:${p.height || -2}`);
  if (p.fps > 0) filters.push(`fps=${p.fps}`);
  return filters;
}

function audioFilters(p: AudioProfile): string[] {
  const filters: string[] = [];
  if (p.denoise) filters.push('afftdn');
  if (p.loudnorm) filters.push('loudnorm');
  return filters;
}

/**
 * The ffmpeg job for a rendition: read the source over RTSP (TCP interleaved, from the gateway
 * itself), publish FLV over RTMP back into the hub, or RTSP when `outputUrl` is rtsp:// (a
 * rendition carrying Opus, see renditionOutputProtocol). Encoding is tuned for latency: x264
 * zerolatency (no lookahead, no B-frames), a keyframe every gopSeconds so readers join fast.
 * `level+info` prefixes each stderr line with its level, so the job can tell errors apart.
 */
export function renditionSpec(profile: Profile, source: SourceTracks, inputUrl: string, outputUrl: string): FfmpegSpec {
  const plan = planRendition(profile, source);
  const v = profile.video;
  const a = profile.audio;
  const out: string[] = [];
  if (plan.video === 'none') out.push('-vn');
  else {
    out.push('-map', '0:v:0');
    if (plan.video === 'copy') out.push('-c:v', 'copy');
    else {
      out.push(
        '-c:v', 'libx264', '-preset', v.preset, '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
        '-b:v', `${v.bitrateKbps}k`, '-maxrate', `${v.bitrateKbps}k`, '-bufsize', `${v.bitrateKbps}k`,
        '-force_key_frames', `expr:gte(t,n_forced*${v.gopSeconds})`, '-bf', '0',
      );
      const filters = videoFilters(v);
      if (filters.length) out.push('-vf', filters.join(','));
    }
  }
  if (plan.audio === 'none') out.push('-an');
  else {
    out.push('-map', '0:a:0');
    if (plan.audio === 'copy') out.push('-c:a', 'copy');
    else {
      if (a.codec === 'opus') out.push(...opusEncoderArgs(a));
      else out.push('-c:a', 'aac', '-b:a', `${a.bitrateKbps}k`);
      if (a.sampleRate > 0 && a.codec !== 'opus') out.push('-ar', String(a.sampleRate));
      if (a.channels > 0) out.push('-ac', String(a.channels));
      const filters = audioFilters(a);
      if (filters.length) out.push('-af', filters.join(','));
    }
  }
  // passthrough: keep the source's timestamps, never duplicate or drop frames to a fixed rate.
  out.push('-vsync', 'passthrough', '-max_interleave_delta', '0', '-flush_packets', '1');
  if (outputUrl.startsWith('rtsp:')) out.push('-f', 'rtsp', '-rtsp_transport', 'tcp');
  else out.push('-f', 'flv', '-flvflags', 'no_duration_filesize');
  return {
    input: inputUrl,
    inputOptions: [
      '-hide_banner', '-nostdin', '-loglevel', 'level+info',
      // A single decoder thread avoids frame-threading delay (a frame per extra thread); above
      // 720p one thread may not keep up, so larger sources keep ffmpeg's default.
      ...(plan.video === 'encode' && (source.video?.height ?? 0) <= SINGLE_THREAD_DECODE_MAX_HEIGHT ? ['-threads', '1'] : []),
      // The SDP carries complete parameter sets, so no probing: nothing read before decoding
      // starts turns into a backlog the job would carry as delay.
      '-rtsp_transport', 'tcp', '-fflags', 'nobuffer', '-probesize', '32768', '-analyzeduration', '0',
    ],
    output: outputUrl,
    outputOptions: out,
  };
}

/** A profile with a partial change on top (PATCH), validated by the caller. */
export function mergeProfile(base: Profile, change: { video?: Partial<VideoProfile>; audio?: Partial<AudioProfile> }): unknown {
  return { video: { ...base.video, ...change.video }, audio: { ...base.audio, ...change.audio } };
}

/**
 * Building core Tracks from decoder configuration records, with width/height/fps read from the
 * SPS (never trusted from publisher metadata).
 */
import { parseAudioSpecificConfig } from '../codecs/aac.js';
import { CodecError } from '../codecs/errors.js';
import { buildAvcDecoderConfig, parseAvcDecoderConfig, parseH264Sps } from '../codecs/h264.js';
import { buildHevcDecoderConfig, parseH265Sps, parseHevcDecoderConfig } from '../codecs/h265.js';
import type { AudioTrack, VideoCodec, VideoTrack } from '../core/media.js';

/** Throws CodecError when the record or its SPS cannot be parsed. */
export function videoTrackFromConfig(codec: VideoCodec, config: Buffer): VideoTrack {
  if (codec === 'H264') {
    const record = parseAvcDecoderConfig(config);
    const sps = record.sps[0];
    if (!sps) throw new CodecError('AVCDecoderConfigurationRecord has no SPS');
    const info = parseH264Sps(sps);
    return { kind: 'video', codec, config: Buffer.from(config), width: info.width, height: info.height, fps: info.fps };
  }
  const record = parseHevcDecoderConfig(config);
  const sps = record.sps[0];
  if (!sps) throw new CodecError('HEVCDecoderConfigurationRecord has no SPS');
  const info = parseH265Sps(sps);
  return { kind: 'video', codec, config: Buffer.from(config), width: info.width, height: info.height, fps: info.fps };
}

export function aacTrackFromConfig(config: Buffer): AudioTrack {
  const asc = parseAudioSpecificConfig(config);
  return { kind: 'audio', codec: 'AAC', config: Buffer.from(config), sampleRate: asc.sampleRate, channels: asc.channels };
}

export function g711Track(codec: 'PCMA' | 'PCMU', channels = 1, sampleRate = 8000): AudioTrack {
  return { kind: 'audio', codec, config: Buffer.alloc(0), sampleRate, channels };
}

/** An Opus track: no decoder config in the hub, always 48 kHz (RFC 7587 §4.1), 1 or 2 channels. */
export function opusTrack(channels = 2): AudioTrack {
  return { kind: 'audio', codec: 'OPUS', config: Buffer.alloc(0), sampleRate: 48000, channels: channels === 1 ? 1 : 2 };
}

export function sameConfig(a: { codec: string; config: Buffer } | undefined, codec: string, config: Buffer): boolean {
  return a !== undefined && a.codec === codec && a.config.equals(config);
}

/** Builds a video track from parameter sets, or undefined when they are missing or unusable. */
export function videoTrackFromParameterSets(codec: 'H264' | 'H265', vps: Buffer[], sps: Buffer[], pps: Buffer[]): VideoTrack | undefined {
  if (sps.length === 0 || pps.length === 0 || (codec === 'H265' && vps.length === 0)) return undefined;
  try {
    const config = codec === 'H264' ? buildAvcDecoderConfig(sps, pps) : buildHevcDecoderConfig(vps, sps, pps);
    return videoTrackFromConfig(codec, config);
  } catch (error) {
    if (error instanceof CodecError) return undefined;
    throw error;
  }
}


/**
 * SDP (RFC 4566) as RTSP uses it: parsing an ANNOUNCE body or a camera's DESCRIBE answer into
 * media descriptions with codec parameters, and writing the SDP for DESCRIBE from hub tracks.
 * Codec parameters: H.264 RFC 6184 §8.1, H.265 RFC 7798 §7.1, AAC RFC 3640 §4.1, G.711 RFC 3551 §6,
 * Opus RFC 7587 §6-7.
 */
import { parseAvcDecoderConfig } from '../../codecs/h264.js';
import { parseHevcDecoderConfig } from '../../codecs/h265.js';
import { ProtocolError, UnsupportedCodecError } from '../../core/errors.js';
import type { AudioTrack, Track } from '../../core/media.js';
import { OPUS_CLOCK_RATE } from './audio.js';
import { aacTrackFromConfig, g711Track, opusTrack, videoTrackFromParameterSets } from '../../formats/tracks.js';

export interface SdpMedia {
  readonly type: string;
  readonly payloadType: number;
  /** rtpmap encoding name, upper-cased ('H264', 'MPEG4-GENERIC', ...); '' when absent. */
  readonly encoding: string;
  readonly clockRate: number;
  readonly channels: number;
  /** fmtp parameters of the payload type, keys lower-cased. */
  readonly fmtp: ReadonlyMap<string, string>;
  /** a=control value ('' when absent). */
  readonly control: string;
}

export interface SdpSession {
  readonly control: string;
  readonly media: readonly SdpMedia[];
}

const MAX_LINES = 512;
const MAX_MEDIA = 16;

/** Static payload types of RFC 3551 §6 that we may meet without an rtpmap. */
const STATIC_TYPES: Record<number, { encoding: string; clockRate: number; channels: number }> = {
  0: { encoding: 'PCMU', clockRate: 8000, channels: 1 },
  8: { encoding: 'PCMA', clockRate: 8000, channels: 1 },
};

/** Parses SDP text; throws ProtocolError on anything that is not SDP. */
export function parseSdp(text: string, maxBytes = 65536): SdpSession {
  if (text.length > maxBytes) throw new ProtocolError('sdp', `SDP of ${text.length} bytes exceeds ${maxBytes}`);
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  if (lines.length > MAX_LINES) throw new ProtocolError('sdp', `SDP has ${lines.length} lines, more than ${MAX_LINES}`);
  if (!lines[0]?.startsWith('v=0')) throw new ProtocolError('sdp', 'bad SDP: it must start with v=0');
  let sessionControl = '';
  const media: {
    type: string;
    payloadType: number;
    encoding: string;
    clockRate: number;
    channels: number;
    fmtp: Map<string, string>;
    control: string;
  }[] = [];
  for (const line of lines) {
    if (line.length < 2 || line[1] !== '=') throw new ProtocolError('sdp', `bad SDP line ${JSON.stringify(line.slice(0, 60))}`);
    const type = line[0]!;
    const value = line.slice(2).trim();
    const current = media[media.length - 1];
    if (type === 'm') {
      const parts = value.split(/\s+/);
      const pt = Number(parts[3]);
      if (parts.length < 4 || !Number.isInteger(pt) || pt < 0 || pt > 127) {
        throw new ProtocolError('sdp', `bad SDP media line ${JSON.stringify(line.slice(0, 80))}`);
      }
      if (media.length >= MAX_MEDIA) throw new ProtocolError('sdp', `SDP has more than ${MAX_MEDIA} media`);
      const st = STATIC_TYPES[pt];
      media.push({
        type: parts[0]!.toLowerCase(),
        payloadType: pt,
        encoding: st?.encoding ?? '',
        clockRate: st?.clockRate ?? 0,
        channels: st?.channels ?? 0,
        fmtp: new Map(),
        control: '',
      });
      continue;
    }
    if (type !== 'a') continue;
    const colon = value.indexOf(':');
    const key = colon < 0 ? value : value.slice(0, colon);
    const attr = colon < 0 ? '' : value.slice(colon + 1).trim();
    if (key === 'control') {
      if (current) current.control = attr;
      else sessionControl = attr;
    } else if (current && key === 'rtpmap') {
      const m = /^(\d+)\s+([^/\s]+)\/(\d+)(?:\/(\d+))?/.exec(attr);
      if (m && Number(m[1]) === current.payloadType) {
        current.encoding = m[2]!.toUpperCase();
        current.clockRate = Number(m[3]);
        current.channels = m[4] ? Number(m[4]) : current.type === 'audio' ? 1 : 0;
      }
    } else if (current && key === 'fmtp') {
      const m = /^(\d+)\s+(.*)$/.exec(attr);
      if (m && Number(m[1]) === current.payloadType) {
        for (const kv of m[2]!.split(';')) {
          const eq = kv.indexOf('=');
          if (eq <= 0) continue;
          current.fmtp.set(kv.slice(0, eq).trim().toLowerCase(), kv.slice(eq + 1).trim());
        }
      }
    }
  }
  if (media.length === 0) throw new ProtocolError('sdp', 'bad SDP: no media (m=) line');
  return { control: sessionControl, media };
}

export const SUPPORTED_RTP_CODECS = ['H264', 'H265', 'MPEG4-GENERIC (AAC)', 'PCMA', 'PCMU', 'OPUS'] as const;

/** A media description mapped to the hub: the track (when parameters allow) and how to (de)packetize. */
export interface MediaTrack {
  readonly media: SdpMedia;
  readonly codec: Track['codec'];
  readonly clockRate: number;
  /**
   * The track when the SDP carries enough to build it (sprop-* for video, config for AAC);
   * undefined for video whose parameter sets come in-band.
   */
  readonly track: Track | undefined;
  /** RFC 3640 AU-header field sizes (AAC only). */
  readonly aac?: { sizeLength: number; indexLength: number; indexDeltaLength: number };
}

function base64List(value: string | undefined): Buffer[] {
  if (!value) return [];
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => Buffer.from(s, 'base64'))
    .filter((b) => b.length > 0);
}

/** Re-exported from formats/tracks.ts, where it moved so MPEG-TS ingest shares it. */
export { videoTrackFromParameterSets };

/** VPS/SPS/PPS of a decoder configuration record (VPS empty for H.264). */
export function parameterSetsOf(codec: 'H264' | 'H265', config: Buffer): { vps: Buffer[]; sps: Buffer[]; pps: Buffer[] } {
  if (codec === 'H264') {
    const rec = parseAvcDecoderConfig(config);
    return { vps: [], sps: [...rec.sps], pps: [...rec.pps] };
  }
  const rec = parseHevcDecoderConfig(config);
  return { vps: [...rec.vps], sps: [...rec.sps], pps: [...rec.pps] };
}

/**
 * The supported media of an SDP (at most one video and one audio, the first of each), with
 * tracks. Throws UnsupportedCodecError naming the supported codecs when nothing is usable.
 */
export function mediaTracks(sdp: SdpSession): MediaTrack[] {
  const out: MediaTrack[] = [];
  const unsupported: string[] = [];
  for (const media of sdp.media) {
    const enc = media.encoding;
    if (media.type === 'video' && (enc === 'H264' || enc === 'H265')) {
      if (out.some((t) => t.media.type === 'video')) continue;
      const track =
        enc === 'H264'
          ? (() => {
              const sets = base64List(media.fmtp.get('sprop-parameter-sets'));
              return videoTrackFromParameterSets('H264', [], sets.filter((s) => (s[0]! & 0x1f) === 7), sets.filter((s) => (s[0]! & 0x1f) === 8));
            })()
          : videoTrackFromParameterSets(
              'H265',
              base64List(media.fmtp.get('sprop-vps')),
              base64List(media.fmtp.get('sprop-sps')),
              base64List(media.fmtp.get('sprop-pps')),
            );
      out.push({ media, codec: enc, clockRate: media.clockRate || 90000, track });
    } else if (media.type === 'audio' && (enc === 'MPEG4-GENERIC' || enc === 'PCMA' || enc === 'PCMU' || enc === 'OPUS')) {
      if (out.some((t) => t.media.type === 'audio')) continue;
      if (enc === 'OPUS') {
        // RFC 7587 §7: the rtpmap always says opus/48000/2; whether the sender codes stereo is
        // sprop-stereo (§6.1, default 0: mono). The RTP clock is 48000 whatever the rtpmap claims.
        if (media.clockRate !== 0 && media.clockRate !== OPUS_CLOCK_RATE) {
          unsupported.push(`OPUS/${media.clockRate} (RFC 7587 requires a 48000 Hz clock)`);
          continue;
        }
        const stereo = media.fmtp.get('sprop-stereo') === '1';
        out.push({ media, codec: 'OPUS', clockRate: OPUS_CLOCK_RATE, track: opusTrack(stereo ? 2 : 1) });
      } else if (enc === 'MPEG4-GENERIC') {
        const mode = (media.fmtp.get('mode') ?? '').toLowerCase();
        const config = media.fmtp.get('config');
        if (mode !== 'aac-hbr' || !config || !/^[0-9a-fA-F]+$/.test(config)) {
          unsupported.push(`MPEG4-GENERIC mode=${mode || '(none)'}${config ? '' : ' without config'}`);
          continue;
        }
        let track: AudioTrack;
        try {
          track = aacTrackFromConfig(Buffer.from(config, 'hex'));
        } catch (error) {
          throw new ProtocolError('sdp', `bad AAC config in SDP: ${(error as Error).message}`);
        }
        const num = (k: string, d: number) => {
          const v = Number(media.fmtp.get(k) ?? d);
          return Number.isInteger(v) && v >= 0 && v <= 32 ? v : d;
        };
        out.push({
          media,
          codec: 'AAC',
          clockRate: media.clockRate || track.sampleRate,
          track,
          aac: { sizeLength: num('sizelength', 13), indexLength: num('indexlength', 3), indexDeltaLength: num('indexdeltalength', 3) },
        });
      } else {
        const rate = media.clockRate || 8000;
        out.push({ media, codec: enc, clockRate: rate, track: g711Track(enc, media.channels || 1, rate) });
      }
    } else if (media.type === 'video' || media.type === 'audio') {
      unsupported.push(`${media.type} ${enc || `payload type ${media.payloadType}`}`);
    }
  }
  if (out.length === 0) {
    throw new UnsupportedCodecError(unsupported.join(', ') || 'none', SUPPORTED_RTP_CODECS);
  }
  return out;
}

/** Payload types and controls the gateway uses in its own SDP. */
export const VIDEO_PT = 96;
export const AAC_PT = 97;
/** Opus's dynamic payload type (the value browsers offer, so SDP diffs stay readable). */
export const OPUS_PT = 111;

/** The a=fmtp/rtpmap lines of one hub track for its RTP payload type. */
function mediaSection(track: Track, index: number): string[] {
  const lines: string[] = [];
  if (track.kind === 'video') {
    lines.push(`m=video 0 RTP/AVP ${VIDEO_PT}`, `a=rtpmap:${VIDEO_PT} ${track.codec}/90000`);
    if (track.codec === 'H264') {
      const rec = parseAvcDecoderConfig(track.config);
      const sps = rec.sps[0];
      const sets = [...rec.sps, ...rec.pps].map((b) => b.toString('base64')).join(',');
      const pli = sps && sps.length >= 4 ? sps.subarray(1, 4).toString('hex').toUpperCase() : '42E01F';
      lines.push(`a=fmtp:${VIDEO_PT} packetization-mode=1; sprop-parameter-sets=${sets}; profile-level-id=${pli}`);
    } else {
      const rec = parseHevcDecoderConfig(track.config);
      const b64 = (l: readonly Buffer[]) => l.map((b) => b.toString('base64')).join(',');
      lines.push(`a=fmtp:${VIDEO_PT} sprop-vps=${b64(rec.vps)}; sprop-sps=${b64(rec.sps)}; sprop-pps=${b64(rec.pps)}`);
    }
  } else if (track.codec === 'AAC') {
    lines.push(
      `m=audio 0 RTP/AVP ${AAC_PT}`,
      `a=rtpmap:${AAC_PT} MPEG4-GENERIC/${track.sampleRate}/${track.channels}`,
      `a=fmtp:${AAC_PT} profile-level-id=1; mode=AAC-hbr; sizelength=13; indexlength=3; indexdeltalength=3; config=${track.config.toString('hex')}`,
    );
  } else if (track.codec === 'OPUS') {
    // RFC 7587 §7: rtpmap channels are always 2; sprop-stereo tells the receiver what we send.
    lines.push(
      `m=audio 0 RTP/AVP ${OPUS_PT}`,
      `a=rtpmap:${OPUS_PT} opus/${OPUS_CLOCK_RATE}/2`,
      `a=fmtp:${OPUS_PT} sprop-stereo=${track.channels === 2 ? 1 : 0}`,
    );
  } else {
    const pt = track.codec === 'PCMU' ? 0 : 8;
    lines.push(`m=audio 0 RTP/AVP ${pt}`, `a=rtpmap:${pt} ${track.codec}/${track.sampleRate}/${track.channels}`);
  }
  lines.push(`a=control:trackID=${index}`);
  return lines;
}

/** The SDP a DESCRIBE answers with: complete parameter sets so players start without probing. */
export function buildSdp(tracks: readonly Track[], sessionName: string, address = '0.0.0.0'): string {
  const lines = [
    'v=0',
    `o=- 0 0 IN IP4 ${address.includes(':') ? '0.0.0.0' : address}`,
    `s=${sessionName}`,
    'c=IN IP4 0.0.0.0',
    't=0 0',
    'a=control:*',
    'a=range:npt=0-',
  ];
  tracks.forEach((t, i) => lines.push(...mediaSection(t, i)));
  return lines.join('\r\n') + '\r\n';
}

/**
 * Which variant of a stream to play: the source, or its browser-safe rendition. Decided from the
 * stream's codecs (the API entry) and the browser's own answers (`MediaSource.isTypeSupported`),
 * never from a guess about the browser. Pure, so every case is a unit test.
 *
 *   H.265 camera, browser without HEVC   -> `{stream}_h264` (or the small tile rendition)
 *   H.264 + G.711                         -> the rendition (G.711 -> AAC, video copied)
 *   H.264 + Opus (a WebRTC publisher)     -> `{stream}_aac` (Opus -> AAC, video copied: FLV and HLS
 *                                            cannot carry Opus, the source plays without sound)
 *   H.265 in a browser that decodes HEVC  -> the source (G.711 alone would still switch)
 *   no rendition configured               -> the source without sound, or `unsupported` with the
 *                                            config line that would enable one
 */
import type { RenditionOffer, StreamEntry } from './api/types.js';

/** `auto` plays the browser-safe rendition when the source cannot be decoded; `source` never switches. */
export type VariantMode = 'auto' | 'source';

/** What this browser decodes, from its own capability checks. */
export interface Capabilities {
  h264: boolean;
  h265: boolean;
  aac: boolean;
  mp3: boolean;
}

/** Types are asked of MediaSource (what MSE decodes), the path every engine here uses. */
const PROBES: Record<keyof Capabilities, string> = {
  h264: 'video/mp4; codecs="avc1.42E01E"',
  h265: 'video/mp4; codecs="hvc1.1.6.L93.B0"',
  aac: 'audio/mp4; codecs="mp4a.40.2"',
  mp3: 'audio/mpeg',
};

export function browserCapabilities(): Capabilities {
  const MS = (globalThis as { MediaSource?: typeof MediaSource }).MediaSource;
  const ask = (type: string) => !!MS && typeof MS.isTypeSupported === 'function' && MS.isTypeSupported(type);
  return { h264: ask(PROBES.h264), h265: ask(PROBES.h265), aac: ask(PROBES.aac), mp3: ask(PROBES.mp3) };
}

/** API codec names in the words a user reads: `H265` -> `H.265`, `PCMA` -> `G.711 A-law`. */
export function codecName(codec: string): string {
  const names: Record<string, string> = { H264: 'H.264', H265: 'H.265', PCMA: 'G.711 A-law', PCMU: 'G.711 µ-law', OPUS: 'Opus' };
  return names[codec] ?? codec;
}

function videoDecodable(codec: string | null | undefined, caps: Capabilities): boolean {
  if (!codec) return true;
  return (codec === 'H264' && caps.h264) || (codec === 'H265' && caps.h265);
}

/** Audio played from FLV/HLS: AAC and MP3 only (G.711 never reaches MSE; the gateway leaves Opus out of FLV). */
function audioDecodable(codec: string | null | undefined, caps: Capabilities): boolean {
  if (!codec) return true;
  return (codec === 'AAC' && caps.aac) || (codec === 'MP3' && caps.mp3);
}

export interface VariantChoice {
  /** `source`: the stream itself; `rendition`: its browser-safe rendition; `unsupported`: nothing decodable. */
  kind: 'source' | 'rendition' | 'unsupported';
  /** The path to open. */
  path: string;
  /** Open it with / without audio (a source whose audio cannot be decoded plays its video alone). */
  hasAudio: boolean;
  hasVideo: boolean;
  /** Why, for the overlay and the stats: "H.265 camera, playing the H.264 rendition". */
  reason: string;
  /** For `unsupported`: the rendition to offer as a link, and the config line that would enable it. */
  offer?: string;
  enable?: string;
}

/** The renditions of an entry; a gateway without the `renditions` field offers its `browserUrl`. */
function offersOf(entry: StreamEntry): { browser: RenditionOffer | null; tile: RenditionOffer | null; aac?: RenditionOffer; enable?: string } {
  if (entry.renditions) return entry.renditions;
  const m = /^\/?([^?#]+)\.flv(?:[?#].*)?$/.exec((entry.browserUrl ?? '').replace(/^[a-z]+:\/\/[^/]+/i, ''));
  const path = m ? decodeURIComponent(m[1]!) : undefined;
  const browser = path && path !== entry.path ? { path, profile: '', video: entry.video ? 'H264' : null, audio: entry.audio ? 'AAC' : null } : null;
  return { browser, tile: null };
}

/**
 * The variant to play for `entry`. `tile`: a small wall tile, which prefers the tile rendition.
 */
export function chooseVariant(entry: StreamEntry, caps: Capabilities, mode: VariantMode, tile = false): VariantChoice {
  const video = entry.video?.codec;
  const audio = entry.audio?.codec;
  const videoOk = videoDecodable(video, caps);
  const audioOk = audioDecodable(audio, caps);
  const source = (reason: string, withAudio = audioOk): VariantChoice => ({
    kind: 'source',
    path: entry.path,
    hasAudio: !!entry.audio && withAudio,
    hasVideo: !!entry.video,
    reason,
  });
  const cannot = [!videoOk && video ? `${codecName(video)} video` : '', !audioOk && audio ? `${codecName(audio)} audio` : ''].filter(Boolean);
  const what = cannot.join(' nor ');
  if (videoOk && audioOk) return source(mode === 'source' ? 'source forced (variant=source)' : 'the browser decodes the source');

  const offers = offersOf(entry);
  // Opus with decodable video: the aac rendition only changes the audio (no video encode), so it
  // comes first, before even a tile rendition (which would encode the video to shrink it).
  const audioOnly = audio === 'OPUS' && videoOk ? (offers.aac ?? null) : null;
  const rendition =
    mode === 'auto' ? [audioOnly, tile ? offers.tile : null, offers.browser].find((r) => r && videoDecodable(r.video, caps) && audioDecodable(r.audio, caps)) : undefined;
  if (rendition) {
    const camera = [video && !videoOk ? codecName(video) : '', audio && !audioOk ? codecName(audio) : ''].filter(Boolean).join(' + ');
    const carries = [rendition.video && rendition.video !== video ? codecName(rendition.video) : '', rendition.audio && rendition.audio !== audio ? codecName(rendition.audio) : ''].filter(Boolean).join(' + ');
    return {
      kind: 'rendition',
      path: rendition.path,
      hasAudio: !!rendition.audio,
      hasVideo: !!rendition.video,
      reason: `${camera} camera, playing the ${carries || 'browser-safe'} rendition ${rendition.path}`,
    };
  }
  const offer = offers.browser?.path ?? `${entry.path}_h264`;
  const enable = mode === 'auto' ? offers.enable : undefined;
  const hint = mode === 'source' ? ' (variant=source)' : enable ? `; no rendition is configured (${enable})` : '';
  if (videoOk) return { ...source(`this browser cannot decode ${what}: playing without sound${hint}`, false), offer, ...(enable ? { enable } : {}) };
  return { kind: 'unsupported', path: entry.path, hasAudio: false, hasVideo: false, reason: `this browser cannot decode ${what}${hint}`, offer, ...(enable ? { enable } : {}) };
}

/** Whether WebRTC (WHEP) can carry a stream, and why not when it cannot. */
export interface WebRtcFit {
  ok: boolean;
  /** For the overlay/stats: "H.264 + AAC without an Opus rendition". */
  reason: string;
}

/** Audio the gateway sends over WebRTC as it is. */
const WEBRTC_AUDIO = ['OPUS', 'PCMA', 'PCMU'];

/**
 * Can `entry` play over WebRTC? Video H.264 (H.265 too: the gateway plays its `_h264` rendition
 * for WHEP), audio Opus or G.711 as they are; AAC only when the entry lists a rendition carrying
 * Opus (the gateway then plays that one). Pure, like chooseVariant.
 */
export function webrtcFit(entry: StreamEntry): WebRtcFit {
  const video = entry.video?.codec;
  const audio = entry.audio?.codec;
  if (video && video !== 'H264' && video !== 'H265') return { ok: false, reason: `WebRTC carries H.264, not ${codecName(video)}` };
  const hevc = video === 'H265' ? 'H.265 video as the gateway\'s H.264 rendition, ' : '';
  if (!audio || WEBRTC_AUDIO.includes(audio)) return { ok: true, reason: `${hevc}${audio ? `${codecName(audio)} audio goes over WebRTC as it is` : 'no audio'}` };
  const offers = Object.values(entry.renditions ?? {}).filter((r): r is RenditionOffer => typeof r === 'object' && r !== null && 'path' in r);
  const opus = offers.find((r) => r.audio === 'OPUS' || r.profile === 'opus' || r.profile === 'webrtc');
  if (opus) return { ok: true, reason: `${hevc}${codecName(audio)} audio, the gateway plays the Opus rendition ${opus.path}` };
  return { ok: false, reason: `${codecName(audio)} audio and no Opus rendition for WebRTC` };
}

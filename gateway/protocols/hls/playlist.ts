/**
 * Playlists (RFC 8216 and its LL-HLS revision draft-pantos-hls-rfc8216bis): a multivariant
 * playlist at index.m3u8 naming the codecs, and the media playlist with parts, preload hint and
 * server control when low latency is on.
 */
import type { HlsMuxer, HlsSegment } from './muxer.js';

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/** `?token=...` and other query parameters carried to every URI (never the _HLS_ directives). */
export function carriedQuery(query: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (key.startsWith('_HLS_')) continue;
    if (typeof value === 'string') params.append(key, value);
    else if (Array.isArray(value)) for (const v of value) if (typeof v === 'string') params.append(key, v);
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

export function multivariantPlaylist(muxer: HlsMuxer, query: string): string {
  const { peak, average } = muxer.bandwidth();
  const attrs = [`BANDWIDTH=${peak}`, `AVERAGE-BANDWIDTH=${average}`, `CODECS="${muxer.codecs.join(',')}"`];
  const video = muxer.tracks?.video;
  if (video && video.width > 0 && video.height > 0) attrs.push(`RESOLUTION=${video.width}x${video.height}`);
  const fps = video?.fps || muxer.stream.rate.fps;
  if (fps > 0) attrs.push(`FRAME-RATE=${fps.toFixed(3)}`);
  return ['#EXTM3U', `#EXT-X-VERSION:${version(muxer)}`, '#EXT-X-INDEPENDENT-SEGMENTS', `#EXT-X-STREAM-INF:${attrs.join(',')}`, `stream.m3u8${query}`, ''].join('\n');
}

function version(muxer: HlsMuxer): number {
  if (muxer.config.lowLatency) return 9;
  return muxer.config.container === 'fmp4' ? 7 : 3;
}

export function mediaPlaylist(muxer: HlsMuxer, query: string): string {
  const config = muxer.config;
  const ext = muxer.extension;
  const ll = config.lowLatency;
  const segments = muxer.segments;
  const targetDuration = Math.max(1, Math.ceil(Math.max(muxer.maxSegmentMs, config.segmentMs) / 1000));
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${version(muxer)}`, `#EXT-X-TARGETDURATION:${targetDuration}`];
  lines.push(`#EXT-X-MEDIA-SEQUENCE:${segments[0]?.msn ?? 0}`);
  if (muxer.discontinuitySequence > 0) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${muxer.discontinuitySequence}`);
  lines.push('#EXT-X-INDEPENDENT-SEGMENTS');
  if (ll) {
    // PART-HOLD-BACK at least twice the part target (§4.4.3.8); three times as recommended.
    lines.push(`#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${seconds(config.partMs * 3)},HOLD-BACK=${seconds(targetDuration * 3000)}`);
    lines.push(`#EXT-X-PART-INF:PART-TARGET=${seconds(config.partMs)}`);
  }
  let mapId = -1;
  for (const s of segments) {
    if (s.discontinuity && s !== segments[0]) lines.push('#EXT-X-DISCONTINUITY');
    if (ext === 'm4s' && s.initId !== mapId) {
      lines.push(`#EXT-X-MAP:URI="init${s.initId}.mp4${query}"`);
      mapId = s.initId;
    }
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.wallClock).toISOString()}`);
    if (muxer.listsParts(s)) {
      for (const p of s.parts) {
        lines.push(`#EXT-X-PART:DURATION=${seconds(p.durationMs)},URI="part${s.msn}.${p.index}.${ext}${query}"${p.independent ? ',INDEPENDENT=YES' : ''}`);
      }
    }
    if (s.complete) {
      lines.push(`#EXTINF:${seconds(s.durationMs)},`, `seg${s.msn}.${ext}${query}`);
    }
  }
  if (ll) {
    const hint = nextPart(muxer);
    lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part${hint.msn}.${hint.part}.${ext}${query}"`);
  }
  lines.push('');
  return lines.join('\n');
}

/** The part the muxer produces next (the preload hint). */
export function nextPart(muxer: HlsMuxer): { msn: number; part: number } {
  const open = muxer.openSegment;
  if (open) return { msn: open.msn, part: open.parts.length };
  const last: HlsSegment | undefined = muxer.segments[muxer.segments.length - 1];
  return { msn: last ? last.msn + 1 : 0, part: 0 };
}

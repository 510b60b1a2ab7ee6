/**
 * Reads back a fragmented MP4 file written by FragmentWriter: codecs from the moov, duration from
 * the tfdt/trun of each fragment, and where the last complete fragment ends. Used to index
 * recordings and to recover a file cut short by a crash or a power loss (the tail past the last
 * complete moof+mdat pair is what was being written).
 */
import { open } from 'node:fs/promises';
import { aacCodecString } from '../../codecs/aac.js';
import { h264CodecString, parseAvcDecoderConfig } from '../../codecs/h264.js';
import { h265CodecString, parseHevcDecoderConfig } from '../../codecs/h265.js';

export interface Mp4Scan {
  /** Bytes up to the end of the last complete box (init + whole fragments). */
  readonly validBytes: number;
  readonly fileBytes: number;
  readonly hasInit: boolean;
  readonly fragments: number;
  /** RFC 6381 codecs of the tracks, e.g. ["avc1.42c01e", "mp4a.40.2"]. */
  readonly codecs: string[];
  /** Presentation span of the longest track, from the first tfdt to the end of the last sample. */
  readonly startMs: number;
  readonly durationMs: number;
}

interface TrackInfo {
  timescale: number;
  codec: string;
  start: number;
  end: number;
}

/** Children of a box payload: [type, start, end) triples. */
function* children(buf: Buffer, start: number, end: number): Generator<[string, number, number]> {
  let o = start;
  while (o + 8 <= end) {
    let size = buf.readUInt32BE(o);
    let header = 8;
    if (size === 1) {
      if (o + 16 > end) return;
      size = Number(buf.readBigUInt64BE(o + 8));
      header = 16;
    } else if (size === 0) {
      size = end - o;
    }
    if (size < header || o + size > end) return;
    yield [buf.toString('latin1', o + 4, o + 8), o + header, o + size];
    o += size;
  }
}

function child(buf: Buffer, start: number, end: number, type: string): [number, number] | undefined {
  for (const [t, s, e] of children(buf, start, end)) if (t === type) return [s, e];
  return undefined;
}

function codecOf(buf: Buffer, stsd: [number, number]): string {
  // stsd: FullBox header (4) + entry_count (4), then sample entries.
  for (const [type, s, e] of children(buf, stsd[0] + 8, stsd[1])) {
    try {
      if (type === 'avc1' || type === 'avc3') {
        const c = child(buf, s + 78, e, 'avcC');
        const sps = c && parseAvcDecoderConfig(buf.subarray(c[0], c[1])).sps[0];
        return sps ? h264CodecString(sps) : type;
      }
      if (type === 'hvc1' || type === 'hev1') {
        const c = child(buf, s + 78, e, 'hvcC');
        const sps = c && parseHevcDecoderConfig(buf.subarray(c[0], c[1])).sps[0];
        return sps ? h265CodecString(sps) : type;
      }
      if (type === 'mp4a') {
        const esds = child(buf, s + 28, e, 'esds');
        const asc = esds && findDescriptor(buf.subarray(esds[0] + 4, esds[1]), 0x05);
        return asc ? aacCodecString(asc) : 'mp4a.40.2';
      }
      if (type === 'Opus') return 'opus'; // the RFC 6381 name of the 'Opus' sample entry (Opus in ISOBMFF §4.3.1)
    } catch {
      return type;
    }
    return type;
  }
  return 'unknown';
}

/** The payload of the first descriptor with `tag` inside nested ES descriptors (ISO/IEC 14496-1 §8.3). */
function findDescriptor(buf: Buffer, tag: number): Buffer | undefined {
  let o = 0;
  while (o < buf.length) {
    const t = buf[o++]!;
    let size = 0;
    for (let i = 0; i < 4 && o < buf.length; i++) {
      const b = buf[o++]!;
      size = (size << 7) | (b & 0x7f);
      if (!(b & 0x80)) break;
    }
    if (t === tag) return buf.subarray(o, o + size);
    // Descend into containers: ES_Descriptor (3 bytes of fields here) and DecoderConfigDescriptor (13).
    if (t === 0x03) o += 3;
    else if (t === 0x04) o += 13;
    else o += size;
  }
  return undefined;
}

function parseMoov(buf: Buffer, tracks: Map<number, TrackInfo>): void {
  for (const [type, s, e] of children(buf, 0, buf.length)) {
    if (type !== 'trak') continue;
    const tkhd = child(buf, s, e, 'tkhd');
    const mdia = child(buf, s, e, 'mdia');
    if (!tkhd || !mdia) continue;
    const trackId = buf[tkhd[0]] === 1 ? buf.readUInt32BE(tkhd[0] + 20) : buf.readUInt32BE(tkhd[0] + 12);
    const mdhd = child(buf, mdia[0], mdia[1], 'mdhd');
    if (!mdhd) continue;
    const timescale = buf[mdhd[0]] === 1 ? buf.readUInt32BE(mdhd[0] + 20) : buf.readUInt32BE(mdhd[0] + 12);
    const minf = child(buf, mdia[0], mdia[1], 'minf');
    const stbl = minf && child(buf, minf[0], minf[1], 'stbl');
    const stsd = stbl && child(buf, stbl[0], stbl[1], 'stsd');
    tracks.set(trackId, { timescale, codec: stsd ? codecOf(buf, stsd) : 'unknown', start: Infinity, end: 0 });
  }
}

function parseMoof(buf: Buffer, tracks: Map<number, TrackInfo>): void {
  for (const [type, s, e] of children(buf, 0, buf.length)) {
    if (type !== 'traf') continue;
    let trackId = 0;
    let defaultDuration = 0;
    let base = 0;
    let total = 0;
    for (const [t, bs, be] of children(buf, s, e)) {
      if (t === 'tfhd') {
        const flags = buf.readUInt32BE(bs) & 0xffffff;
        trackId = buf.readUInt32BE(bs + 4);
        let o = bs + 8;
        if (flags & 0x01) o += 8;
        if (flags & 0x02) o += 4;
        if (flags & 0x08) defaultDuration = buf.readUInt32BE(o);
      } else if (t === 'tfdt') {
        base = buf[bs] === 1 ? Number(buf.readBigUInt64BE(bs + 4)) : buf.readUInt32BE(bs + 4);
      } else if (t === 'trun') {
        const flags = buf.readUInt32BE(bs) & 0xffffff;
        const count = buf.readUInt32BE(bs + 4);
        let o = bs + 8;
        if (flags & 0x01) o += 4;
        if (flags & 0x04) o += 4;
        const per = ((flags & 0x100) ? 4 : 0) + ((flags & 0x200) ? 4 : 0) + ((flags & 0x400) ? 4 : 0) + ((flags & 0x800) ? 4 : 0);
        for (let i = 0; i < count && o + per <= be; i++, o += per) total += flags & 0x100 ? buf.readUInt32BE(o) : defaultDuration;
      }
    }
    const track = tracks.get(trackId);
    if (!track) continue;
    if (base < track.start) track.start = base;
    if (base + total > track.end) track.end = base + total;
  }
}

/** Scans `file` box by box; reads only box headers, the moov and each moof. */
export async function scanFragmentedMp4(file: string): Promise<Mp4Scan> {
  const fh = await open(file, 'r');
  try {
    const { size: fileBytes } = await fh.stat();
    const tracks = new Map<number, TrackInfo>();
    const head = Buffer.alloc(16);
    let offset = 0;
    let validBytes = 0;
    let hasInit = false;
    let fragments = 0;
    let pendingMoof: Buffer | undefined;
    while (offset + 8 <= fileBytes) {
      await fh.read(head, 0, 16, offset);
      let size = head.readUInt32BE(0);
      const type = head.toString('latin1', 4, 8);
      let header = 8;
      if (size === 1) {
        size = Number(head.readBigUInt64BE(8));
        header = 16;
      } else if (size === 0) {
        size = fileBytes - offset;
      }
      if (size < header || offset + size > fileBytes) break;
      if (type === 'moov' || type === 'moof') {
        const body = Buffer.alloc(size - header);
        await fh.read(body, 0, body.length, offset + header);
        if (type === 'moov') {
          parseMoov(body, tracks);
          hasInit = true;
        } else {
          pendingMoof = body;
        }
      }
      offset += size;
      if (type === 'mdat' && pendingMoof) {
        parseMoof(pendingMoof, tracks);
        pendingMoof = undefined;
        fragments++;
      }
      // A moof without its mdat is not complete; everything else is.
      if (type !== 'moof') validBytes = offset;
    }
    let startMs = 0;
    let durationMs = 0;
    const codecs: string[] = [];
    for (const t of tracks.values()) {
      codecs.push(t.codec);
      if (t.end > 0 && t.timescale > 0) {
        const d = ((t.end - t.start) * 1000) / t.timescale;
        if (d > durationMs) {
          durationMs = d;
          startMs = (t.start * 1000) / t.timescale;
        }
      }
    }
    return { validBytes, fileBytes, hasInit, fragments, codecs, startMs, durationMs: Math.round(durationMs) };
  } finally {
    await fh.close();
  }
}

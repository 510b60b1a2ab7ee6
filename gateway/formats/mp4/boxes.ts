/**
 * ISO/IEC 14496-12 (ISOBMFF) box writing: the small set of boxes an fMP4/CMAF init segment and
 * movie fragments need. Shared by HLS (CMAF segments and parts) and recording (fragmented MP4
 * files), so there is one box writer in the gateway.
 */

/** A box: 32-bit size, four-character type, then the children/payload concatenated. */
export function box(type: string, ...payload: readonly Buffer[]): Buffer {
  let size = 8;
  for (const p of payload) size += p.length;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32BE(size, 0);
  out.write(type, 4, 4, 'latin1');
  let offset = 8;
  for (const p of payload) offset += p.copy(out, offset);
  return out;
}

/** A FullBox (§4.2): box header, then version (8 bits) and flags (24 bits). */
export function fullBox(type: string, version: number, flags: number, ...payload: readonly Buffer[]): Buffer {
  const vf = Buffer.allocUnsafe(4);
  vf.writeUInt32BE(((version & 0xff) << 24) | (flags & 0xffffff), 0);
  return box(type, vf, ...payload);
}

/** Big-endian unsigned integers of the given byte widths, as one Buffer. */
export function u(...fields: readonly [width: 1 | 2 | 3 | 4 | 8, value: number][]): Buffer {
  let size = 0;
  for (const [w] of fields) size += w;
  const out = Buffer.alloc(size);
  let offset = 0;
  for (const [w, v] of fields) {
    if (w === 8) out.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(v))), offset);
    else out.writeUIntBE(w === 4 ? v >>> 0 : v, offset, w);
    offset += w;
  }
  return out;
}

/** The unity transformation matrix of mvhd/tkhd (§8.2.2.3), 16.16 and 2.30 fixed point. */
export const UNITY_MATRIX = u([4, 0x00010000], [4, 0], [4, 0], [4, 0], [4, 0x00010000], [4, 0], [4, 0], [4, 0], [4, 0x40000000]);

/** ISO 639-2/T 'und' packed as three 5-bit letters (mdhd §8.4.2.3). */
export const LANGUAGE_UND = ((('u'.charCodeAt(0) - 0x60) << 10) | (('n'.charCodeAt(0) - 0x60) << 5) | ('d'.charCodeAt(0) - 0x60)) & 0x7fff;

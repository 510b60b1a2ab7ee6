/**
 * The few bytes of SRT the gateway reads itself: the handshake control packet (SRT RFC draft,
 * draft-sharabayko-srt-01 §3.2.1 "Handshake"), to learn a caller's stream id and encryption
 * before any media flows, and to answer a refused caller with a rejection reason (§4.3.1.2 /
 * libsrt's SRT_REJX_* codes: 1000 + an HTTP status). Everything else — ARQ, TSBPD, AES — is
 * libsrt's job inside the ffmpeg child.
 */

/** Control packet type of a handshake (§3.2: F=1, Control Type 0x0000). */
const HEADER = 16;
/** Handshake CIF fields, offsets from the start of the CIF. */
const CIF_MIN = 48;

/** Handshake Type values (§3.2.1.1). */
export const HS_INDUCTION = 1;
export const HS_CONCLUSION = 0xffffffff;
/** A handshake type of 1000 + reason is a rejection (libsrt URQ_FAILURE_TYPES). */
export const HS_REJECT_BASE = 1000;

/** Extension types (§3.2.1.1.1). */
const EXT_KMREQ = 3;
const EXT_SID = 5;

/** libsrt rejection reasons the gateway answers with (srt.h SRT_REJ_* and SRT_REJX_* = 1000 + HTTP status). */
export const SRT_REJECT = {
  /** SRT_REJ_VERSION: the peer's handshake version is not supported. */
  VERSION: 8,
  /** SRT_REJ_BADSECRET: wrong or missing passphrase. */
  BADSECRET: 10,
  /** SRT_REJ_UNSECURE: one side has a passphrase, the other not. */
  UNSECURE: 11,
  BAD_REQUEST: 1400,
  UNAUTHORIZED: 1401,
  FORBIDDEN: 1403,
  NOT_FOUND: 1404,
  BAD_MODE: 1405,
  CONFLICT: 1409,
  UNSUPPORTED_MEDIA: 1415,
  INTERNAL: 1500,
  UNAVAILABLE: 1503,
} as const;

export interface SrtHandshake {
  readonly version: number;
  readonly type: number;
  /** The sender's SRT socket id (the destination id of our answers). */
  readonly socketId: number;
  readonly cookie: number;
  /** The stream id of a conclusion request (SID extension), undefined without one. */
  readonly streamId: string | undefined;
  /** The caller asked for encryption (a KMREQ extension is present). */
  readonly encrypted: boolean;
}

/** True for an SRT control packet of type handshake. */
export function isHandshake(pkt: Buffer): boolean {
  return pkt.length >= HEADER + CIF_MIN && pkt[0] === 0x80 && pkt[1] === 0x00;
}

/**
 * Parses a handshake packet; undefined for anything else or a malformed one. The SID extension
 * carries the stream id as 32-bit words each in little-endian byte order (libsrt copies the
 * string into host-order words), padded with zeros.
 */
export function parseHandshake(pkt: Buffer): SrtHandshake | undefined {
  if (!isHandshake(pkt)) return undefined;
  const c = HEADER;
  const version = pkt.readUInt32BE(c);
  const type = pkt.readUInt32BE(c + 20);
  const socketId = pkt.readUInt32BE(c + 24);
  const cookie = pkt.readUInt32BE(c + 28);
  let streamId: string | undefined;
  let encrypted = false;
  if (version >= 5 && type === HS_CONCLUSION) {
    for (let o = c + CIF_MIN; o + 4 <= pkt.length; ) {
      const ext = pkt.readUInt16BE(o);
      const bytes = pkt.readUInt16BE(o + 2) * 4;
      const body = o + 4;
      if (body + bytes > pkt.length) return undefined;
      if (ext === EXT_SID) streamId = decodeSid(pkt.subarray(body, body + bytes));
      else if (ext === EXT_KMREQ) encrypted = true;
      o = body + bytes;
    }
  }
  return { version, type, socketId, cookie, streamId, encrypted };
}

function decodeSid(words: Buffer): string {
  const out = Buffer.allocUnsafe(words.length);
  for (let i = 0; i + 4 <= words.length; i += 4) out.writeUInt32BE(words.readUInt32LE(i), i);
  let end = out.length;
  while (end > 0 && out[end - 1] === 0) end--;
  return out.toString('utf8', 0, end);
}

/** Encodes a stream id as SID extension content (the inverse of the parser; for tests). */
export function encodeSid(streamId: string): Buffer {
  const raw = Buffer.from(streamId, 'utf8');
  const padded = Buffer.alloc(Math.ceil(raw.length / 4) * 4);
  raw.copy(padded);
  const out = Buffer.allocUnsafe(padded.length);
  for (let i = 0; i < padded.length; i += 4) out.writeUInt32LE(padded.readUInt32BE(i), i);
  return out;
}

/**
 * A handshake answering `request` with a rejection (handshake type 1000 + reason, §4.3.1.2):
 * the caller stops connecting at once and reports the reason (ffmpeg/libsrt log it; OBS shows
 * "connection rejected").
 */
export function buildRejection(request: SrtHandshake, reason: number, listenerSocketId: number): Buffer {
  const pkt = Buffer.alloc(HEADER + CIF_MIN);
  pkt.writeUInt32BE(0x80000000, 0); // control, type handshake, subtype 0
  pkt.writeUInt32BE(0, 4);
  pkt.writeUInt32BE(0, 8); // timestamp
  pkt.writeUInt32BE(request.socketId, 12); // destination: the caller's socket
  const c = HEADER;
  pkt.writeUInt32BE(5, c); // version
  pkt.writeUInt32BE(0, c + 4); // encryption, extension fields
  pkt.writeUInt32BE(0, c + 8);
  pkt.writeUInt32BE(1500, c + 12);
  pkt.writeUInt32BE(8192, c + 16);
  pkt.writeUInt32BE((HS_REJECT_BASE + reason) >>> 0, c + 20);
  pkt.writeUInt32BE(listenerSocketId >>> 0, c + 24);
  pkt.writeUInt32BE(request.cookie >>> 0, c + 28);
  return pkt;
}

/** The reason of a rejection handshake (type >= 1000, not the conclusion), or undefined. */
export function rejectionReason(hs: SrtHandshake): number | undefined {
  return hs.type >= HS_REJECT_BASE && hs.type !== HS_CONCLUSION ? hs.type - HS_REJECT_BASE : undefined;
}

/**
 * An induction request (§4.3.1.1: version 4, extension field 2, type 1, cookie 0), as the gateway
 * sends it to a freshly started listener to learn that listener's SYN cookie.
 */
export function buildInduction(socketId: number): Buffer {
  const pkt = Buffer.alloc(HEADER + CIF_MIN);
  pkt.writeUInt32BE(0x80000000, 0);
  const c = HEADER;
  pkt.writeUInt32BE(4, c);
  pkt.writeUInt32BE(2, c + 4); // encryption 0, extension field 2 (UDT_DGRAM)
  pkt.writeUInt32BE(Math.floor(Math.random() * 0x7fffffff), c + 8);
  pkt.writeUInt32BE(1500, c + 12);
  pkt.writeUInt32BE(8192, c + 16);
  pkt.writeUInt32BE(HS_INDUCTION, c + 20);
  pkt.writeUInt32BE(socketId >>> 0, c + 24);
  pkt.writeUInt32BE(0, c + 28);
  pkt.writeUInt32BE(0x0100007f, c + 32); // 127.0.0.1, as libsrt writes IPv4 (host order)
  return pkt;
}

/** A copy of handshake `pkt` carrying `cookie` (a conclusion moved to another listener). */
export function withCookie(pkt: Buffer, cookie: number): Buffer {
  const out = Buffer.from(pkt);
  out.writeUInt32BE(cookie >>> 0, HEADER + 28);
  return out;
}

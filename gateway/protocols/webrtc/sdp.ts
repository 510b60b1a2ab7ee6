/**
 * The parts of a WebRTC offer (JSEP, RFC 8829; SDP of RFC 8866) the gateway answers from: each
 * media section's mid, direction and codecs. libdatachannel writes the answer; we only choose
 * which offered payload type carries each of the stream's codecs (RFC 3264 §6.1: the answer
 * uses the offer's numbers).
 */
import { SdpInvalidError } from './errors.js';

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface OfferCodec {
  readonly payloadType: number;
  /** rtpmap encoding name, upper-cased (H264, OPUS, PCMA, ...). */
  readonly name: string;
  readonly clockRate: number;
  readonly channels: number;
  /** The a=fmtp value as offered ('' when absent), and its parameters with keys lower-cased. */
  readonly fmtpLine: string;
  readonly fmtp: ReadonlyMap<string, string>;
  /** a=rtcp-fb values offered for this payload type ('nack', 'nack pli', 'transport-cc', ...). */
  readonly rtcpFb: readonly string[];
}

export interface OfferMedia {
  readonly kind: string;
  readonly mid: string;
  readonly direction: Direction;
  /** False for a rejected section (port 0 without a=bundle-only). */
  readonly active: boolean;
  readonly codecs: readonly OfferCodec[];
  /** RTP header extensions offered (a=extmap): URI → id. */
  readonly extensions: ReadonlyMap<string, number>;
}

const MAX_SDP_BYTES = 64 * 1024;
const MAX_MEDIA = 8;
/** RFC 3551 §6 static types a browser offers without rtpmap lines. */
const STATIC: Record<number, { name: string; clockRate: number }> = { 0: { name: 'PCMU', clockRate: 8000 }, 8: { name: 'PCMA', clockRate: 8000 } };

interface MutableMedia {
  kind: string;
  mid: string;
  direction: Direction;
  active: boolean;
  order: number[];
  codecs: Map<number, { payloadType: number; name: string; clockRate: number; channels: number; fmtpLine: string; fmtp: Map<string, string>; rtcpFb: string[] }>;
  extensions: Map<string, number>;
}

/**
 * Parses a WHIP/WHEP offer. Throws SdpInvalidError (400) for anything that is not a WebRTC
 * offer: no `v=0`, no media, a section without mid, no ICE credentials or DTLS fingerprint.
 */
export function parseOffer(text: string): OfferMedia[] {
  if (text.length > MAX_SDP_BYTES) throw new SdpInvalidError(`offer of ${text.length} bytes exceeds ${MAX_SDP_BYTES}`);
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  if (lines[0] !== 'v=0') throw new SdpInvalidError('an SDP offer starts with v=0');
  const media: MutableMedia[] = [];
  let sessionDirection: Direction = 'sendrecv';
  let ufrag = false;
  let pwd = false;
  let fingerprint = false;
  for (const line of lines) {
    if (line.length < 2 || line[1] !== '=') throw new SdpInvalidError(`bad SDP line ${JSON.stringify(line.slice(0, 60))}`);
    const value = line.slice(2);
    const current = media[media.length - 1];
    if (line[0] === 'm') {
      const parts = value.split(' ');
      if (parts.length < 4) throw new SdpInvalidError(`bad media line ${JSON.stringify(line.slice(0, 80))}`);
      if (media.length >= MAX_MEDIA) throw new SdpInvalidError(`more than ${MAX_MEDIA} media sections`);
      const order = parts.slice(3).map(Number).filter((pt) => Number.isInteger(pt) && pt >= 0 && pt <= 127);
      const codecs: MutableMedia['codecs'] = new Map();
      for (const pt of order) {
        const st = STATIC[pt];
        if (st) codecs.set(pt, { payloadType: pt, name: st.name, clockRate: st.clockRate, channels: 1, fmtpLine: '', fmtp: new Map(), rtcpFb: [] });
      }
      media.push({ kind: parts[0]!, mid: '', direction: sessionDirection, active: parts[1] !== '0', order, codecs, extensions: new Map() });
      continue;
    }
    if (line[0] !== 'a') continue;
    const colon = value.indexOf(':');
    const key = colon < 0 ? value : value.slice(0, colon);
    const attr = colon < 0 ? '' : value.slice(colon + 1);
    switch (key) {
      case 'sendrecv':
      case 'sendonly':
      case 'recvonly':
      case 'inactive':
        if (current) current.direction = key;
        else sessionDirection = key;
        break;
      case 'mid':
        if (current) current.mid = attr.trim();
        break;
      case 'bundle-only':
        // Port 0 with a=bundle-only is a section that rides the first one's transport
        // (RFC 8843 §6, JSEP max-bundle: GStreamer's webrtcbin), not a rejected one.
        if (current) current.active = true;
        break;
      case 'ice-ufrag':
        ufrag = attr.length > 0;
        break;
      case 'ice-pwd':
        pwd = attr.length > 0;
        break;
      case 'fingerprint':
        fingerprint = attr.length > 0;
        break;
      case 'rtpmap': {
        const m = /^(\d+) ([^/\s]+)\/(\d+)(?:\/(\d+))?/.exec(attr);
        if (current && m) {
          const pt = Number(m[1]);
          current.codecs.set(pt, { payloadType: pt, name: m[2]!.toUpperCase(), clockRate: Number(m[3]), channels: m[4] ? Number(m[4]) : 1, fmtpLine: '', fmtp: new Map(), rtcpFb: current.codecs.get(pt)?.rtcpFb ?? [] });
        }
        break;
      }
      case 'rtcp-fb': {
        const m = /^(\d+) (.+)$/.exec(attr);
        const codec = m && current?.codecs.get(Number(m[1]));
        if (codec && codec.rtcpFb.length < 16) codec.rtcpFb.push(m[2]!.trim());
        break;
      }
      case 'extmap': {
        // a=extmap:<id>[/<direction>] <uri> (RFC 8285 §8)
        const m = /^(\d+)(?:\/\w+)? (\S+)/.exec(attr);
        if (current && m && current.extensions.size < 32) current.extensions.set(m[2]!, Number(m[1]));
        break;
      }
      case 'fmtp': {
        const m = /^(\d+) (.*)$/.exec(attr);
        const codec = m && current?.codecs.get(Number(m[1]));
        if (codec) {
          codec.fmtpLine = m[2]!.trim();
          for (const kv of codec.fmtpLine.split(';')) {
            const eq = kv.indexOf('=');
            if (eq > 0) codec.fmtp.set(kv.slice(0, eq).trim().toLowerCase(), kv.slice(eq + 1).trim());
          }
        }
        break;
      }
    }
  }
  if (media.length === 0) throw new SdpInvalidError('the offer has no media section (m=)');
  if (!ufrag || !pwd) throw new SdpInvalidError('the offer has no ICE credentials (a=ice-ufrag, a=ice-pwd)');
  if (!fingerprint) throw new SdpInvalidError('the offer has no DTLS fingerprint (a=fingerprint)');
  return media.map((m) => {
    if (m.mid === '') throw new SdpInvalidError(`the ${m.kind} section has no a=mid (BUNDLE needs one per section)`);
    return {
      kind: m.kind,
      mid: m.mid,
      direction: m.direction,
      active: m.active,
      codecs: m.order.map((pt) => m.codecs.get(pt)).filter((c) => c !== undefined),
      extensions: m.extensions,
    };
  });
}

/** profile_idc of an H.264 profile-level-id (hex 'PPCCLL'), or -1. */
function profileIdc(plid: string | undefined): number {
  if (!plid || !/^[0-9a-fA-F]{6}$/.test(plid)) return -1;
  return parseInt(plid.slice(0, 2), 16);
}

/**
 * The offered H.264 payload type to send or receive with: packetization-mode 1 (FU-A and
 * STAP-A, RFC 6184 §6.3) is required. `profile` (the stream's profile_idc) is preferred when
 * offered, else constrained baseline; browsers decode any profile once H.264 is negotiated.
 */
export function chooseH264(media: OfferMedia, profile = -1): OfferCodec | undefined {
  const h264 = media.codecs.filter((c) => c.name === 'H264' && c.clockRate === 90000 && c.fmtp.get('packetization-mode') === '1');
  return (
    (profile >= 0 ? h264.find((c) => profileIdc(c.fmtp.get('profile-level-id')) === profile) : undefined) ??
    h264.find((c) => /^42e0/i.test(c.fmtp.get('profile-level-id') ?? '')) ??
    h264[0]
  );
}

/** The offered RTX payload type (RFC 4588) that retransmits `payloadType` (its fmtp apt=), if any. */
export function chooseRtx(media: OfferMedia, payloadType: number): number | undefined {
  return media.codecs.find((c) => c.name === 'RTX' && c.fmtp.get('apt') === String(payloadType))?.payloadType;
}

/** The offered payload type for an audio codec of the hub (OPUS, PCMA, PCMU). */
export function chooseAudio(media: OfferMedia, codec: 'OPUS' | 'PCMA' | 'PCMU'): OfferCodec | undefined {
  const clock = codec === 'OPUS' ? 48000 : 8000;
  return media.codecs.find((c) => c.name === codec && c.clockRate === clock);
}

/** Encoding names of a section, for error messages ("offered: VP8, VP9, H264 (packetization-mode 0)"). */
export function offeredCodecs(media: OfferMedia): string {
  const names = new Set(media.codecs.filter((c) => !['RTX', 'RED', 'ULPFEC', 'FLEXFEC-03', 'CN', 'TELEPHONE-EVENT'].includes(c.name)).map((c) => c.name));
  return [...names].join(', ') || 'none';
}

/**
 * Adds a host candidate for each of `addresses` next to every candidate of the bound address,
 * same port and component, so clients can reach the gateway at its LAN or public address
 * (behind NAT, in a container). Candidates for 0.0.0.0 are never valid and are dropped.
 */
export function announceAddresses(answer: string, addresses: readonly string[]): string {
  if (addresses.length === 0) return answer;
  const out: string[] = [];
  let foundation = 1000;
  for (const line of answer.split('\r\n')) {
    const m = /^a=candidate:\S+ (\d+) (UDP|TCP) \d+ (\S+) (\d+) typ host(.*)$/i.exec(line);
    if (!m) {
      out.push(line);
      continue;
    }
    if (m[3] !== '0.0.0.0') out.push(line);
    for (const address of addresses) {
      if (address === m[3]) continue;
      // Priority of a host candidate (RFC 8445 §5.1.2.1), a little below the bound address's.
      out.push(`a=candidate:${foundation++} ${m[1]} ${m[2]} ${2114977791 - foundation} ${address} ${m[4]} typ host${m[5]}`);
    }
  }
  return out.join('\r\n');
}

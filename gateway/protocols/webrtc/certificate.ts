/**
 * The DTLS certificate of every WebRTC session of a gateway: one self-signed ECDSA P-256
 * certificate (RFC 8827 §6.5: WebRTC endpoints authenticate by fingerprint, not by CA), written
 * once as PEM files for libdatachannel. Giving it one certificate matters: left alone,
 * libdatachannel generates its own lazily, and sessions created at the same moment can announce
 * the fingerprint of one certificate and handshake with another, which the client refuses.
 *
 * Node can sign but not build certificates, so the X.509 structure (RFC 5280 §4.1) is written
 * here in DER (X.690), with only the types it needs.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function der(tag: number, body: Buffer): Buffer {
  const n = body.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

const seq = (...items: Buffer[]) => der(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => der(0x31, Buffer.concat(items));

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const bytes = [parts[0]! * 40 + parts[1]!];
  for (const p of parts.slice(2)) {
    const chunk = [p & 0x7f];
    for (let v = p >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}

/** A positive INTEGER from unsigned big-endian bytes. */
function integer(bytes: Buffer): Buffer {
  return der(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

/** UTCTime YYMMDDHHMMSSZ (dates before 2050, RFC 5280 §4.1.2.5.1). */
function utcTime(d: Date): Buffer {
  const p = (n: number) => String(n).padStart(2, '0');
  const s = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return der(0x17, Buffer.from(s, 'ascii'));
}

function pem(label: string, body: Buffer): string {
  const b64 = body.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

/** A new self-signed certificate and its key, PEM-encoded, valid `days` from now. */
export function selfSignedCertificate(commonName = 'streamgate', days = 3650): { cert: string; key: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const name = seq(set(seq(oid('2.5.4.3'), der(0x0c, Buffer.from(commonName, 'utf8')))));
  const now = Date.now();
  const tbs = seq(
    der(0xa0, integer(Buffer.from([2]))), // [0] version v3
    integer(randomBytes(16)),
    ecdsaWithSha256,
    name,
    seq(utcTime(new Date(now - 86_400_000)), utcTime(new Date(now + days * 86_400_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  // Node's ECDSA signatures are DER Ecdsa-Sig-Value already (RFC 5480 §2.2 wants exactly that).
  const signature = sign('sha256', tbs, privateKey);
  const cert = seq(tbs, ecdsaWithSha256, der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  return { cert: pem('CERTIFICATE', cert), key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/**
 * The gateway's WebRTC certificate files under `dir`, created on first use and kept across
 * restarts (a stable fingerprint). A key file that does not parse is replaced.
 */
export function certificateFiles(dir: string): { certificatePemFile: string; keyPemFile: string } {
  const certificatePemFile = join(dir, 'dtls-cert.pem');
  const keyPemFile = join(dir, 'dtls-key.pem');
  let usable = existsSync(certificatePemFile) && existsSync(keyPemFile);
  if (usable) {
    try {
      createPrivateKey(readFileSync(keyPemFile));
    } catch {
      usable = false;
    }
  }
  if (!usable) {
    mkdirSync(dir, { recursive: true });
    const { cert, key } = selfSignedCertificate();
    writeFileSync(keyPemFile, key, { mode: 0o600 });
    chmodSync(keyPemFile, 0o600);
    writeFileSync(certificatePemFile, cert);
  }
  return { certificatePemFile, keyPemFile };
}

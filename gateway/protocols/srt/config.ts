import { z } from 'zod';

const port = z.number().int().min(0).max(65535);

/**
 * The `srt` config section: the SRT listener for field encoders (caller mode publish). libsrt
 * does the transport inside one supervised ffmpeg child per connection (see README "SRT").
 */
export const srtConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** UDP port of srt://HOST:8890?streamid=#!::r={app}/{name},m=publish (MediaMTX's default). */
    port: port.default(8890),
    /**
     * Receiver latency (libsrt TSBPD delay): the time lost packets have to be retransmitted. The
     * connection uses the larger of this and the caller's own. Rule of thumb: 4 x RTT, at least 120.
     */
    latencyMs: z.number().int().min(20).max(60000).default(120),
    /** AES passphrase (10-79 characters) every caller must use; empty: no encryption (and callers with one are refused). */
    passphrase: z
      .string()
      .default('')
      .refine((p) => p === '' || (p.length >= 10 && p.length <= 79), 'must be empty or 10 to 79 characters (libsrt)'),
    /** AES key length in bytes when a passphrase is set: 16, 24 or 32 (0: the caller's choice, default 16). */
    pbkeylen: z.union([z.literal(0), z.literal(16), z.literal(24), z.literal(32)]).default(0),
    /** A caller must finish its handshake (and admission) within this. */
    handshakeTimeoutMs: z.number().int().min(500).default(5000),
    /** A connection whose caller sends nothing for this long is closed (libsrt's own peer timeout is 5 s). */
    idleTimeoutMs: z.number().int().min(1000).default(10000),
    /** Connections in handshake at once (each has an ffmpeg child); more callers are ignored until one finishes. */
    maxPendingHandshakes: z.number().int().min(1).max(1000).default(16),
  });

export type SrtConfig = z.infer<typeof srtConfigSchema>;

import { z } from 'zod';

const ms = z.number().int().min(0);
const port = z.number().int().min(0).max(65535);

/** Defaults for camera pulls; each source may override transport and idleCloseMs. */
export const pullConfigSchema = z.strictObject({
  /** TCP interleaved unless a source says udp. */
  transport: z.enum(['tcp', 'udp']).default('tcp'),
  /** On-demand pulls close this long after their last reader leaves. */
  idleCloseMs: ms.default(10000),
  /** TCP connect plus each request's answer must arrive within this. */
  requestTimeoutMs: z.number().int().min(100).default(10000),
  /** A camera that sends no RTP for this long is considered gone (then reconnect). */
  readTimeoutMs: z.number().int().min(500).default(10000),
  /** Reconnect backoff: first wait, doubling to the cap. */
  retryInitialMs: z.number().int().min(10).default(500),
  retryMaxMs: z.number().int().min(10).default(30000),
  /** Keepalive interval cap; the camera's session timeout halves it further. */
  keepaliveMs: z.number().int().min(1000).default(25000),
});

/** The `rtsp` config section (RTSP server for push and play, and camera pull defaults). */
export const rtspConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** rtsp://HOST:8554/{app}/{name} */
    port: port.default(8554),
    /** UDP transport for push and play (TCP interleaved always works). */
    udp: z.boolean().default(true),
    /** RTP port of the server's UDP pair (RTCP is the next one); 0 picks a free even pair. */
    udpRtpPort: port.refine((p) => p % 2 === 0, 'must be even (RTCP uses the next port)').default(0),
    /** Bounds on what a peer may send; past them its connection is closed. */
    maxHeaderBytes: z.number().int().min(1024).max(1024 * 1024).default(16384),
    maxHeaders: z.number().int().min(8).max(1000).default(64),
    maxBodyBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(65536),
    /** Session timeout announced to clients; a session with no request or packet for this long is closed. */
    sessionTimeoutMs: z.number().int().min(1000).default(60000),
    pull: pullConfigSchema.prefault({}),
  })
  .refine((c) => c.pull.retryMaxMs >= c.pull.retryInitialMs, { message: 'pull.retryMaxMs must be >= pull.retryInitialMs' });

export type RtspConfig = z.infer<typeof rtspConfigSchema>;

/** rtsp:// or rtsps:// with a host; credentials may sit in the URL (user:pass@). */
const rtspUrl = z.string().min(1).refine((v) => {
  try {
    const u = new URL(v);
    return u.protocol === 'rtsp:' && u.hostname !== '';
  } catch {
    return false;
  }
}, 'expected rtsp://[user:pass@]host[:port]/path');

/** One camera pull. */
export const sourceConfigSchema = z.strictObject({
  url: rtspUrl,
  /** Connect when the first reader arrives (default) or keep connected always. */
  onDemand: z.boolean().default(true),
  transport: z.enum(['tcp', 'udp']).optional(),
  idleCloseMs: ms.optional(),
});

export type SourceConfig = z.infer<typeof sourceConfigSchema>;

/** The `sources` config section: camera pulls by stream path ({app}/{name}). */
export const sourcesConfigSchema = z
  .record(z.string().regex(/^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)+$/, 'expected a stream path like cams/gate1'), sourceConfigSchema)
  .default({});

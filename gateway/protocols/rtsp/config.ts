import { z } from 'zod';

/** The `rtsp` config section (RTSP server for push and play). */
export const rtspConfigSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** rtsp://HOST:8554/{app}/{name} */
  port: z.number().int().min(0).max(65535).default(8554),
});

/** The `sources` config section: camera pulls by stream path. */
export const sourcesConfigSchema = z.record(z.string(), z.strictObject({ url: z.string().min(1) })).default({});

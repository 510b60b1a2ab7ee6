import { z } from 'zod';

/** The `hls` config section. */
export const hlsConfigSchema = z.strictObject({
  enabled: z.boolean().default(true),
});

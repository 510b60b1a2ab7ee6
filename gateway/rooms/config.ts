import { z } from 'zod';

/** The `rooms` config section. */
export const roomsConfigSchema = z.strictObject({
  enabled: z.boolean().default(true),
});

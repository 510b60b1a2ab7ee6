import { z } from 'zod';

/** The `record` config section. */
export const recordConfigSchema = z.strictObject({
  enabled: z.boolean().default(true),
});

/** zod pieces shared by the config sections (gateway/config.ts and each section's config.ts). */
import { z } from 'zod';
import { pathPatternProblem } from './core/path.js';

/**
 * A path pattern matchPathPattern can match (live/cam1, live/*, cams/**, **): a pattern that
 * matches nothing would silently leave an access rule's paths open, or a recording rule idle.
 */
export const pathPatternSchema = z.string().superRefine((value, ctx) => {
  const problem = pathPatternProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: `expected a path pattern, not ${problem}` });
});

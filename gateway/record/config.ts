import { z } from 'zod';
import { pathPatternSchema as pathPattern } from '../schemas.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZES: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };

/** Milliseconds, written as a number or a string like "500ms", "10s", "10m", "1h", "7d". */
export const durationSchema = z.union([
  z.number().int().min(0),
  z
    .string()
    .regex(/^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)\s*$/, 'expected a duration like 10s, 10m, 1h or 7d')
    .transform((s) => {
      const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(s)!;
      return Math.round(Number(m[1]) * UNITS[m[2]!]!);
    }),
]);

/** Bytes, written as a number or a string like "500MB", "10GiB". */
export const sizeSchema = z.union([
  z.number().int().min(0),
  z
    .string()
    .regex(/^\s*\d+(\.\d+)?\s*([kmgt]i?b|b)\s*$/i, 'expected a size like 500MB or 10GiB')
    .transform((s) => {
      const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i.exec(s)!;
      return Math.round(Number(m[1]) * SIZES[m[2]!.toLowerCase()]!);
    }),
]);


/** A recording rule; fields left out take the section's values. */
export const recordRuleSchema = z.strictObject({
  /** Duration of one file; a new file starts on the first keyframe past it. */
  segment: durationSchema.optional(),
  /** Files older than this (by their end) are deleted; 0 keeps them forever. */
  retention: durationSchema.optional(),
  /** Total bytes kept for the path; the oldest files go first. 0: no cap. */
  maxBytes: sizeSchema.optional(),
});

/**
 * The `record` config section. Every field has a default; config/default.yaml carries the same
 * values, commented.
 */
export const recordConfigSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Where recordings go: relative to dataDir unless absolute. */
  dir: z.string().min(1).default('recordings'),
  /** Defaults for rules and for recordings started through the API. */
  segment: durationSchema.refine((v) => v >= 1000, 'record.segment must be at least 1s').default(600_000),
  retention: durationSchema.default(7 * 86_400_000),
  maxBytes: sizeSchema.default(0),
  /** Paths recorded whenever they are published: `{ "cams/*": { segment: 10m, retention: 7d } }`. */
  rules: z.record(pathPattern, recordRuleSchema).default({}),
  /**
   * Total bytes all recordings may use (a disk quota). Past it, recording stops with
   * SG_ERR_RECORD_DISK_FULL exactly as when the disk fills. 0: no quota.
   */
  diskQuota: sizeSchema.default(0),
  /** Recording stops (SG_ERR_RECORD_DISK_FULL) when the file system has less free space than this. */
  minFreeBytes: sizeSchema.default(100 * 1024 * 1024),
  /** fsync after each fragment: a power cut then loses at most the fragment being written. */
  fsync: z.boolean().default(true),
  /** How often retention runs (it also runs whenever a file is closed). */
  retentionCheckMs: z.number().int().min(1000).default(60_000),
});

export type RecordConfig = z.infer<typeof recordConfigSchema>;
export type RecordRule = z.infer<typeof recordRuleSchema>;

/** A rule with the section's defaults filled in. */
export interface ResolvedRule {
  readonly segmentMs: number;
  readonly retentionMs: number;
  readonly maxBytes: number;
}

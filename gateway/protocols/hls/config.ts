import { z } from 'zod';

const ms = z.number().int().min(0);

/**
 * The `hls` config section. Every field has a default; config/default.yaml carries the same
 * values, commented.
 */
export const hlsConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** fmp4: CMAF segments (hls.js, Safari, every current player); ts: MPEG-TS for old set-top boxes. */
    container: z.enum(['fmp4', 'ts']).default('fmp4'),
    /** LL-HLS: partial segments, preload hints and blocking playlist reload. */
    lowLatency: z.boolean().default(true),
    /** Target segment duration; segments are cut on the first keyframe past it. */
    segmentMs: ms.min(100).max(60_000).default(1000),
    /** Target partial segment duration (LL-HLS); parts never exceed it unless one frame does. */
    partMs: ms.min(50).max(5000).default(200),
    /** Complete segments listed in the playlist (the sliding window). */
    windowSegments: z.number().int().min(2).max(100).default(7),
    /** A muxer nobody requested anything from for this long is closed (it starts again on demand). */
    closeAfterMs: ms.min(1000).default(60_000),
    /** How long the first playlist request waits for the first segment of a stream. */
    startTimeoutMs: ms.min(100).default(10_000),
    /**
     * A viewer is an HLS session (the `sg_sid` its playlists carry on every URI); one that requested
     * nothing for this long has left: its reader slot is freed and on_stop fires.
     */
    sessionTimeoutMs: ms.min(1000).default(15_000),
  })
  .refine((c) => c.partMs <= c.segmentMs, { message: 'hls.partMs must not exceed hls.segmentMs' });

export type HlsConfig = z.infer<typeof hlsConfigSchema>;

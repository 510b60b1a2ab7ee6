/**
 * Measured live latency from the gateway's `streamgate-time` stamps.
 *
 * The gateway puts an FLV `onCuePoint` before every video keyframe and about once a second:
 * `{ name: 'streamgate-time', parameters: { dts, ingest } }` maps a stream timestamp (ms) to
 * the Unix time (ms) at which the gateway received that frame.
 *
 * The engine tells us which stream timestamp the media element's time 0 stands for (`base`):
 * mpegts.js rebases its output to the first sample it remuxes (MP4Remuxer._dtsBase, the
 * smaller of the first audio and first video dts). A reader joins at a keyframe of the GOP
 * cache, preceded by its stamp, so the first stamp's dts is that base. After that mpegts.js
 * keeps the timeline contiguous without correction (it holds back the last sample of each
 * batch and sizes it from the next one), so stream ms = base + mediaTime * 1000 holds for the
 * whole connection, across publisher reconnects within the gateway's grace period too.
 *
 * For the frame on screen (media time from requestVideoFrameCallback), the ingest time is
 * interpolated between the stamps around it (or extrapolated at 1 ms per ms past the newest);
 * latency = now - ingest.
 */

export interface LatencyStamp {
  /** Stream timestamp, ms. */
  dts: number;
  /** Unix ms at which the gateway received the frame with that dts. */
  ingest: number;
}

export const LATENCY_STAMP_NAME = 'streamgate-time';

/** Extracts a stamp from an mpegts.js SCRIPTDATA_ARRIVED payload, or undefined. */
export function stampFromScriptData(data: unknown): LatencyStamp | undefined {
  const cue = (data as { onCuePoint?: { name?: unknown; parameters?: { dts?: unknown; ingest?: unknown } } } | null)?.onCuePoint;
  if (!cue || cue.name !== LATENCY_STAMP_NAME) return undefined;
  const dts = Number(cue.parameters?.dts);
  const ingest = Number(cue.parameters?.ingest);
  if (!Number.isFinite(dts) || !Number.isFinite(ingest) || ingest <= 0) return undefined;
  return { dts, ingest };
}

const MAX_STAMPS = 64;
const WINDOW = 12;

export class LatencyClock {
  private stamps: LatencyStamp[] = [];
  private base: number | undefined;
  private samples: number[] = [];

  /** Forget everything (a new connection has a new timeline). */
  reset(): void {
    this.stamps = [];
    this.base = undefined;
    this.samples = [];
  }

  addStamp(stamp: LatencyStamp): void {
    const last = this.stamps[this.stamps.length - 1];
    if (this.base === undefined) this.base = stamp.dts;
    if (last && stamp.dts < last.dts) {
      // Timestamps went backwards: not our gateway's monotonic timeline; start over.
      this.stamps = [];
    } else if (last && stamp.dts === last.dts) {
      this.stamps[this.stamps.length - 1] = stamp;
      return;
    }
    this.stamps.push(stamp);
    if (this.stamps.length > MAX_STAMPS) this.stamps.shift();
  }

  get hasStamps(): boolean {
    return this.base !== undefined;
  }

  /** The stream timestamp (ms) shown at media time `mediaTimeS`. */
  streamTimeAt(mediaTimeS: number): number | undefined {
    return this.base === undefined ? undefined : this.base + mediaTimeS * 1000;
  }

  /** Unix ms at which the gateway received the frame with stream timestamp `dts`. */
  ingestTimeOf(dts: number): number | undefined {
    const s = this.stamps;
    if (s.length === 0) return undefined;
    let i = s.length - 1;
    while (i >= 0 && s[i]!.dts > dts) i--;
    if (i < 0) return s[0]!.ingest - (s[0]!.dts - dts);
    const before = s[i]!;
    const after = s[i + 1];
    if (!after) return before.ingest + (dts - before.dts);
    const span = after.dts - before.dts;
    return before.ingest + ((dts - before.dts) * (after.ingest - before.ingest)) / span;
  }

  /** Latency of the frame at `mediaTimeS` shown at `nowMs`; also fed into the running median. */
  measure(mediaTimeS: number, nowMs: number): number | undefined {
    const dts = this.streamTimeAt(mediaTimeS);
    if (dts === undefined) return undefined;
    const ingest = this.ingestTimeOf(dts);
    if (ingest === undefined) return undefined;
    const latency = nowMs - ingest;
    this.samples.push(latency);
    if (this.samples.length > WINDOW) this.samples.shift();
    return latency;
  }

  /** Median of the last ~second of frames (what the overlay shows). */
  get latencyMs(): number | undefined {
    if (this.samples.length === 0) return undefined;
    const sorted = [...this.samples].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }
}

/**
 * Keeps the buffer ahead of the playhead near its target: a small excess is played off at
 * `catchUpRate`, a large one (the GOP-cache backlog at start, or after a network hiccup) is
 * skipped at once. Works on the buffer, not on the measured latency, so it behaves the same
 * for every engine and without stamps.
 */
import type { LatencyTuning } from '../config.js';

const TICK_MS = 200;

export class LatencyController {
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly video: HTMLVideoElement,
    private readonly tuning: LatencyTuning,
  ) {}

  start(): void {
    if (this.timer === undefined) this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.video.playbackRate !== 1) this.video.playbackRate = 1;
  }

  /** Seconds of media buffered ahead of the playhead. */
  bufferAhead(): number {
    const b = this.video.buffered;
    if (b.length === 0) return 0;
    return Math.max(0, b.end(b.length - 1) - this.video.currentTime);
  }

  tick(): void {
    const v = this.video;
    const b = v.buffered;
    if (b.length === 0 || v.paused || v.ended) return;
    const end = b.end(b.length - 1);
    const ahead = end - v.currentTime;
    const t = this.tuning;
    if (ahead > t.jumpBufferS || v.currentTime < b.start(b.length - 1)) {
      v.currentTime = Math.max(b.start(b.length - 1), end - t.targetBufferS);
      v.playbackRate = 1;
    } else if (ahead > t.targetBufferS + t.toleranceS) {
      if (v.playbackRate !== t.catchUpRate) v.playbackRate = t.catchUpRate;
    } else if (ahead <= t.targetBufferS && v.playbackRate !== 1) {
      v.playbackRate = 1;
    }
  }
}

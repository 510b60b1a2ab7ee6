/**
 * Overload protection for WebRTC. libdatachannel hands every received packet to JavaScript
 * through a queue that has no bound: when more media comes in than the event loop can take
 * (WHIP publishers past what one process handles, ~100 of 2 Mbps per core), packets pile up in
 * memory and every stream of the process falls seconds behind. The event loop's delay shows it
 * first, so that is what is watched: past `webrtc.overloadLagMs` new WHIP/WHEP sessions are
 * refused (503), and if it lasts, the newest WHIP sessions are closed one a second until the
 * loop keeps up again. Older sessions, and every other protocol, keep going.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Logger } from 'pino';

/** How often the delay is read (and at most one session shed). */
const CHECK_MS = 1000;
/** Overloaded this long before sessions are closed (a GC pause or a burst is not overload). */
const SHED_AFTER_MS = 2000;

export class OverloadGuard {
  private readonly histogram: IntervalHistogram;
  private readonly timer: NodeJS.Timeout;
  private overSince = -1;
  /** The event loop's p99 delay over the last second (ms). */
  lagMs = 0;
  /** Sessions closed to shed load. */
  shed = 0;

  constructor(
    private readonly limitMs: number,
    /** Closes the newest WHIP session (else the newest WHEP one); false when there is none. */
    private readonly shedOne: (reason: string) => boolean,
    private readonly log: Logger,
  ) {
    this.histogram = monitorEventLoopDelay({ resolution: 20 });
    this.histogram.enable();
    this.timer = setInterval(() => this.check(Date.now()), CHECK_MS);
    this.timer.unref();
  }

  get overloaded(): boolean {
    return this.overSince >= 0;
  }

  private check(now: number): void {
    this.lagMs = Math.round(this.histogram.percentile(99) / 1e6);
    this.histogram.reset();
    if (this.lagMs <= this.limitMs) {
      if (this.overloaded) this.log.info({ lagMs: this.lagMs }, 'WebRTC: the event loop keeps up again; new sessions are accepted');
      this.overSince = -1;
      return;
    }
    if (!this.overloaded) {
      this.overSince = now;
      this.log.warn({ lagMs: this.lagMs, limitMs: this.limitMs }, `WebRTC: the event loop is ${this.lagMs} ms behind (webrtc.overloadLagMs ${this.limitMs}); new sessions are refused`);
      return;
    }
    if (now - this.overSince >= SHED_AFTER_MS && this.shedOne(`the gateway is overloaded: its event loop is ${this.lagMs} ms behind (webrtc.overloadLagMs)`)) this.shed++;
  }

  close(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }
}

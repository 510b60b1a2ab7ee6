/** Exponential backoff with ±20 % jitter, so a wall of tiles does not reconnect in lockstep. */
import type { RetryConfig } from '../config.js';

export class Backoff {
  private attempt = 0;

  constructor(private readonly config: RetryConfig) {}

  /** Delay before the next attempt; each call counts one failure. */
  next(): number {
    const c = this.config;
    const raw = Math.min(c.maxDelayMs, c.initialDelayMs * c.factor ** this.attempt);
    this.attempt++;
    return Math.round(raw * (0.8 + Math.random() * 0.4));
  }

  get failures(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}

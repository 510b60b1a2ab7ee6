/** The one idle-close mechanism (core/idle.ts) that on-demand pulls, renditions and HLS muxers use. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IdleCloser } from '../../../gateway/core/idle.js';

describe('IdleCloser', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('fires ms after the last user left, never while one holds it', () => {
    const onIdle = vi.fn();
    const idle = new IdleCloser(1000, onIdle);
    idle.hold();
    idle.hold();
    idle.release();
    vi.advanceTimersByTime(5000);
    expect(onIdle).not.toHaveBeenCalled();
    idle.release();
    vi.advanceTimersByTime(999);
    expect(onIdle).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onIdle).toHaveBeenCalledTimes(1);
    // Done: later activity does not fire it again.
    idle.hold();
    idle.release();
    vi.advanceTimersByTime(5000);
    expect(onIdle).toHaveBeenCalledTimes(1);
  });

  it('a user arriving within the period cancels it; touch restarts the period', () => {
    const onIdle = vi.fn();
    const idle = new IdleCloser(1000, onIdle);
    idle.arm();
    vi.advanceTimersByTime(900);
    idle.set(1);
    vi.advanceTimersByTime(2000);
    idle.set(0);
    vi.advanceTimersByTime(900);
    idle.touch();
    vi.advanceTimersByTime(900);
    expect(onIdle).not.toHaveBeenCalled();
    vi.advanceTimersByTime(100);
    expect(onIdle).toHaveBeenCalledTimes(1);
  });

  it('stillIdle false keeps it one more period; dispose runs the cleanups and never fires', () => {
    const onIdle = vi.fn();
    let waiting = true;
    const idle = new IdleCloser(1000, onIdle, () => !waiting);
    const cleanup = vi.fn();
    idle.onDone(cleanup);
    idle.arm();
    vi.advanceTimersByTime(1000);
    expect(onIdle).not.toHaveBeenCalled();
    waiting = false;
    vi.advanceTimersByTime(1000);
    expect(onIdle).toHaveBeenCalledTimes(1);
    expect(cleanup).toHaveBeenCalledTimes(1);
    const other = new IdleCloser(1000, onIdle);
    other.onDone(cleanup);
    other.arm();
    other.dispose();
    vi.advanceTimersByTime(5000);
    expect(onIdle).toHaveBeenCalledTimes(1);
    expect(cleanup).toHaveBeenCalledTimes(2);
  });
});

/**
 * The one idle-close mechanism: whatever runs only while someone uses it (an on-demand camera
 * pull, a transcode rendition, an HLS muxer) closes `ms` after its last user left and nothing
 * touched it. Users are counted (`hold`/`release`, or `watchReaders` for a stream's readers);
 * request-driven users (HLS) `touch` it instead.
 */
import type { Stream } from './stream.js';

export class IdleCloser {
  private users = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly cleanups: (() => void)[] = [];

  constructor(
    readonly ms: number,
    private readonly onIdle: () => void,
    /** Asked when the timer fires: false keeps it open one more period (e.g. readers still waiting for a keyframe). */
    private readonly stillIdle: () => boolean = () => true,
  ) {}

  /** A user arrived: no idle close while it stays. */
  hold(): void {
    if (this.closed) return;
    this.users++;
    this.disarm();
  }

  /** A user left; the last one arms the timer. */
  release(): void {
    if (this.closed) return;
    this.users = Math.max(0, this.users - 1);
    if (this.users === 0) this.arm();
  }

  /** Sets the number of users at once (0 arms the timer, more disarms it). */
  set(users: number): void {
    if (this.closed) return;
    this.users = Math.max(0, users);
    if (this.users === 0) this.arm();
    else this.disarm();
  }

  /** Activity without a lasting user (an HTTP request): restarts the idle period when nobody holds it. */
  touch(): void {
    if (this.closed || this.users > 0) return;
    this.disarm();
    this.arm();
  }

  get armed(): boolean {
    return this.timer !== undefined;
  }

  /** Runs `fn` once when this closer is done (disposed or fired): unsubscribe what feeds it. */
  onDone(fn: () => void): void {
    this.cleanups.push(fn);
  }

  /** Stops watching; the callback never fires afterwards. */
  dispose(): void {
    if (this.closed) return;
    this.finish();
  }

  private finish(): void {
    this.closed = true;
    this.disarm();
    for (const fn of this.cleanups.splice(0)) fn();
  }

  /** Arms the timer if nobody holds it and it is not armed already (nobody came yet counts as idle). */
  arm(): void {
    if (this.closed || this.users > 0 || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.closed || this.users > 0) return;
      if (!this.stillIdle()) return this.arm();
      this.finish();
      this.onIdle();
    }, this.ms);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * An IdleCloser that follows `stream`'s readers: armed now if it has none, disarmed while it has
 * some. Disposing it stops following the stream.
 */
export function closeWhenUnread(stream: Stream, ms: number, onIdle: () => void, stillIdle?: () => boolean): IdleCloser {
  const idle = new IdleCloser(ms, onIdle, stillIdle);
  const update = () => idle.set(stream.readers.size);
  stream.on('readerAdded', update);
  stream.on('readerRemoved', update);
  idle.onDone(() => {
    stream.off('readerAdded', update);
    stream.off('readerRemoved', update);
  });
  update();
  return idle;
}

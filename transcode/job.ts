/**
 * One supervised ffmpeg process, after mediasoup's Worker: a failure during start rejects the
 * start promise; a later death emits `died(error)` and the job restarts with backoff; `close()`
 * is idempotent and emits `closed`. The job knows nothing about the hub: its owner calls
 * `published()` when the rendition's first keyframe arrives in the hub.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { TypedEmitter } from '../gateway/core/events.js';
import { maskSecrets } from '../gateway/log.js';
import type { Profile } from './config.js';
import { errorLine, type FfmpegBinary, type FfmpegProcess, type FfmpegSpec, ffmpegReason, parseProgress, runFfmpeg } from './ffmpeg.js';
import { TranscodeStartError } from './errors.js';

export type JobState = 'starting' | 'running' | 'restarting' | 'closed';

export interface JobEvents {
  /** The (re)started process published its first keyframe. */
  running: [];
  /** The process died after it was running; a restart is scheduled. */
  died: [Error];
  closed: [Error | undefined];
  listenerError: [unknown, string];
}

export interface JobSupervision {
  readonly startTimeoutMs: number;
  readonly restartDelayMs: number;
  readonly maxRestartDelayMs: number;
  readonly stderrLines: number;
}

export interface JobOptions {
  /** The rendition path this job publishes. */
  readonly path: string;
  readonly sourcePath: string;
  readonly profileName: string;
  readonly profile: Profile;
  readonly binary: FfmpegBinary;
  /** Builds the process's arguments; called at every (re)start so credentials are fresh. */
  readonly spec: (profile: Profile) => FfmpegSpec;
  readonly supervision: JobSupervision;
  readonly log: Logger;
}

/** A run this long resets the backoff: the next death restarts after restartDelayMs again. */
const STABLE_RUN_MS = 10_000;
/** Pause between a deliberate stop and the respawn, so the hub sees the old publisher leave first. */
const RESPAWN_GAP_MS = 100;

export interface JobInfo {
  path: string;
  source: string;
  profile: string;
  settings: Profile;
  state: JobState;
  pid: number | null;
  args: readonly string[];
  startedAt: string;
  runningSince: string | null;
  restarts: number;
  lastError: string | null;
  frames: number;
  fps: number;
  speed: number;
  cpuSeconds: number | null;
  cpuPercent: number | null;
  stderr: string[];
}

export class TranscodeJob extends TypedEmitter<JobEvents> {
  state: JobState = 'starting';
  profile: Profile;
  restarts = 0;
  lastError: string | undefined;
  readonly startedAt = Date.now();
  private process: FfmpegProcess | undefined;
  private spawnedAt = 0;
  private runningSince = 0;
  private generation = 0;
  private failures = 0;
  private everRunning = false;
  private respawn = false;
  private killReason: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly stderr: string[] = [];
  /** Error-level lines of the current process: the reason its exit message gives. */
  private errors: string[] = [];
  private progress = { frames: 0, fps: 0, speed: 0 };
  private waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];

  constructor(readonly options: JobOptions) {
    super();
    this.profile = options.profile;
  }

  get path(): string {
    return this.options.path;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** Arguments of the current process (or of the next one). */
  /** The ffmpeg command line, credentials masked. */
  get args(): readonly string[] {
    return (this.process?.args ?? []).map(maskSecrets);
  }

  /** True while a deliberate restart (PATCH) is under way: the rendition's publisher gap is expected. */
  updating = false;

  /** Spawns the process; resolves when its rendition is published, rejects with ffmpeg's reason. */
  start(): Promise<void> {
    const ready = this.nextRunning();
    this.spawn();
    return ready;
  }

  /** The owner saw the rendition's first keyframe in the hub. */
  published(): void {
    if (this.state === 'closed' || this.state === 'running' || !this.process) return;
    this.clearTimer();
    this.updating = false;
    this.state = 'running';
    this.everRunning = true;
    this.runningSince = Date.now();
    this.options.log.info({ pid: this.pid, restarts: this.restarts }, `rendition ${this.path} running`);
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.resolve();
    this.safeEmit('running');
  }

  /** Restarts with new settings; resolves once the new process publishes. Readers stay connected. */
  update(profile: Profile): Promise<void> {
    this.profile = profile;
    this.updating = true;
    const ready = this.nextRunning();
    if (this.process) {
      this.respawn = true;
      this.state = 'restarting';
      this.process.kill('SIGKILL');
    } else if (this.state === 'restarting') {
      this.clearTimer();
      this.spawn();
    }
    return ready;
  }

  /** Kills the process (SIGKILL: a rendition has nothing to finalize). Idempotent. */
  close(error?: Error): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.clearTimer();
    this.process?.kill('SIGKILL');
    this.process = undefined;
    const waiters = this.waiters;
    this.waiters = [];
    const reason = error ?? new Error(`rendition ${this.path} was stopped`);
    for (const w of waiters) w.reject(reason);
    this.options.log.info({ reason: error?.message }, `rendition ${this.path} stopped${error ? `: ${error.message}` : ''}`);
    this.safeEmit('closed', error);
  }

  info(): JobInfo {
    const cpu = this.cpuSeconds();
    const alive = this.process && this.spawnedAt ? (Date.now() - this.spawnedAt) / 1000 : 0;
    return {
      path: this.path,
      source: this.options.sourcePath,
      profile: this.options.profileName,
      settings: this.profile,
      state: this.state,
      pid: this.pid ?? null,
      args: this.args,
      startedAt: new Date(this.startedAt).toISOString(),
      runningSince: this.state === 'running' ? new Date(this.runningSince).toISOString() : null,
      restarts: this.restarts,
      lastError: this.lastError ?? null,
      frames: this.progress.frames,
      fps: this.progress.fps,
      speed: this.progress.speed,
      cpuSeconds: cpu ?? null,
      cpuPercent: cpu !== undefined && alive > 0 ? Math.round((cpu / alive) * 1000) / 10 : null,
      stderr: [...this.stderr],
    };
  }

  /** CPU time (user + system) of the current process, from /proc (Linux); undefined elsewhere. */
  cpuSeconds(): number | undefined {
    const pid = this.pid;
    if (pid === undefined) return undefined;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime are fields 14 and 15 of proc(5); fields[0] here is field 3. USER_HZ is 100 on Linux.
      return (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      return undefined;
    }
  }

  private nextRunning(): Promise<void> {
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private spawn(): void {
    if (this.state === 'closed') return;
    const generation = ++this.generation;
    this.state = this.everRunning ? 'restarting' : 'starting';
    this.killReason = undefined;
    this.errors = [];
    this.progress = { frames: 0, fps: 0, speed: 0 };
    this.spawnedAt = Date.now();
    let spec: FfmpegSpec;
    try {
      spec = this.options.spec(this.profile);
    } catch (error) {
      this.onExit(generation, error as Error);
      return;
    }
    this.process = runFfmpeg(this.options.binary, spec, {
      onStart: (proc) => this.options.log.debug({ pid: proc.pid }, `ffmpeg started for ${this.path}`),
      onLine: (line) => this.onLine(line),
      onExit: (error) => this.onExit(generation, error),
    });
    this.options.log.info({ args: this.args.join(' ') }, `starting ffmpeg for ${this.path}`);
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.killReason = `no keyframe was published within ${this.options.supervision.startTimeoutMs} ms`;
      this.process?.kill('SIGKILL');
    }, this.options.supervision.startTimeoutMs);
    this.timer.unref();
  }

  private onLine(raw: string): void {
    // ffmpeg repeats its URLs (`Input #0, flv, from 'rtmp://...?token=...'`): masked before they are kept.
    const line = maskSecrets(raw);
    const progress = parseProgress(line);
    if (progress) {
      this.progress = progress;
      return;
    }
    if (!line.trim()) return;
    const error = errorLine(line);
    if (error && !this.errors.includes(error)) this.errors.push(error);
    if (this.errors.length > 3) this.errors.shift();
    this.stderr.push(line);
    if (this.stderr.length > this.options.supervision.stderrLines) this.stderr.shift();
  }

  private onExit(generation: number, error: Error | undefined): void {
    if (generation !== this.generation) return;
    this.process = undefined;
    this.clearTimer();
    if (this.state === 'closed') return;
    if (this.respawn) {
      this.respawn = false;
      this.timer = setTimeout(() => this.spawn(), RESPAWN_GAP_MS);
      return;
    }
    const code = error && /exited with code (\d+)/.exec(error.message)?.[1];
    const reason =
      this.killReason ??
      (code && this.errors.length ? `ffmpeg exited with code ${code}: ${this.errors.join('; ')}` : error ? ffmpegReason(error) : 'ffmpeg exited (the source ended?)');
    this.lastError = reason;
    if (!this.everRunning) {
      // Failed before it ever published: the waiting readers get the reason, the job ends.
      this.close(new TranscodeStartError(this.path, reason));
      return;
    }
    const ranMs = this.runningSince && this.state === 'running' ? Date.now() - this.runningSince : 0;
    this.failures = ranMs >= STABLE_RUN_MS ? 1 : this.failures + 1;
    const { restartDelayMs, maxRestartDelayMs } = this.options.supervision;
    const delay = Math.min(maxRestartDelayMs, restartDelayMs * 2 ** (this.failures - 1));
    this.options.log.warn({ reason, delayMs: delay, restarts: this.restarts }, `ffmpeg for ${this.path} died: ${reason}; restarting in ${delay} ms`);
    this.state = 'restarting';
    this.updating = false;
    // A PATCH waiting for this process learns that it failed; the job keeps trying.
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(new TranscodeStartError(this.path, reason));
    this.safeEmit('died', new Error(reason));
    this.timer = setTimeout(() => {
      this.restarts++;
      this.spawn();
    }, delay);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

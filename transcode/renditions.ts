/**
 * On-demand renditions: `{app}/{name}_{profile}` starts an ffmpeg job on its first reader (the
 * hub's DemandHandler), stops it idleCloseMs after its last reader leaves (core/idle.ts), and refuses new jobs
 * past maxJobs. The job reads the source from the gateway's own RTSP server and publishes back
 * over RTMP (RTSP when the rendition carries Opus, which RTMP cannot), so the hub treats a rendition like any other publisher (readers survive restarts).
 */
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { StreamEndedError } from '../gateway/core/errors.js';
import type { DemandHandler, StreamRegistry } from '../gateway/core/registry.js';
import { closeWhenUnread, type IdleCloser } from '../gateway/core/idle.js';
import type { Stream } from '../gateway/core/stream.js';
import type { Profile, TranscodeConfig } from './config.js';
import { TranscodeLimitError } from './errors.js';
import type { FfmpegBinary } from './ffmpeg.js';
import { TranscodeJob } from './job.js';
import { renditionOutputProtocol, renditionSpec } from './profiles.js';

/** Where the job connects, with credentials when access control needs them. */
export interface LoopbackUrls {
  /** RTSP play URL of the source. */
  input(sourcePath: string): string;
  /** Publish URL of the rendition: RTMP, or RTSP for a rendition carrying Opus (renditionOutputProtocol). */
  output(path: string, protocol: 'rtmp' | 'rtsp'): string;
}

/** `live/cam1_h264` -> source `live/cam1`, profile `h264`; undefined when the path is not a rendition name. */
export function parseRenditionPath(path: string): { source: string; profile: string } | undefined {
  const m = /^(.+\/[^/]+)_([A-Za-z0-9-]{1,32})$/.exec(path);
  if (!m) return undefined;
  return { source: m[1]!, profile: m[2]! };
}

/** True when `path` names a rendition of a configured profile (`live/cam1_h264` with profile h264). */
export function isRenditionPath(config: Pick<TranscodeConfig, 'profiles'>, path: string): boolean {
  const parsed = parseRenditionPath(path);
  return parsed !== undefined && Object.hasOwn(config.profiles, parsed.profile);
}

export interface RenditionsOptions {
  readonly registry: StreamRegistry;
  readonly config: TranscodeConfig;
  readonly log: Logger;
  readonly urls: LoopbackUrls;
  /** The ffmpeg binary, or the error that says why there is none. */
  readonly binary: () => FfmpegBinary;
  /** Cores the CPU budget is a share of (default: os.availableParallelism()). */
  readonly cores?: number;
}

/** The share (%) of `cores` that jobs using `perJob` % of one core each take together (unknowns count 0). */
export function cpuShare(perJob: readonly (number | null)[], cores: number): number {
  let sum = 0;
  for (const p of perJob) sum += p ?? 0;
  return sum / Math.max(1, cores);
}

interface Entry {
  readonly source: string;
  job: TranscodeJob | undefined;
  readonly ready: Promise<void>;
  idle: IdleCloser | undefined;
}

export class Renditions implements DemandHandler {
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  constructor(private readonly options: RenditionsOptions) {
    const registry = options.registry;
    registry.on('publish', this.onPublish);
    registry.on('streamEnded', this.onStreamEnded);
  }

  canServe(path: string): boolean {
    return !this.closed && this.options.config.enabled && isRenditionPath(this.options.config, path);
  }

  /** The source's wait, then ffmpeg's start (its own timeout answers the reader with the reason). */
  waitMs(_path: string, readerWaitMs: number): number {
    return readerWaitMs + this.options.config.startTimeoutMs;
  }

  start(path: string): Promise<void> {
    const existing = this.entries.get(path);
    if (existing) return existing.ready;
    const { source, profile } = parseRenditionPath(path)!;
    const refusal = this.overLimit();
    if (refusal) {
      this.options.log.warn({ path }, `rendition ${path} refused: ${refusal}`);
      return Promise.reject(new TranscodeLimitError(path, refusal));
    }
    // The slot is taken synchronously, so concurrent first readers share one job.
    let entry!: Entry;
    const ready = this.launch(path, source, profile, () => entry);
    entry = { source, job: undefined, ready, idle: undefined };
    this.entries.set(path, entry);
    ready.catch(() => {
      if (this.entries.get(path) === entry) this.remove(path, entry);
    });
    return ready;
  }

  /** Why a new job may not start now (job count, or the CPU the running jobs use), if it may not. */
  private overLimit(): string | undefined {
    const { maxJobs, maxCpuPercent } = this.options.config;
    if (this.entries.size >= maxJobs) return `${maxJobs} transcode jobs are running already (transcode.maxJobs); stop one or raise the limit`;
    const cores = this.options.cores ?? availableParallelism();
    const used = cpuShare(this.jobs().map((j) => j.info().cpuPercent), cores);
    if (maxCpuPercent > 0 && used >= maxCpuPercent) {
      return `the running transcode jobs use ${Math.round(used)} % of ${cores} cores (transcode.maxCpuPercent ${maxCpuPercent}); lower their resolution (the wall profile, camera sub-streams) or raise the limit`;
    }
    return undefined;
  }

  private async launch(path: string, source: string, profileName: string, entry: () => Entry): Promise<void> {
    const binary = this.options.binary();
    // Waiting on the source also starts an on-demand source (a camera pull) and tells us its codecs.
    const sourceStream = await this.options.registry.waitReady(source);
    const current = entry();
    if (this.entries.get(path) !== current) throw new StreamEndedError(path, 'rendition was stopped while starting');
    const tracks = { video: sourceStream.videoTrack, audio: sourceStream.audioTrack };
    const config = this.options.config;
    const job = new TranscodeJob({
      path,
      sourcePath: source,
      profileName,
      profile: config.profiles[profileName]!,
      binary,
      spec: (profile: Profile) =>
        renditionSpec(profile, tracks, this.options.urls.input(source), this.options.urls.output(path, renditionOutputProtocol(profile, tracks))),
      supervision: config,
      log: this.options.log.child({ rendition: path }),
    });
    current.job = job;
    job.on('closed', () => {
      if (this.entries.get(path) === current) this.remove(path, current);
    });
    job.on('listenerError', (error) => this.options.log.error({ err: error }, 'rendition listener failed'));
    await job.start();
  }

  /** Jobs by rendition path. */
  jobs(): TranscodeJob[] {
    return [...this.entries.values()].flatMap((e) => (e.job ? [e.job] : []));
  }

  job(path: string): TranscodeJob | undefined {
    return this.entries.get(path)?.job;
  }

  /** Stops a rendition and ends its stream (its readers are closed). */
  stop(path: string, reason: string): boolean {
    const entry = this.entries.get(path);
    if (!entry) return false;
    this.remove(path, entry, reason);
    this.options.registry.get(path)?.end(new StreamEndedError(path, reason));
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.options.registry.off('publish', this.onPublish);
    this.options.registry.off('streamEnded', this.onStreamEnded);
    for (const [path, entry] of [...this.entries]) this.remove(path, entry, 'gateway stopping');
  }

  private remove(path: string, entry: Entry, reason?: string): void {
    this.entries.delete(path);
    entry.idle?.dispose();
    entry.idle = undefined;
    entry.job?.close(reason ? new StreamEndedError(path, reason) : undefined);
  }

  private readonly onPublish = (stream: Stream): void => {
    const entry = this.entries.get(stream.path);
    if (!entry) return;
    const onReady = () => {
      const current = this.entries.get(stream.path);
      if (!current) return;
      current.job?.published();
      // Nobody may come (the waiting reader gave up): an unread rendition closes like any other.
      current.idle?.dispose();
      const ms = this.options.config.idleCloseMs;
      current.idle = closeWhenUnread(stream, ms, () => {
        if (this.entries.get(stream.path) !== current) return;
        this.options.log.info({ path: stream.path, idleCloseMs: ms }, `rendition ${stream.path} idle: stopping its job`);
        this.stop(stream.path, `no readers for ${ms} ms`);
      });
    };
    if (stream.ready) onReady();
    else stream.once('ready', onReady);
  };

  private readonly onStreamEnded = (stream: Stream): void => {
    // The source is gone: its renditions go too.
    for (const [path, entry] of [...this.entries]) {
      if (entry.source === stream.path) this.stop(path, `source ${stream.path} ended`);
    }
    // The rendition's own stream ended (nobody watched when the job died, or a restart took longer
    // than the hub's grace period): the job goes too, unless a PATCH restart is under way. A job
    // still starting (ffmpeg may publish and then fail) reports its own failure.
    const own = this.entries.get(stream.path);
    if (own?.job && !own.job.updating && own.job.state !== 'starting') this.remove(stream.path, own, 'rendition stream ended');
  };
}

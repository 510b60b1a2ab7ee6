/**
 * Room mixes, on demand: `room/{id}/_mix` carries the mix of every live participant's
 * audio (`room/{id}/{participant}` streams, whatever protocol published them), and
 * `room/{id}/_mix-{participant}` the same without that participant ("mix-minus": what they hear,
 * without the echo of their own voice). One ffmpeg job per mix reads each participant from the
 * gateway's RTSP server and mixes with `amix` (no normalization, so a voice keeps its level
 * whoever else talks), AAC out over RTMP. When participants join or leave, the job is started
 * again with the new set; readers stay through the hub's publisher grace period. Unread mixes
 * close like renditions (transcode.idleCloseMs). `room/{id}/_grid` is the composite (MCU-style):
 * every participant's video in a tile of one 1280x720 picture (xstack), with the mix as audio, for
 * recording a whole session, for RTMP/RTSP consumers and for viewers on weak links.
 */
import type { Logger } from 'pino';
import { closeWhenUnread, type IdleCloser } from '../gateway/core/idle.js';
import { StreamEndedError, StreamNotFoundError } from '../gateway/core/errors.js';
import type { DemandHandler, StreamRegistry } from '../gateway/core/registry.js';
import type { Stream } from '../gateway/core/stream.js';
import type { TranscodeConfig } from './config.js';
import type { FfmpegBinary, FfmpegSpec } from './ffmpeg.js';
import { TranscodeJob } from './job.js';

const MIX_PATH = /^room\/([A-Za-z0-9._~-]{1,128})\/_(mix|grid)(?:-([A-Za-z0-9._~-]{1,128}))?$/;
/** The composite's canvas; tiles share it in a grid of ceil(sqrt(n)) columns. */
export const GRID_WIDTH = 1280;
export const GRID_HEIGHT = 720;
/** Participants mixed at most (amix inputs); more are left out, the earliest joiners kept. */
export const MAX_MIX_INPUTS = 16;
/** A join or leave restarts the job after this, so a burst of changes costs one restart. */
const RESTART_DEBOUNCE_MS = 300;

export type MixKind = 'mix' | 'grid';

export function parseMixPath(path: string): { room: string; kind: MixKind; minus: string | undefined } | undefined {
  const m = MIX_PATH.exec(path);
  return m ? { room: m[1]!, kind: m[2] as MixKind, minus: m[3] } : undefined;
}

/** Tile size and positions (xstack layout) for `n` tiles on the canvas. */
export function gridLayout(n: number): { cols: number; rows: number; width: number; height: number; layout: string } {
  const cols = Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const even = (x: number) => Math.floor(x / 2) * 2;
  const width = even(GRID_WIDTH / cols);
  const height = even(GRID_HEIGHT / rows);
  const layout = Array.from({ length: n }, (_, i) => `${(i % cols) * width}_${Math.floor(i / cols) * height}`).join('|');
  return { cols, rows, width, height, layout };
}

/**
 * ffmpeg arguments for the composite: every participant with video scaled into its tile
 * (aspect kept, padded), stacked with xstack on a black canvas, H.264 (x264 zerolatency, a
 * keyframe a second), with the mix of `audio` inputs (indexes into `inputs`) as AAC.
 */
export function gridSpec(inputs: readonly string[], video: readonly number[], audio: readonly number[], output: string, cleanup: readonly (string | undefined)[] = []): FfmpegSpec {
  const mix = mixSpec(inputs, output);
  const ff = ffmpegIndex(inputs.length);
  const g = gridLayout(video.length);
  const tiles = video.map((input, i) => `[${ff(input)}:v]scale=${g.width}:${g.height}:force_original_aspect_ratio=decrease,pad=${g.width}:${g.height}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=25[t${i}]`);
  const stack =
    video.length === 1
      ? `[t0]pad=${GRID_WIDTH}:${GRID_HEIGHT}:0:0[grid]`
      : `${video.map((_, i) => `[t${i}]`).join('')}xstack=inputs=${video.length}:layout=${g.layout}:fill=black,pad=${GRID_WIDTH}:${GRID_HEIGHT}:0:0[grid]`;
  const graph = [...tiles, stack];
  const out = ['-map', '[grid]', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-b:v', '2500k', '-g', '25', '-bf', '0'];
  if (audio.length > 0) {
    graph.push(...amixGraph(audio, ff, cleanup));
    out.push('-map', '[mix]', '-c:a', 'aac', '-b:a', '96k', '-ac', '2');
  }
  out.push('-max_interleave_delta', '0', '-flush_packets', '1', '-f', 'flv', '-flvflags', 'no_duration_filesize');
  return { ...mix, outputOptions: ['-filter_complex', graph.join(';'), ...out] };
}

/** mixSpec puts inputs[1..] before inputs[0] on the command line: ffmpeg numbers them that way. */
function ffmpegIndex(n: number): (i: number) => number {
  return (i) => (i === 0 ? n - 1 : i - 1);
}

/**
 * The filter graph mixing the audio of `audio` (indexes into the inputs) into `[mix]`: each
 * input through its clean-up filters first (rooms.audioCleanup: noise suppression, levelling),
 * then amix without normalization, resampled to 48 kHz with gaps filled.
 */
function amixGraph(audio: readonly number[], ff: (i: number) => number, cleanup: readonly (string | undefined)[]): string[] {
  const parts: string[] = [];
  const labels = audio.map((i) => {
    const filter = cleanup[i];
    if (!filter) return `[${ff(i)}:a]`;
    parts.push(`[${ff(i)}:a]${filter}[clean${i}]`);
    return `[clean${i}]`;
  });
  parts.push(`${labels.join('')}amix=inputs=${audio.length}:duration=longest:dropout_transition=0:normalize=0,aresample=48000:async=1[mix]`);
  return parts;
}

/**
 * ffmpeg arguments mixing `inputs` (RTSP URLs) into one AAC stream published at `output`;
 * `cleanup[i]` is the filter chain for input i's audio before the mix (none when undefined).
 */
export function mixSpec(inputs: readonly string[], output: string, cleanup: readonly (string | undefined)[] = []): FfmpegSpec {
  const rtsp = ['-rtsp_transport', 'tcp', '-fflags', 'nobuffer', '-probesize', '32768', '-analyzeduration', '0'];
  // fluent-ffmpeg puts inputOptions before its one input: the other inputs go there, each with its options.
  const extra = inputs.slice(1).flatMap((url) => [...rtsp, '-i', url]);
  const graph = amixGraph(inputs.map((_, i) => i), ffmpegIndex(inputs.length), cleanup).join(';');
  return {
    input: inputs[0]!,
    inputOptions: ['-hide_banner', '-nostdin', '-loglevel', 'level+info', ...extra, ...rtsp],
    output,
    outputOptions: [
      '-filter_complex', graph,
      '-map', '[mix]', '-c:a', 'aac', '-b:a', '96k', '-ac', '2',
      '-max_interleave_delta', '0', '-flush_packets', '1', '-f', 'flv', '-flvflags', 'no_duration_filesize',
    ],
  };
}

export interface RoomMixesOptions {
  readonly registry: StreamRegistry;
  readonly config: TranscodeConfig;
  readonly log: Logger;
  readonly binary: () => FfmpegBinary;
  /** RTSP play URL of a path, RTMP publish URL of a path (with the job's credential). */
  readonly input: (path: string) => string;
  readonly output: (path: string) => string;
  /** Streams derived from a participant's (its renditions): not participants themselves. */
  readonly derived?: (path: string) => boolean;
  /** A host muted this participant's audio: left out of the mixes (rooms/floor.ts). */
  readonly audioMuted?: (path: string) => boolean;
  /** The clean-up filters for a participant's audio (rooms.audioCleanup), if any. */
  readonly cleanup?: (path: string) => string | undefined;
}

interface Mix {
  readonly room: string;
  readonly kind: MixKind;
  readonly minus: string | undefined;
  job: TranscodeJob | undefined;
  participants: string[];
  restart: NodeJS.Timeout | undefined;
  idle: IdleCloser | undefined;
}

export class RoomMixes implements DemandHandler {
  private readonly mixes = new Map<string, Mix>();
  private closed = false;

  constructor(private readonly options: RoomMixesOptions) {
    options.registry.on('publish', this.onChange);
    options.registry.on('streamEnded', this.onChange);
  }

  canServe(path: string): boolean {
    return !this.closed && this.options.config.enabled && parseMixPath(path) !== undefined;
  }

  waitMs(_path: string, readerWaitMs: number): number {
    return readerWaitMs + this.options.config.startTimeoutMs;
  }

  /** A participant's audio goes into the mixes: it has some and no host muted it. */
  private mixesAudio(s: Stream): boolean {
    return s.audioTrack !== undefined && !this.options.audioMuted?.(s.path);
  }

  /** Live participants of `room` (with mixed audio for a mix, with it or video for a grid), in join order, without `minus`. */
  participants(room: string, minus?: string, kind: MixKind = 'mix'): string[] {
    const prefix = `room/${room}/`;
    return this.options.registry
      .list()
      .filter((s) => s.path.startsWith(prefix) && s.ready && s.publisher !== undefined && !this.options.derived?.(s.path) && (this.mixesAudio(s) || (kind === 'grid' && s.videoTrack !== undefined)))
      .map((s) => s.path)
      .filter((p) => {
        const name = p.slice(prefix.length);
        return !name.includes('/') && !name.startsWith('_') && name !== minus;
      })
      .sort((a, b) => (this.options.registry.get(a)!.createdAt - this.options.registry.get(b)!.createdAt))
      .slice(0, MAX_MIX_INPUTS);
  }

  async start(path: string): Promise<void> {
    const existing = this.mixes.get(path);
    if (existing?.job) return;
    const { room, kind, minus } = parseMixPath(path)!;
    const participants = this.participants(room, minus, kind);
    if (participants.length === 0) throw new StreamNotFoundError(path);
    const mix: Mix = existing ?? { room, kind, minus, job: undefined, participants, restart: undefined, idle: undefined };
    this.mixes.set(path, mix);
    await this.launch(path, mix, participants);
  }

  private async launch(path: string, mix: Mix, participants: string[]): Promise<void> {
    mix.participants = participants;
    const config = this.options.config;
    const job = new TranscodeJob({
      path,
      sourcePath: `room/${mix.room}`,
      profileName: 'mix',
      profile: config.profiles.h264 ?? Object.values(config.profiles)[0]!,
      binary: this.options.binary(),
      spec: () => this.spec(mix.kind, participants, path),
      supervision: config,
      log: this.options.log.child({ mix: path }),
    });
    mix.job = job;
    job.on('closed', () => {
      if (mix.job === job) mix.job = undefined;
    });
    job.on('listenerError', (error) => this.options.log.error({ err: error }, 'mix listener failed'));
    this.options.log.info({ path, participants }, `room mix ${path}: mixing ${participants.length} participant(s)`);
    try {
      await job.start();
    } catch (error) {
      if (mix.job === job) this.remove(path);
      throw error;
    }
  }

  private spec(kind: MixKind, participants: readonly string[], path: string): FfmpegSpec {
    const inputs = participants.map((p) => this.options.input(p));
    const cleanup = participants.map((p) => this.options.cleanup?.(p));
    if (kind === 'mix') return mixSpec(inputs, this.options.output(path), cleanup);
    const streams = participants.map((p) => this.options.registry.get(p));
    const video = streams.flatMap((s, i) => (s?.videoTrack ? [i] : []));
    const audio = streams.flatMap((s, i) => (s && this.mixesAudio(s) ? [i] : []));
    if (video.length === 0) return mixSpec(audio.map((i) => inputs[i]!), this.options.output(path), audio.map((i) => cleanup[i]));
    return gridSpec(inputs, video, audio, this.options.output(path), cleanup);
  }

  /** Mixes (path, participants, job state) for the API. */
  list(): { path: string; participants: string[]; state: string }[] {
    return [...this.mixes].map(([path, m]) => ({ path, participants: m.participants, state: m.job?.state ?? 'restarting' }));
  }

  private remove(path: string, reason?: string): void {
    const mix = this.mixes.get(path);
    if (!mix) return;
    this.mixes.delete(path);
    clearTimeout(mix.restart);
    mix.idle?.dispose();
    mix.job?.close(reason ? new StreamEndedError(path, reason) : undefined);
  }

  private readonly onChange = (stream: Stream): void => {
    const own = this.mixes.get(stream.path);
    if (own) {
      // The mix itself published (first keyframe for the job; idle close from now on) or ended.
      if (stream.state === 'ended') return this.remove(stream.path, 'the mix stream ended');
      const ready = () => {
        own.job?.published();
        own.idle?.dispose();
        const ms = this.options.config.idleCloseMs;
        own.idle = closeWhenUnread(stream, ms, () => {
          this.options.log.info({ path: stream.path }, `room mix ${stream.path} idle for ${ms} ms: stopping`);
          this.remove(stream.path, `no readers for ${ms} ms`);
          this.options.registry.get(stream.path)?.end(new StreamEndedError(stream.path, `no readers for ${ms} ms`));
        });
      };
      if (stream.ready) ready();
      else stream.once('ready', ready);
      return;
    }
    for (const [path, mix] of this.mixes) {
      if (!stream.path.startsWith(`room/${mix.room}/`)) continue;
      clearTimeout(mix.restart);
      // A participant that just published is ready only with its first frame: look again shortly.
      mix.restart = setTimeout(() => this.reconsider(path, mix), RESTART_DEBOUNCE_MS);
    }
  };

  /** Something other than a join or leave changed who is mixed in `room` (`room/{id}`): an audio mute. */
  refresh(room: string): void {
    for (const [path, mix] of this.mixes) {
      if (`room/${mix.room}` !== room) continue;
      clearTimeout(mix.restart);
      mix.restart = setTimeout(() => this.reconsider(path, mix, true), RESTART_DEBOUNCE_MS);
    }
  }

  private reconsider(path: string, mix: Mix, force = false): void {
    if (this.mixes.get(path) !== mix) return;
    const now = this.participants(mix.room, mix.minus, mix.kind);
    if (!force && now.join('\n') === mix.participants.join('\n')) return;
    if (now.length === 0) {
      // Everyone left: the mix goes quiet; its readers wait out the grace period like any publisher's.
      mix.job?.close();
      mix.job = undefined;
      mix.participants = [];
      return;
    }
    const old = mix.job;
    mix.job = undefined;
    old?.close();
    void this.launch(path, mix, now).catch((error: unknown) => this.options.log.warn({ path, err: (error as Error).message }, `room mix ${path} restart failed`));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.options.registry.off('publish', this.onChange);
    this.options.registry.off('streamEnded', this.onChange);
    for (const path of [...this.mixes.keys()]) this.remove(path, 'gateway stopping');
  }
}

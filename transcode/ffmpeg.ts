/**
 * The one file that knows fluent-ffmpeg (upstream is archived: swapping it means rewriting this
 * file only) and where the ffmpeg binary comes from: FFMPEG_PATH, else `ffmpeg` on PATH, else the
 * binary bundled by @ffmpeg-installer/ffmpeg, so a machine with only Node works.
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import ffmpeg from 'fluent-ffmpeg';
import { FfmpegNotFoundError } from './errors.js';

export interface FfmpegBinary {
  readonly path: string;
  /** Where it was found. */
  readonly source: 'FFMPEG_PATH' | 'PATH' | 'bundled';
  /** First line of `ffmpeg -version`. */
  readonly version: string;
}

function executable(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function versionOf(file: string): string {
  try {
    return execFileSync(file, ['-hide_banner', '-version'], { timeout: 10_000, encoding: 'utf8' }).split('\n')[0]!.trim();
  } catch (error) {
    throw new FfmpegNotFoundError(`${file} does not run (${(error as Error).message.split('\n')[0]})`);
  }
}

/** Finds ffmpeg once per Transcoder (not cached process-wide). */
export function resolveFfmpeg(env: NodeJS.ProcessEnv = process.env): FfmpegBinary {
  const fromEnv = env.FFMPEG_PATH;
  if (fromEnv) {
    if (!executable(fromEnv)) throw new FfmpegNotFoundError(`FFMPEG_PATH=${fromEnv} is not an executable file`);
    return { path: fromEnv, source: 'FFMPEG_PATH', version: versionOf(fromEnv) };
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, process.platform === 'win32' ? 'ffmpeg.exe' : 'ffmpeg');
    if (executable(file)) return { path: file, source: 'PATH', version: versionOf(file) };
  }
  let bundled: string;
  try {
    // CommonJS, and it throws on platforms it has no binary for: load it only when needed.
    bundled = (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;
  } catch (error) {
    throw new FfmpegNotFoundError(`not in FFMPEG_PATH or PATH, and the bundled one is unavailable (${String((error as Error)?.message ?? error)})`);
  }
  return { path: bundled, source: 'bundled', version: versionOf(bundled) };
}

export interface FfmpegSpec {
  /** A URL, or a stream piped to ffmpeg's stdin. */
  readonly input: string | Readable;
  readonly inputOptions: readonly string[];
  /** A URL, or a stream ffmpeg's stdout is piped to. */
  readonly output: string | Writable;
  readonly outputOptions: readonly string[];
}

export interface FfmpegHandlers {
  /** The process is spawned. */
  onStart?(process: ChildProcess): void;
  /** One line of stderr (progress lines included: ffmpeg ends them with \r). */
  onLine?(line: string): void;
  /** The process is gone: `error` undefined on exit code 0; its message carries ffmpeg's reason. */
  onExit(error: Error | undefined): void;
}

/** One running ffmpeg process. */
export interface FfmpegProcess {
  /** The full argument list, as spawned. */
  readonly args: readonly string[];
  readonly pid: number | undefined;
  kill(signal?: NodeJS.Signals): void;
}

/** Builds the argument list (also used to show and test a job's arguments before it runs). */
export function ffmpegArgs(spec: FfmpegSpec): string[] {
  return buildCommand(spec)._getArguments();
}

interface FluentInternals {
  _getArguments(): string[];
  ffmpegProc?: ChildProcess;
}

function buildCommand(spec: FfmpegSpec): ffmpeg.FfmpegCommand & FluentInternals {
  const command = ffmpeg({ stdoutLines: 200 }) as ffmpeg.FfmpegCommand & FluentInternals;
  command.input(spec.input as string).inputOptions([...spec.inputOptions]);
  command.output(spec.output as string).outputOptions([...spec.outputOptions]);
  return command;
}

/** Spawns ffmpeg through fluent-ffmpeg. */
export function runFfmpeg(binary: FfmpegBinary, spec: FfmpegSpec, handlers: FfmpegHandlers): FfmpegProcess {
  const command = buildCommand(spec);
  const args = command._getArguments();
  // fluent-ffmpeg keeps the path in a module cache; every Transcoder resolves the same binary.
  command.setFfmpegPath(binary.path);
  let exited = false;
  // fluent-ffmpeg spawns a few event-loop turns after run() (longer the first time, when it
  // probes the binary's formats); a kill before that is lost, so it is kept and done on start.
  let pendingKill: NodeJS.Signals | undefined;
  const exit = (error: Error | undefined) => {
    if (exited) return;
    exited = true;
    handlers.onExit(error);
  };
  command.on('start', () => {
    if (pendingKill && command.ffmpegProc) {
      command.ffmpegProc.kill(pendingKill);
      return;
    }
    if (command.ffmpegProc) handlers.onStart?.(command.ffmpegProc);
  });
  command.on('stderr', (line: string) => handlers.onLine?.(line));
  command.on('error', (error: Error) => exit(error));
  command.on('end', () => exit(undefined));
  command.run();
  return {
    args,
    get pid() {
      return command.ffmpegProc?.pid;
    },
    kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (command.ffmpegProc) command.kill(signal);
      else pendingKill = signal;
    },
  };
}

/**
 * ffmpeg's reason for failing, from its stderr: the last lines that are not progress or stream
 * description (what `ffmpeg exited with code 1: ...` carries), trimmed for an HTTP answer.
 */
export function ffmpegReason(error: Error): string {
  const text = error.message.replace(/^ffmpeg exited with code (\d+):\s*/, 'ffmpeg exited with code $1: ').trim();
  return text.length > 600 ? `${text.slice(0, 600)}...` : text;
}

/** The message of an error-level line under `-loglevel level+...` (`[error] ...`), else undefined. */
export function errorLine(line: string): string | undefined {
  const m = /^(?:\[[^\]]+ @ 0x[0-9a-f]+\] )?\[(error|fatal|panic)\] (.*)$/.exec(line);
  return m ? m[2]!.trim() : undefined;
}

/** Progress fields of a stats line: `frame=  50 fps= 25 q=... time=00:00:02.00 bitrate=... speed=1.01x`. */
export function parseProgress(line: string): { frames: number; fps: number; speed: number } | undefined {
  if (!line.startsWith('frame=') && !line.startsWith('[info] frame=')) return undefined;
  const num = (re: RegExp) => {
    const m = re.exec(line);
    return m ? Number(m[1]) : 0;
  };
  return { frames: num(/frame=\s*(\d+)/), fps: num(/fps=\s*([\d.]+)/), speed: num(/speed=\s*([\d.]+)x/) };
}

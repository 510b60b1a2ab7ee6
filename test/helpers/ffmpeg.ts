import { type ChildProcess, execFile, spawn } from 'node:child_process';

export interface PublishOptions {
  /** Seconds of media; the process ends after it. Default: long enough for the test (60). */
  duration?: number;
  size?: string;
  fps?: number;
  /** Keyframe interval in frames. */
  gop?: number;
  video?: 'h264' | 'h265' | 'none';
  audio?: 'aac' | 'pcma' | 'pcmu' | 'mp2' | 'opus' | 'none';
  /** Output format: flv (RTMP), rtsp, or mpegts (SRT: the URL is srt://...). */
  format?: 'flv' | 'rtsp' | 'mpegts';
  rtspTransport?: 'tcp' | 'udp';
  extraInput?: string[];
  /** Extra video filter (drawtext etc.). */
  vf?: string;
  /** Publish in real time (-re); false pushes as fast as ffmpeg encodes. Default true. */
  realtime?: boolean;
  /** Video bitrate, e.g. '4M'. */
  bitrate?: string;
}

export interface Publisher {
  proc: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** ffmpeg publishing a synthetic test pattern (and a tone) in real time to `url`. */
export function publish(url: string, o: PublishOptions = {}): Publisher {
  const fps = o.fps ?? 25;
  const args = ['-hide_banner', '-loglevel', 'error', ...(o.realtime === false ? [] : ['-re']), '-f', 'lavfi', '-i', `testsrc2=size=${o.size ?? '320x240'}:rate=${fps}`];
  const audio = o.audio ?? 'aac';
  if (audio !== 'none') args.push('-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=${audio === 'opus' ? 48000 : audio === 'aac' || audio === 'mp2' ? 44100 : 8000}`);
  args.push('-t', String(o.duration ?? 60));
  const video = o.video ?? 'h264';
  if (video === 'h264') {
    args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p');
  } else if (video === 'h265') {
    args.push('-c:v', 'libx265', '-preset', 'ultrafast', '-tune', 'zerolatency', '-x265-params', 'log-level=error');
  } else {
    args.push('-vn');
  }
  if (video !== 'none') {
    args.push('-g', String(o.gop ?? fps), '-keyint_min', String(o.gop ?? fps), '-sc_threshold', '0');
    if (o.vf) args.push('-vf', o.vf);
    if (o.bitrate) args.push('-b:v', o.bitrate, '-maxrate', o.bitrate, '-bufsize', o.bitrate);
  }
  if (audio === 'aac') args.push('-c:a', 'aac', '-b:a', '64k');
  else if (audio === 'pcma') args.push('-c:a', 'pcm_alaw', '-ar', '8000', '-ac', '1');
  else if (audio === 'pcmu') args.push('-c:a', 'pcm_mulaw', '-ar', '8000', '-ac', '1');
  else if (audio === 'mp2') args.push('-c:a', 'mp2', '-b:a', '128k');
  else if (audio === 'opus') args.push('-c:a', 'libopus', '-b:a', '64k', '-ac', '2');
  if (o.format === 'rtsp') args.push('-f', 'rtsp', '-rtsp_transport', o.rtspTransport ?? 'tcp', url);
  else if (o.format === 'mpegts') args.push('-f', 'mpegts', url);
  else args.push('-f', 'flv', url);
  return runFfmpeg(args);
}

/** Runs ffmpeg with `args`, keeping its error output; stop() kills it and waits for the exit. */
export function runFfmpeg(args: string[]): Publisher {
  const proc = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d) => (err += String(d)));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc,
    stderr: () => err,
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
    },
  };
}

export interface ProbeResult {
  streams: { codec_name: string; codec_type: string; width?: number; height?: number; sample_rate?: string; channels?: number }[];
  packets: { codec_type: string; dts_time?: string; pts_time?: string; stream_index: number; flags: string }[];
}

/** ffprobe `url` for about `seconds` of packets; rejects when ffprobe fails. */
export function probe(url: string, seconds = 2, extra: string[] = []): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'ffprobe',
      ['-v', 'error', ...extra, '-read_intervals', `%+${seconds}`, '-show_streams', '-show_packets', '-of', 'json', url],
      { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`ffprobe ${url} failed: ${error.message} ${stderr}`));
        else resolve(JSON.parse(stdout) as ProbeResult);
      },
    );
  });
}

/** Decodes `seconds` of `url` with ffmpeg and returns its error output (empty when clean). */
export function decode(url: string, seconds = 2, extra: string[] = []): Promise<{ code: number | null; stderr: string; frames: number }> {
  return new Promise((resolve) => {
    execFile(
      'ffmpeg',
      ['-hide_banner', '-v', 'error', ...extra, '-i', url, '-t', String(seconds), '-f', 'null', '-progress', 'pipe:1', '-'],
      { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const m = [...String(stdout).matchAll(/frame=(\d+)/g)];
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stderr: String(stderr), frames: m.length ? Number(m[m.length - 1]![1]) : 0 });
      },
    );
  });
}

/** Timestamps (seconds) of one stream's packets, in order. */
export function packetTimes(result: ProbeResult, type: 'video' | 'audio'): number[] {
  return result.packets.filter((p) => p.codec_type === type && p.dts_time !== undefined).map((p) => Number(p.dts_time));
}

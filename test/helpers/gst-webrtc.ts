/**
 * Runs test/helpers/gst-webrtc.py: GStreamer's webrtcbin (libnice ICE, a WebRTC stack that is
 * neither a browser's nor libdatachannel) as a WHIP publisher or a WHEP player, reporting what
 * happens as JSON lines.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectJsonLines } from './gateway.js';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'gst-webrtc.py');
/** Debian's python3 (python3-gi lives there), not a pyenv shim that lacks it. */
const PYTHON = '/usr/bin/python3';

let available: boolean | undefined;

/** True when webrtcbin, libnice's elements and the encoders/decoders the script uses are installed. */
export function hasGstWebrtc(): boolean {
  if (available === undefined) {
    try {
      execFileSync(
        PYTHON,
        [
          '-c',
          "import gi; gi.require_version('Gst','1.0'); gi.require_version('GstWebRTC','1.0'); gi.require_version('GstSdp','1.0'); " +
            'from gi.repository import Gst, GstWebRTC, GstSdp; Gst.init(None); ' +
            "assert all(Gst.ElementFactory.find(e) for e in ('webrtcbin', 'nicesrc', 'nicesink', 'x264enc', 'opusenc', 'avdec_h264', 'opusdec', 'alawdec'))",
        ],
        { stdio: 'ignore', timeout: 20_000 },
      );
      available = true;
    } catch {
      available = false;
      process.stderr.write(
        '\n*** SKIPPING GStreamer WebRTC tests: webrtcbin or libnice missing (apt-get install gstreamer1.0-nice gir1.2-gst-plugins-bad-1.0 python3-gi gstreamer1.0-plugins-{good,bad,ugly} gstreamer1.0-libav; .ci/run installs them) ***\n\n',
      );
    }
  }
  return available;
}

export interface GstWebrtcOptions {
  /** Seconds to stay connected before the DELETE (default 10). */
  seconds?: number;
  /** Sent as `Authorization: Bearer TOKEN`. */
  token?: string;
  /** WHIP picture size, e.g. '640x360'. */
  size?: string;
}

export interface GstWebrtc {
  proc: ChildProcess;
  /** Every JSON line printed so far, in order. */
  readonly lines: Record<string, any>[];
  /** The first line of `event`, once printed. */
  event(event: string): Record<string, any> | undefined;
  /** Resolves with the line of `event` (rejects when the script exits first or after `timeoutMs`). */
  waitEvent(event: string, timeoutMs?: number): Promise<Record<string, any>>;
  exited: Promise<number | null>;
  stderr(): string;
  /** SIGTERM: the script DELETEs its resource and exits as at the end of --seconds. */
  finish(): Promise<number | null>;
  /** SIGKILL, no DELETE (idempotent). */
  kill(): Promise<void>;
}

export function gstWebrtc(mode: 'whip' | 'whep', url: string, o: GstWebrtcOptions = {}): GstWebrtc {
  const args = [SCRIPT, mode, url, '--seconds', String(o.seconds ?? 10)];
  if (o.token) args.push('--token', o.token);
  if (o.size) args.push('--size', o.size);
  const proc = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, any>[] = [];
  collectJsonLines(proc.stdout!, lines);
  let err = '';
  proc.stderr!.on('data', (d) => (err += String(d)));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));
  const event = (name: string) => lines.find((l) => l.event === name);
  return {
    proc,
    lines,
    event,
    async waitEvent(name, timeoutMs = 15_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const line = event(name);
        if (line) return line;
        if (done) throw new Error(`gst-webrtc.py ${mode} exited (${proc.exitCode}) before "${name}": ${JSON.stringify(lines)} ${err}`);
        if (Date.now() > end) throw new Error(`gst-webrtc.py ${mode}: no "${name}" within ${timeoutMs} ms: ${JSON.stringify(lines)} ${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    exited,
    stderr: () => err,
    async finish() {
      if (!done) proc.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (!done) proc.kill('SIGKILL');
      await exited;
    },
  };
}

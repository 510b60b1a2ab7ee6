import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'rtsp-camera.py');
/** Debian's python3 (python3-gi lives there), not a pyenv shim that lacks it. */
const PYTHON = '/usr/bin/python3';

let available: boolean | undefined;

/** True when GStreamer's RTSP server and the encoders the stand-in uses are installed. */
export function hasRtspCamera(): boolean {
  if (available === undefined) {
    try {
      execFileSync(
        PYTHON,
        ['-c', "import gi; gi.require_version('GstRtspServer','1.0'); from gi.repository import Gst, GstRtspServer; Gst.init(None); assert Gst.ElementFactory.find('x264enc') and Gst.ElementFactory.find('x265enc') and Gst.ElementFactory.find('alawenc')"],
        { stdio: 'ignore', timeout: 20_000 },
      );
      available = true;
    } catch {
      available = false;
      process.stderr.write(
        '\n*** SKIPPING RTSP camera tests: GStreamer RTSP server missing (apt-get install gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-{good,bad,ugly}) ***\n\n',
      );
    }
  }
  return available;
}

export interface RtspCamera {
  /** Open server port (mounts /h264, /h265pcma) and the Basic/Digest servers (mount /h264, user:secret). */
  readonly port: number;
  readonly basic: number;
  readonly digest: number;
  url(mount: string): string;
  /** Kills the stand-in (SIGKILL: a camera losing power). */
  kill(): Promise<void>;
  /** Starts it again on the same ports. */
  restart(): Promise<void>;
  /**
   * Waits for a restart after the stand-in exited by itself (not by kill/stop) and says why it had
   * (GStreamer's RTSP server, not the gateway, then failed); undefined when it had not died since
   * the last call.
   */
  ensureRunning(): Promise<string | undefined>;
  stop(): Promise<void>;
}

function launch(ports: [number, number, number]): Promise<{ proc: ChildProcess; ports: [number, number, number] }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(PYTHON, [SCRIPT, ...ports.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`rtsp-camera.py did not start: ${err}`));
    }, 20_000);
    proc.stderr!.on('data', (d) => (err += String(d)));
    proc.stdout!.on('data', (d) => {
      out += String(d);
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) {
        clearTimeout(timer);
        const p = JSON.parse(line) as { port: number; basic: number; digest: number };
        resolve({ proc, ports: [p.port, p.basic, p.digest] });
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`rtsp-camera.py exited with ${code}: ${err}`));
    });
  });
}

function killProc(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });
}

/**
 * Starts GStreamer's RTSP server as a stand-in camera on free ports.
 *
 * GStreamer 1.22's server sometimes aborts by itself (seen on CI: `gst_rtsp_media_get_rates:
 * assertion failed` as a pull's PLAY met a shared media still starting after a restart). A camera
 * that dies so is started again at once on the same ports, and the reason goes to stderr loudly:
 * the gateway, which keeps retrying its pulls, is what the tests are about, not GStreamer's bug.
 */
export async function startRtspCamera(): Promise<RtspCamera> {
  let { proc, ports } = await launch([0, 0, 0]);
  /** Why the last process exited without being asked to (exit code or signal, its stderr's end). */
  let died: string | undefined;
  let killing = false;
  let stopped = false;
  /** The relaunch after a death by itself, while it runs. */
  let reviving: Promise<void> | undefined;
  const relaunch = async () => {
    // The port may linger briefly after a kill: retry for a few seconds.
    for (let i = 0; ; i++) {
      try {
        ({ proc, ports } = await launch(ports));
        watch(proc);
        return;
      } catch (error) {
        if (i >= 10) throw error;
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  };
  const watch = (p: ChildProcess) => {
    let err = '';
    p.stderr!.on('data', (d) => (err = (err + String(d)).slice(-2000)));
    p.once('exit', (code, signal) => {
      if (killing || stopped || p !== proc) return;
      died = `rtsp-camera.py exited by itself (${signal ?? `code ${code}`}): ${err.trim() || 'nothing on stderr'}`;
      process.stderr.write(`\n*** the stand-in RTSP camera died, starting it again: ${died} ***\n\n`);
      reviving = relaunch()
        .catch((error: unknown) => {
          process.stderr.write(`\n*** the stand-in RTSP camera could not be started again: ${String(error)} ***\n\n`);
        })
        .finally(() => (reviving = undefined));
    });
  };
  watch(proc);
  const kill = async () => {
    await reviving;
    killing = true;
    await killProc(proc);
    killing = false;
  };
  return {
    port: ports[0],
    basic: ports[1],
    digest: ports[2],
    url: (mount) => `rtsp://127.0.0.1:${ports[0]}${mount}`,
    kill,
    async restart() {
      await kill();
      await relaunch();
    },
    async ensureRunning() {
      await reviving;
      const why = died;
      died = undefined;
      return why;
    },
    async stop() {
      stopped = true;
      await reviving;
      await killProc(proc);
    },
  };
}

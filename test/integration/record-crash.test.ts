/**
 * Crash safety: the gateway runs as a child process (dist/, built by `npm test`) and is killed
 * with SIGKILL in the middle of a recording segment.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasTool } from '../helpers/tools.js';
import { decode, packetTimes, probe, publish, type Publisher } from '../helpers/ffmpeg.js';
import { collectJsonLines, sleep, waitFor } from '../helpers/gateway.js';

const MAIN = join(process.cwd(), 'dist', 'gateway', 'main.js');
const runnable = hasTool('ffmpeg') && hasTool('ffprobe') && existsSync(MAIN);
if (!existsSync(MAIN)) process.stderr.write(`\n*** SKIPPING record-crash: ${MAIN} is missing (run npm run build) ***\n\n`);

interface Child {
  proc: ChildProcess;
  http: string;
  rtmp: string;
  logs: Record<string, unknown>[];
}

async function startChild(config: string): Promise<Child> {
  const proc = spawn(process.execPath, [MAIN, '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  collectJsonLines(proc.stdout!, logs);
  proc.stderr!.resume();
  const port = (listener: string) => logs.find((l) => l.listener === listener)?.port as number | undefined;
  await waitFor('child gateway listening', () => port('http') !== undefined && port('rtmp') !== undefined, 20_000);
  return { proc, http: `http://127.0.0.1:${port('http')}`, rtmp: `rtmp://127.0.0.1:${port('rtmp')}`, logs };
}

describe.skipIf(!runnable)('recording survives kill -9', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sg-crash-'));
  const children: ChildProcess[] = [];
  let pub: Publisher | undefined;

  afterAll(async () => {
    await pub?.stop();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves a partial file playable to within one GOP of the kill, recovered on restart', async () => {
    const config = join(dir, 'gateway.yaml');
    writeFileSync(
      config,
      [
        'bind: 127.0.0.1',
        `dataDir: ${JSON.stringify(dir)}`,
        'log: { level: info }',
        'http: { port: 0 }',
        'rtmp: { port: 0 }',
        'rtsp: { enabled: false }',
        // SRT's default port would collide with other gateways started by tests running alongside.
        'srt: { enabled: false }',
        'record:',
        '  rules:',
        '    "cams/*": { segment: 60s }',
        '',
      ].join('\n'),
    );
    const first = await startChild(config);
    children.push(first.proc);
    pub = publish(`${first.rtmp}/cams/gate`, { fps: 25, gop: 25, duration: 60 });
    type Listing = { recordings: { id: string; start: string; durationMs: number; recording: boolean }[] };
    const entry = await waitFor(
      'a recording in progress',
      async () => ((await (await fetch(`${first.http}/api/v1/recordings`)).json()) as Listing).recordings[0],
      15_000,
      100,
    );
    expect(entry.recording).toBe(true);
    // Kill mid-GOP, several GOPs into the segment.
    await sleep(4500);
    const mediaAtKill = Date.now() - Date.parse(entry.start);
    first.proc.kill('SIGKILL');
    await new Promise((r) => first.proc.once('exit', r));
    await pub.stop();

    const file = join(dir, 'recordings', entry.id);
    const sizeAtKill = statSync(file).size;
    const raw = await probe(file, 60);
    const video = packetTimes(raw, 'video');
    const kept = (video[video.length - 1]! + 0.04) * 1000;
    // Fragments are written per GOP (1 s here): at most the one in progress is lost.
    expect(kept).toBeGreaterThan(mediaAtKill - 1000 - 500);
    expect(kept).toBeLessThan(mediaAtKill + 300);
    expect(raw.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    const decoded = await decode(file, 60);
    expect(decoded.code).toBe(0);
    expect(decoded.frames).toBeGreaterThanOrEqual(Math.floor((kept / 1000) * 25) - 1);

    // A restarted gateway indexes the file (and cuts any partial fragment off its end).
    const second = await startChild(config);
    children.push(second.proc);
    const listing = (await (await fetch(`${second.http}/api/v1/recordings?path=cams/gate`)).json()) as Listing;
    expect(listing.recordings).toHaveLength(1);
    expect(listing.recordings[0]!.recording).toBe(false);
    expect(Math.abs(listing.recordings[0]!.durationMs - kept)).toBeLessThan(100);
    expect(statSync(file).size).toBeLessThanOrEqual(sizeAtKill);
    second.proc.kill('SIGTERM');
    await new Promise((r) => second.proc.once('exit', r));
  });
});

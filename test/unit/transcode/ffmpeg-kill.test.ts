import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { resolveFfmpeg, runFfmpeg } from '../../../transcode/ffmpeg.js';
import { hasTool } from '../../helpers/tools.js';

/** ffmpeg processes whose command line carries `marker`. */
function running(marker: string): number {
  try {
    return execFileSync('pgrep', ['-f', marker]).toString().trim().split('\n').filter(Boolean).length;
  } catch {
    return 0; // pgrep exits 1 when nothing matches
  }
}

describe.skipIf(!hasTool('ffmpeg'))('runFfmpeg', () => {
  it('a kill right after the start, before fluent-ffmpeg has spawned, still ends the process', async () => {
    const marker = `testsrc2=size=64x48:rate=${Math.floor(Math.random() * 1e6) + 1000}`;
    let exitError: Error | undefined;
    const exited = new Promise<void>((resolve) => {
      const proc = runFfmpeg(
        resolveFfmpeg(),
        { input: marker, inputOptions: ['-re', '-f', 'lavfi'], output: '-', outputOptions: ['-t', '60', '-f', 'null'] },
        {
          onExit: (error) => {
            exitError = error;
            resolve();
          },
        },
      );
      proc.kill(); // synchronously: nothing is spawned yet
    });
    await exited;
    expect(String(exitError)).toMatch(/SIGKILL|killed/);
    expect(running(marker)).toBe(0);
  });
});

/** The benchmark's media: a 720p30 H.264 + AAC FLV (~2 Mbps, 1 s GOP), generated once with ffmpeg. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlvDemuxer, type FlvTag } from '../../gateway/protocols/flv/demux.js';

/** The repository root (this file runs from dist/test/bench). */
export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const cacheDir = join(root, 'test', 'bench', '.cache');

export function ensureMedia(): string {
  const file = join(cacheDir, '720p30-2mbps.flv');
  if (existsSync(file)) return file;
  mkdirSync(cacheDir, { recursive: true });
  process.stderr.write('generating 720p30 H.264+AAC test media (once)...\n');
  execFileSync('ffmpeg', [
    '-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '30', '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '2M', '-maxrate', '2M', '-bufsize', '2M', '-g', '30', '-keyint_min', '30',
    '-sc_threshold', '0', '-bf', '0', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '96k', '-f', 'flv', file,
  ], { stdio: 'inherit' });
  return file;
}

export function loadTags(file: string): FlvTag[] {
  const tags: FlvTag[] = [];
  new FlvDemuxer((t) => tags.push({ ...t, body: Buffer.from(t.body) })).push(readFileSync(file));
  return tags;
}

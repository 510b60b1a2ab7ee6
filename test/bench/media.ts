/** The benchmark's media: a 720p30 H.264 + AAC FLV (~2 Mbps, 1 s GOP), generated once with ffmpeg. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlvDemuxer, type FlvTag } from '../../gateway/protocols/flv/demux.js';

/** The repository root (this file runs from dist/test/bench). */
export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const cacheDir = join(root, 'test', 'bench', '.cache');

/** `name` in the cache, made once by ffmpeg with `args` (the output file appended). */
function generateOnce(name: string, what: string, args: string[]): string {
  const file = join(cacheDir, name);
  if (existsSync(file)) return file;
  mkdirSync(cacheDir, { recursive: true });
  process.stderr.write(`generating ${what} test media (once)...\n`);
  execFileSync('ffmpeg', ['-hide_banner', '-v', 'error', ...args, file], { stdio: 'inherit' });
  return file;
}

/** 30 s of 720p30 H.264 + 48 kHz AAC at ~2.1 Mbps, 1 s GOP, no B-frames (the fan-out bench). */
export function ensureMedia(): string {
  return generateOnce('720p30-2mbps.flv', '720p30 H.264+AAC', [
    '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '30', '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '2M', '-maxrate', '2M', '-bufsize', '2M', '-g', '30', '-keyint_min', '30',
    '-sc_threshold', '0', '-bf', '0', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '96k', '-f', 'flv',
  ]);
}

/**
 * 20 s of HEVC + G.711 A-law, 1 s GOP (the rendition bench: what browsers cannot play). Default
 * 720p30; `size`/`fps` make the 640x360 and 1080p camera clips of the per-job cost table.
 */
export function ensureHevcPcmaMedia(size = '1280x720', fps = 30): string {
  const name = size === '1280x720' && fps === 30 ? '720p30-hevc-pcma.mkv' : `${size}p${fps}-hevc-pcma.mkv`;
  return generateOnce(name, `${size}@${fps} HEVC + PCMA`, [
    '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${fps}`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=8000',
    '-t', '20', '-c:v', 'libx265', '-preset', 'veryfast', '-x265-params', `log-level=error:keyint=${fps}:min-keyint=${fps}:scenecut=0:bframes=0`,
    '-b:v', size === '1920x1080' ? '4M' : size === '1280x720' ? '2M' : '800k', '-c:a', 'pcm_alaw', '-ar', '8000', '-ac', '1',
  ]);
}

export function loadTags(file: string): FlvTag[] {
  const tags: FlvTag[] = [];
  new FlvDemuxer((t) => tags.push({ ...t, body: Buffer.from(t.body) })).push(readFileSync(file));
  return tags;
}

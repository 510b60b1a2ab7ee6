/**
 * Tone participants and a band-level meter, for the room mix and talkback tests: a participant
 * publishes a small picture and one sine tone; bandLevels measures what a mix carries in narrow
 * bands around BANDS (ffmpeg band-pass + volumedetect).
 */
import { execFile } from 'node:child_process';
import { runFfmpeg, type Publisher } from './ffmpeg.js';

/** A participant: a small test picture and a sine tone, over RTMP. */
export function toneParticipant(url: string, hz: number): Publisher {
  return runFfmpeg([
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=15',
    '-f', 'lavfi', '-i', `sine=frequency=${hz}:sample_rate=48000`,
    '-t', '120', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '15',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', url,
  ]);
}

export const BANDS = [440, 1000, 2500, 3000];

/** Mean level (dB) of `url`'s audio in a narrow band around each of BANDS, over `seconds`. */
export function bandLevels(url: string, seconds = 3): Promise<Record<number, number>> {
  const split = BANDS.map((_, i) => `[s${i}]`).join('');
  const chains = BANDS.map((f, i) => `[s${i}]bandpass=f=${f}:width_type=h:w=40,volumedetect[o${i}]`).join(';');
  const args = ['-hide_banner', '-t', String(seconds), '-i', url, '-filter_complex', `[0:a]asplit=${BANDS.length}${split};${chains}`];
  for (let i = 0; i < BANDS.length; i++) args.push('-map', `[o${i}]`, '-f', 'null', '-');
  return new Promise((resolve, reject) =>
    execFile('ffmpeg', args, { timeout: 30_000 }, (error, _stdout, stderr) => {
      const levels = [...stderr.matchAll(/Parsed_volumedetect_(\d+)[^\n]*mean_volume: (-?[\d.]+) dB/g)].map((m) => ({ index: Number(m[1]), db: Number(m[2]) }));
      if (levels.length !== BANDS.length) return reject(new Error(`no levels (${error?.message ?? ''}): ${stderr.slice(-800)}`));
      levels.sort((a, b) => a.index - b.index);
      resolve(Object.fromEntries(BANDS.map((f, i) => [f, levels[i]!.db])));
    }),
  );
}


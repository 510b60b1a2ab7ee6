/**
 * Recording of one path: a frame reader of the hub feeds the shared Segmenter with a fragment per
 * GOP; each segment becomes one fragmented MP4 file, each fragment is appended (and synced) as
 * soon as the next keyframe closes it. No moov at the end: the file plays up to its last fragment
 * whenever it is cut.
 */
import { mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { StreamgateError } from '../core/errors.js';
import type { Reader } from '../core/reader.js';
import type { Stream } from '../core/stream.js';
import { codecStrings } from '../formats/mp4/codecs.js';
import { FragmentWriter } from '../formats/mp4/fragment.js';
import { initSegment } from '../formats/mp4/init.js';
import { type Part, type SegmentStart, Segmenter } from '../formats/segmenter.js';
import { readFrames } from '../formats/segmenter-reader.js';
import type { ResolvedRule } from './config.js';
import { RecordDiskFullError, RecordWriteError } from './errors.js';
import { fileStamp, type RecordingEntry } from './files.js';
import { FileWriter } from './writer.js';

/** What a session needs from the recorder. */
export interface SessionHost {
  readonly dir: string;
  readonly fsync: boolean;
  readonly log: Logger;
  /** Undefined when there is room for `bytes` more; otherwise why not. */
  spaceProblem(bytes: number): string | undefined;
  fileOpened(entry: RecordingEntry): void;
  /** Bytes were queued for a file (they count against the quota at once). */
  bytesAdded(bytes: number): void;
  fileClosed(entry: RecordingEntry): void;
  sessionStopped(session: RecordingSession): void;
}

export type SessionState = 'waiting' | 'recording' | 'stopped';

const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);

export class RecordingSession {
  state: SessionState = 'waiting';
  error: StreamgateError | undefined;
  readonly since = Date.now();
  entry: RecordingEntry | undefined;
  filesWritten = 0;
  private reader: Reader | undefined;
  private writer: FileWriter | undefined;
  private fragments: FragmentWriter | undefined;
  private readonly segmenter: Segmenter;
  private readonly closing: Promise<void>[] = [];
  private onReady: (() => void) | undefined;
  private noTracksLogged = false;
  private fileStartDts = 0;

  constructor(
    readonly stream: Stream,
    readonly rule: ResolvedRule,
    readonly manual: boolean,
    private readonly host: SessionHost,
  ) {
    this.segmenter = new Segmenter({ segmentMs: rule.segmentMs, partMs: 0 }, {
      segmentStart: (s) => this.openFile(s),
      part: (p) => this.writePart(p),
      segmentEnd: () => this.closeFile(),
    });
  }

  get path(): string {
    return this.stream.path;
  }

  get active(): boolean {
    return this.state !== 'stopped';
  }

  /** Starts reading once the stream is ready (its first keyframe). */
  start(): void {
    if (this.stream.ready) {
      this.attach();
      return;
    }
    this.onReady = () => this.attach();
    this.stream.once('ready', this.onReady);
  }

  private attach(): void {
    this.onReady = undefined;
    if (this.state !== 'waiting') return;
    this.state = 'recording';
    this.reader = readFrames(this.stream, 'record', {
      tracks: (t) => {
        if (!t.video && !t.audio && !this.noTracksLogged) {
          this.noTracksLogged = true;
          this.host.log.warn({ path: this.path }, `nothing to record: ${t.audioOmitted ?? 'no track'}`);
        }
        this.segmenter.setTracks({ video: t.video, audio: t.audio });
      },
      frame: (f) => this.segmenter.push(f),
      closed: () => void this.stop(),
    });
  }

  private openFile(s: SegmentStart): void {
    if (this.state !== 'recording') return;
    const problem = this.host.spaceProblem(0);
    if (problem) return this.fail(new RecordDiskFullError(this.path, problem));
    const dir = join(this.host.dir, ...this.path.split('/'));
    const stamp = fileStamp(s.wallClock);
    let name = `${stamp}.mp4`;
    try {
      mkdirSync(dir, { recursive: true });
      for (let i = 1; existsSync(join(dir, name)); i++) name = `${stamp}-${i}.mp4`;
    } catch (error) {
      return this.failIo(error as NodeJS.ErrnoException);
    }
    let init: Buffer;
    try {
      init = initSegment(s.tracks);
    } catch (error) {
      return this.fail(new RecordWriteError(this.path, (error as Error).message));
    }
    const file = join(dir, name);
    const entry: RecordingEntry = {
      id: `${this.path}/${name}`,
      path: this.path,
      file,
      start: s.wallClock,
      durationMs: 0,
      size: 0,
      codecs: codecStrings(s.tracks),
      recording: true,
    };
    this.entry = entry;
    this.fragments = new FragmentWriter(s.tracks, s.startDts);
    this.fileStartDts = s.startDts;
    this.writer = new FileWriter(file, this.host.fsync, (error) => this.failIo(error));
    this.host.fileOpened(entry);
    this.append([init], init.length);
  }

  private append(chunks: readonly Buffer[], bytes: number): void {
    const problem = this.host.spaceProblem(bytes);
    if (problem) return this.fail(new RecordDiskFullError(this.path, problem));
    this.entry!.size += bytes;
    this.host.bytesAdded(bytes);
    this.writer!.append(chunks, bytes);
  }

  private writePart(p: Part): void {
    if (this.state !== 'recording' || !this.fragments || !this.entry) return;
    const fragment = this.fragments.write(p.frames, p.endDts);
    this.append(fragment.chunks, fragment.byteLength);
    // The file's span on the video timeline (audio-only: the audio's), so files index back to back.
    if (this.state === 'recording') this.entry.durationMs = Math.round(p.endDts - this.fileStartDts);
  }

  private closeFile(): void {
    const writer = this.writer;
    const entry = this.entry;
    this.writer = undefined;
    this.fragments = undefined;
    if (!writer || !entry) return;
    this.filesWritten++;
    this.closing.push(
      writer.close().then(() => {
        entry.recording = false;
        if (writer.goodBytes !== entry.size) {
          this.host.bytesAdded(writer.goodBytes - entry.size);
          entry.size = writer.goodBytes;
        }
        this.host.fileClosed(entry);
      }, (error: unknown) => this.host.log.error({ path: this.path, err: error }, 'recording: closing a file failed')),
    );
  }

  private failIo(error: NodeJS.ErrnoException): void {
    const detail = `${error.code ?? 'error'}: ${error.message}`;
    this.fail(DISK_FULL_CODES.has(error.code ?? '') ? new RecordDiskFullError(this.path, `the disk is full (${detail})`) : new RecordWriteError(this.path, detail));
  }

  private fail(error: StreamgateError): void {
    if (this.state === 'stopped' && this.error) return;
    this.error = error;
    this.host.log.error({ path: this.path, code: error.code }, error.message);
    this.state = 'stopped';
    this.reader?.close();
    this.closeFile();
    this.host.sessionStopped(this);
  }

  /** Ends the recording: the open part and file are written out. Idempotent. */
  async stop(): Promise<void> {
    if (this.onReady) {
      this.stream.off('ready', this.onReady);
      this.onReady = undefined;
    }
    if (this.state !== 'stopped') {
      const wasRecording = this.state === 'recording';
      if (wasRecording) this.segmenter.finish();
      this.state = 'stopped';
      this.reader?.close();
      this.closeFile();
      this.host.sessionStopped(this);
    }
    await Promise.all(this.closing);
  }
}

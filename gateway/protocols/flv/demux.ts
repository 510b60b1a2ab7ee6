/**
 * A streaming FLV demuxer: `push(chunk)` accepts bytes split anywhere and calls `onTag` for each
 * complete tag. Bounded: a tag larger than maxTagSize or a broken PreviousTagSize throws.
 * Used by tests and tools to read our own output (ffmpeg 5.1 cannot read Enhanced FLV).
 */
import { ProtocolError } from '../../core/errors.js';

export interface FlvTag {
  readonly type: number;
  readonly timestamp: number;
  readonly body: Buffer;
}

export interface FlvFileHeader {
  readonly hasAudio: boolean;
  readonly hasVideo: boolean;
}

export class FlvDemuxer {
  header: FlvFileHeader | undefined;
  private buffer: Buffer = Buffer.alloc(0);

  constructor(
    private readonly onTag: (tag: FlvTag) => void,
    private readonly maxTagSize = 16 * 1024 * 1024,
  ) {}

  /** Appends bytes and emits every complete tag; returns the number of tags emitted. */
  push(chunk: Buffer): number {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let pos = 0;
    let count = 0;
    const buf = this.buffer;
    if (!this.header) {
      if (buf.length < 13) return 0;
      if (buf.toString('latin1', 0, 3) !== 'FLV') throw new ProtocolError('flv', 'missing FLV signature');
      const headerSize = buf.readUInt32BE(5);
      if (headerSize < 9 || headerSize > 64) throw new ProtocolError('flv', `bad FLV header size ${headerSize}`);
      if (buf.length < headerSize + 4) return 0;
      this.header = { hasAudio: (buf[4]! & 4) !== 0, hasVideo: (buf[4]! & 1) !== 0 };
      pos = headerSize + 4;
    }
    while (buf.length - pos >= 11) {
      const size = buf.readUIntBE(pos + 1, 3);
      if (size > this.maxTagSize) throw new ProtocolError('flv', `tag of ${size} bytes exceeds ${this.maxTagSize}`);
      if (buf.length - pos < 11 + size + 4) break;
      const timestamp = (buf.readUIntBE(pos + 4, 3) | (buf[pos + 7]! << 24)) >>> 0;
      const prev = buf.readUInt32BE(pos + 11 + size);
      if (prev !== size + 11) throw new ProtocolError('flv', `PreviousTagSize ${prev} does not match tag size ${size + 11}`);
      const type = buf[pos]! & 0x1f;
      this.onTag({ type, timestamp, body: buf.subarray(pos + 11, pos + 11 + size) });
      pos += 11 + size + 4;
      count++;
    }
    this.buffer = pos === buf.length ? Buffer.alloc(0) : buf.subarray(pos);
    return count;
  }
}

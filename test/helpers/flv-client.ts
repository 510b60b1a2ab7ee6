import { get as httpGet, type IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { FlvDemuxer, type FlvFileHeader, type FlvTag } from '../../gateway/protocols/flv/demux.js';

export interface FlvCapture {
  header: () => FlvFileHeader | undefined;
  tags: FlvTag[];
  /** Raw bytes received, for ffprobe. */
  bytes: () => Buffer;
  status: Promise<number>;
  ended: Promise<void>;
  close(): void;
}

/** Reads an HTTP-FLV or WS-FLV URL, demuxing tags as they arrive. */
export function readFlv(url: string): FlvCapture {
  const tags: FlvTag[] = [];
  const chunks: Buffer[] = [];
  const demux = new FlvDemuxer((tag) => tags.push({ ...tag, body: Buffer.from(tag.body) }));
  const onData = (d: Buffer) => {
    chunks.push(d);
    demux.push(d);
  };
  let close: () => void;
  let status: Promise<number>;
  let ended: Promise<void>;
  if (url.startsWith('ws')) {
    const ws = new WebSocket(url);
    status = new Promise((resolve) => {
      ws.on('open', () => resolve(101));
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => resolve(0));
    });
    ended = new Promise((resolve) => ws.on('close', () => resolve()));
    ws.on('message', (d: Buffer) => onData(d));
    close = () => ws.terminate();
  } else {
    let res: IncomingMessage | undefined;
    const req = httpGet(url);
    status = new Promise((resolve) => {
      req.on('response', (r) => {
        res = r;
        resolve(r.statusCode ?? 0);
        r.on('data', onData);
      });
      req.on('error', () => resolve(0));
    });
    ended = new Promise((resolve) => {
      req.on('close', () => resolve());
      req.on('response', (r) => r.on('end', () => resolve()));
    });
    close = () => {
      res?.destroy();
      req.destroy();
    };
  }
  return { header: () => demux.header, tags, bytes: () => Buffer.concat(chunks), status, ended, close: () => close() };
}

export function videoTags(tags: FlvTag[]): FlvTag[] {
  return tags.filter((t) => t.type === 9);
}

/** True when the tag is a video keyframe carrying coded data (not a sequence header). */
export function isKeyframeTag(tag: FlvTag): boolean {
  if (tag.type !== 9) return false;
  const b0 = tag.body[0]!;
  if (b0 & 0x80) return ((b0 >> 4) & 7) === 1 && ((b0 & 0x0f) === 1 || (b0 & 0x0f) === 3);
  return b0 >> 4 === 1 && tag.body[1] === 1;
}

export function isSequenceHeaderTag(tag: FlvTag): boolean {
  const b0 = tag.body[0]!;
  if (tag.type === 9) return b0 & 0x80 ? (b0 & 0x0f) === 0 : tag.body[1] === 0;
  if (tag.type === 8) return b0 >> 4 === 10 && tag.body[1] === 0;
  return false;
}

/** The gateway's `GET /api/v1/streams` entry (gateway/api/streams.ts). */
export interface StreamEntry {
  path: string;
  app: string;
  name: string;
  state: 'publishing' | 'waiting' | 'ended' | string;
  ready: boolean;
  publisher: { protocol: string; remoteAddress: string; since: string } | null;
  video: { codec: string; width: number; height: number; fps: number } | null;
  audio: { codec: string; sampleRate: number; channels: number; note?: string } | null;
  readers: { count: number; [protocol: string]: number };
  bitrateKbps: { in: number; out: number };
  droppedFrames: number;
  gopCache?: { frames: number; bytes: number };
  createdAt?: string;
  publishCount?: number;
  /** The FLV URL (path) a browser should play: the stream's own, or its browser-safe rendition (transcode). */
  browserUrl?: string;
}

export interface StreamList {
  streams: StreamEntry[];
}

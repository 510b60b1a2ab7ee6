/** The gateway's `GET /api/v1/streams` entry (gateway/api/streams.ts). */
export interface StreamEntry {
  path: string;
  app: string;
  name: string;
  state: 'publishing' | 'waiting' | 'ended' | string;
  ready: boolean;
  publisher: { protocol: string; remoteAddress: string; since: string } | null;
  video: { codec: string; width: number; height: number; fps: number } | null;
  audio: { codec: string; sampleRate: number; channels: number; note?: string; notCarriedBy?: string[] } | null;
  readers: { count: number; [protocol: string]: number };
  bitrateKbps: { in: number; out: number };
  droppedFrames: number;
  gopCache?: { frames: number; bytes: number };
  createdAt?: string;
  publishCount?: number;
  /** The FLV URL (path) a browser should play: the stream's own, or its browser-safe rendition (transcode). */
  browserUrl?: string;
  /** The browser-safe renditions the gateway offers (transcode), or the config line that would enable one. */
  renditions?: {
    browser: RenditionOffer | null;
    tile: RenditionOffer | null;
    /** Video copied, Opus made AAC: offered when the source's audio is Opus (a WebRTC publisher). */
    aac?: RenditionOffer;
    /** Video copied, AAC or G.711 made Opus: offered for WebRTC readers. */
    opus?: RenditionOffer;
    enable?: string;
  };
}

/** An on-demand rendition of a stream and the codecs it carries (API names; null: no such track). */
export interface RenditionOffer {
  path: string;
  profile: string;
  video: string | null;
  audio: string | null;
}

export interface StreamList {
  streams: StreamEntry[];
}

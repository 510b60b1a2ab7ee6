/**
 * The admin console's calls beyond streams: server ports, camera pulls (sources), recordings and
 * rendition (transcode) jobs. The JSON types mirror gateway/gateway.ts (`/api/v1/server`),
 * gateway/sources/source.ts (`SourceInfo`), gateway/record/recorder.ts and transcode/job.ts
 * (`JobInfo`). Every failure is an `ApiError` carrying the gateway's stable error code.
 */
import { encodePath } from './urls.js';

/** `{error:{code,message}}` from the gateway, or a transport failure (code `SG_ERR_NETWORK`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ServerPorts {
  http: number;
  rtmp?: number;
  rtsp?: number;
  https?: number;
  rtmps?: number;
}

export interface ServerInfo {
  name: string;
  startedAt: string;
  ports: ServerPorts;
}

export type SourceState = 'idle' | 'connecting' | 'running' | 'retrying' | 'stopped';

export interface SourceInfo {
  path: string;
  /** The camera URL with its password masked. */
  url: string;
  onDemand: boolean;
  transport: 'tcp' | 'udp';
  state: SourceState | string;
  lastError: string | null | undefined;
  reconnects: number;
  connectedSince: string | null;
  readers: number;
  packets: number;
  lostPackets: number;
}

export interface NewSource {
  path: string;
  url: string;
  onDemand: boolean;
  /** Left out: the gateway's `rtsp.pull.transport`. */
  transport?: 'tcp' | 'udp';
}

export interface RecordingEntry {
  id: string;
  path: string;
  start: string;
  end: string;
  durationMs: number;
  size: number;
  codecs: string[];
  /** Still being written. */
  recording: boolean;
  /** Server-relative download URL (`/api/v1/recordings/...`), range requests allowed. */
  url: string;
}

export interface RecordingStatus {
  path: string;
  recording: boolean;
  state: 'idle' | 'waiting' | 'recording' | 'stopped' | string;
  manual: boolean;
  rule: boolean;
  since: string | null;
  file: string | null;
  error: { code: string; message: string } | null;
}

export interface RecordingList {
  recordings: RecordingEntry[];
  sessions: RecordingStatus[];
}

export interface RenditionJob {
  path: string;
  source: string;
  profile: string;
  state: string;
  pid: number | null;
  startedAt: string;
  runningSince: string | null;
  restarts: number;
  lastError: string | null;
  frames: number;
  fps: number;
  speed: number;
  cpuSeconds: number | null;
  cpuPercent: number | null;
  /** The newest lines ffmpeg wrote to stderr. */
  stderr: string[];
}

/** Talks to one gateway (`server` = its origin) with an optional access token. */
export class AdminApi {
  constructor(
    readonly server: string,
    readonly token?: string,
    private readonly timeoutMs = 5000,
  ) {}

  /** `pathAndQuery` on the gateway, with the token added to the query. */
  url(pathAndQuery: string): string {
    const url = new URL(pathAndQuery, this.server);
    if (this.token) url.searchParams.set('token', this.token);
    return url.toString();
  }

  /** The JSON answer; `undefined` on 404 when `missingOk`; otherwise non-2xx throws an ApiError. */
  private async call<T>(method: string, pathAndQuery: string, body?: unknown, missingOk = false): Promise<T | undefined> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.timeoutMs);
    let res: Response;
    try {
      res = await fetch(this.url(pathAndQuery), {
        method,
        cache: 'no-store',
        signal: abort.signal,
        ...(body === undefined ? {} : { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new ApiError(0, 'SG_ERR_NETWORK', `${method} ${pathAndQuery.split('?')[0]} failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      clearTimeout(timer);
    }
    if (res.status === 404 && missingOk) return undefined;
    if (!res.ok) {
      let code = `HTTP_${res.status}`;
      let message = `${method} ${pathAndQuery.split('?')[0]} answered ${res.status}`;
      try {
        const e = ((await res.json()) as { error?: { code?: unknown; message?: unknown } }).error;
        if (typeof e?.code === 'string') code = e.code;
        if (typeof e?.message === 'string') message = e.message;
      } catch {
        /* not JSON */
      }
      throw new ApiError(res.status, code, message);
    }
    if (res.status === 204) return undefined;
    return (await res.json()) as T;
  }

  /** `GET /api/v1/server`: the listeners' ports. */
  async serverInfo(): Promise<ServerInfo> {
    return (await this.call<ServerInfo>('GET', '/api/v1/server'))!;
  }

  /** `GET /api/v1/sources`; `undefined` when the gateway has no RTSP server (404). */
  async sources(): Promise<SourceInfo[] | undefined> {
    return (await this.call<{ sources: SourceInfo[] }>('GET', '/api/v1/sources', undefined, true))?.sources;
  }

  async addSource(source: NewSource): Promise<SourceInfo> {
    return (await this.call<SourceInfo>('POST', '/api/v1/sources', source))!;
  }

  async removeSource(path: string): Promise<void> {
    await this.call('DELETE', `/api/v1/sources/${encodePath(path)}`);
  }

  /** `GET /api/v1/recordings?path=&from=&to=` (times as ISO 8601 or Unix ms). */
  async recordings(filter: { path?: string; from?: string; to?: string } = {}): Promise<RecordingList> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filter)) if (v) q.set(k, v);
    const query = q.toString();
    return (await this.call<RecordingList>('GET', `/api/v1/recordings${query ? `?${query}` : ''}`))!;
  }

  /** Starts recording a stream (now if it is published, else when it is). */
  async startRecording(path: string): Promise<RecordingStatus> {
    return (await this.call<RecordingStatus>('POST', `/api/v1/streams/${encodePath(path)}/record`))!;
  }

  async stopRecording(path: string): Promise<void> {
    await this.call('DELETE', `/api/v1/streams/${encodePath(path)}/record`);
  }

  /** `GET /api/v1/renditions`; `undefined` when the gateway does not serve it (404). */
  async renditions(): Promise<RenditionJob[] | undefined> {
    return (await this.call<{ jobs: RenditionJob[] }>('GET', '/api/v1/renditions', undefined, true))?.jobs;
  }
}

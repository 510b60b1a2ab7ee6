/**
 * A small rooms client for tests and the benchmark: records every frame (text frames parsed,
 * binary frames as Buffers) and waits for frames by predicate.
 */
import WebSocket from 'ws';

export type Frame = Record<string, any> & { type: string };

export interface Closed {
  code: number;
  reason: string;
}

export class RoomClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<Closed>;
  private waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const buf = data as Buffer;
      this.frames.push(isBinary ? { type: 'binary', data: Buffer.from(buf) } : (JSON.parse(buf.toString()) as Frame));
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.wake();
      });
    });
    ws.on('error', () => {});
  }

  /** Connects and waits for the first frame (`welcome`, or the `error` of a refused join). */
  static async connect(base: string, room: string, name: string | undefined, query: Record<string, string> = {}, maxPayload?: number): Promise<RoomClient> {
    const q = new URLSearchParams(query);
    if (name !== undefined) q.set('name', name);
    const ws = new WebSocket(`${base}/api/v1/rooms/${room}/ws?${q}`, maxPayload ? { maxPayload } : {});
    const client = new RoomClient(ws);
    await client.waitFor(() => client.frames.length > 0 || ws.readyState === WebSocket.CLOSED, `first frame for ${name}`);
    return client;
  }

  get welcome(): Frame {
    return this.frames.find((f) => f.type === 'welcome')!;
  }

  get id(): number {
    return this.welcome.you.id;
  }

  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  of(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  /** Resolves once `done()` holds (checked on every frame and on close), or rejects after `timeoutMs`. */
  async waitFor(done: () => boolean, what = 'condition', timeoutMs = 10_000): Promise<void> {
    if (done()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(this.frames.slice(-5)).slice(0, 500)}`));
      }, timeoutMs);
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  /** Waits for a frame of `type` matching `match`, returning it. */
  async next(type: string, match: (f: Frame) => boolean = () => true, timeoutMs?: number): Promise<Frame> {
    let found: Frame | undefined;
    await this.waitFor(() => (found = this.frames.find((f) => f.type === type && match(f))) !== undefined, `a ${type} frame`, timeoutMs);
    return found!;
  }

  async close(): Promise<Closed> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
    return this.closed;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

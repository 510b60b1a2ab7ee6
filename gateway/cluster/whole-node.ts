/**
 * The API for the whole box with `cluster.workers` > 1. Node's cluster module hands each HTTP
 * connection to one worker, but an operator asks about the node: the stream with all its readers,
 * a kick that ends the publisher wherever it is, every WebRTC session. One mechanism answers them
 * all: the worker that got the request has the primary run it on the workers it concerns (each
 * replays it on its own private loopback listener, marked as already admitted), then merges the
 * answers by the route's rule:
 *
 *   all    every worker answers; lists are concatenated (items tagged with `worker`), a stream
 *          entry is merged (the owner's, readers added up, relays not counted), a change
 *          (DELETE, PATCH) succeeds if it succeeded on a worker
 *   owner  the worker that publishes the path (recording control), else the one asked
 *   first  worker 0, where the camera sources run (add, show, remove a source)
 *
 * Routes not in the table (player pages, media, /api/v1/server, /api/v1/cluster, rooms: their own
 * IPC bus) answer per worker as before. `GET /api/v1/streams` and `/metrics` have their own
 * aggregation (workers.ts). `?local=1` on any of these asks only the worker that got it.
 */
import { timingSafeEqual } from 'node:crypto';
import { type IncomingMessage, request as httpRequest } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { InvalidRequestError } from '../core/errors.js';
import { mergeStreamEntries } from './workers.js';

/** Which workers run a request. */
export type ApiTarget = { readonly kind: 'all' } | { readonly kind: 'first' } | { readonly kind: 'owner'; readonly path: string };

/** A request replayed on a worker. */
export interface ApiRequest {
  readonly method: string;
  /** Path and query, as received. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** One worker's answer. */
export interface ApiPart {
  readonly worker: number;
  readonly status: number;
  readonly type: string;
  readonly body: string;
}

export interface ApiAnswer {
  readonly status: number;
  readonly type: string;
  readonly body: string;
}

type Merge = (parts: readonly ApiPart[]) => ApiAnswer;

export interface WholeNodeRoute {
  readonly target: ApiTarget;
  readonly merge: Merge;
}

/** The header that marks a replayed request (its value: the box's relay secret). */
export const REPLAY_HEADER = 'x-streamgate-replay';

const ok = (p: ApiPart) => p.status >= 200 && p.status < 300;
const isJson = (p: ApiPart) => p.type.includes('json');

function parse(p: ApiPart): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(p.body) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function json(status: number, value: unknown): ApiAnswer {
  return { status, type: 'application/json; charset=utf-8', body: JSON.stringify(value) };
}

/** A refusal when nobody succeeded: a real error rather than "not here" (404) when a worker had one. */
function failure(parts: readonly ApiPart[]): ApiAnswer {
  const p = parts.find((x) => x.status !== 404) ?? parts[0];
  if (!p) return json(503, { error: { code: 'SG_ERR_INTERNAL', message: 'no worker answered' } });
  return { status: p.status, type: p.type, body: p.body };
}

/** One worker's answer (owner, first): as it is. */
const single: Merge = (parts) => {
  const p = parts[0];
  return p ? { status: p.status, type: p.type, body: p.body } : failure(parts);
};

/** A change: done if a worker did it (the publisher's worker ends the stream, the others end their relays). */
const anySuccess: Merge = (parts) => {
  const p = parts.find(ok);
  return p ? { status: p.status, type: p.type, body: p.body } : failure(parts);
};

/** Lists: arrays concatenated (objects tagged with their worker, duplicates by `id` once), flags or-ed. */
const lists: Merge = (parts) => {
  const good = parts.filter((p) => ok(p) && isJson(p));
  if (good.length === 0) return failure(parts);
  const merged: Record<string, unknown> = {};
  const seen = new Set<string>();
  for (const part of [...good].sort((a, b) => a.worker - b.worker)) {
    for (const [key, value] of Object.entries(parse(part) ?? {})) {
      if (Array.isArray(value)) {
        const into = (merged[key] as unknown[] | undefined) ?? [];
        for (const item of value) {
          if (typeof item === 'object' && item !== null && !Array.isArray(item)) {
            const id = (item as { id?: unknown }).id;
            if (typeof id === 'string') {
              if (seen.has(`${key}\n${id}`)) continue;
              seen.add(`${key}\n${id}`);
            }
            into.push({ worker: part.worker, ...(item as object) });
          } else into.push(item);
        }
        merged[key] = into;
      } else if (typeof value === 'boolean') merged[key] = merged[key] === true || value;
      else if (!(key in merged)) merged[key] = value;
    }
  }
  return json(200, merged);
};

/** A stream entry: the owner's, with every worker's readers (readerList entries tagged with their worker, the loopback relay pulls left out). */
const streamEntry: Merge = (parts) => {
  const good = parts.filter((p) => ok(p) && isJson(p));
  if (good.length === 0) return failure(parts);
  const entries = good.map((p) => ({ ...parse(p), worker: p.worker }) as Record<string, any>);
  const merged = mergeStreamEntries(entries.map((e) => [e]))[0]!;
  const readerList = entries.flatMap((e) => ((e.readerList ?? []) as { relay?: boolean }[]).filter((r) => !r.relay).map((r) => ({ ...r, worker: e.worker })));
  const { worker: _worker, ...entry } = merged;
  return json(200, { ...entry, readerList });
};

function decoded(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

const ALL = { kind: 'all' } as const;
const FIRST = { kind: 'first' } as const;
const LISTS = new Set(['/api/v1/webrtc/sessions', '/api/v1/srt/connections', '/api/v1/recordings', '/api/v1/renditions', '/api/v1/sources']);

/** How `method pathname` (pathname still percent-encoded) is answered for the whole box; undefined: by the worker asked. */
export function wholeNodeRoute(method: string, pathname: string): WholeNodeRoute | undefined {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  if (method === 'GET' && LISTS.has(path)) return { target: ALL, merge: lists };
  if (path === '/api/v1/sources' || path.startsWith('/api/v1/sources/')) return { target: FIRST, merge: single };
  if (path.startsWith('/api/v1/renditions/') && ['GET', 'PATCH', 'DELETE'].includes(method)) return { target: ALL, merge: anySuccess };
  const record = /^\/api\/v1\/streams\/(.+)\/record$/.exec(path);
  if (record) {
    const stream = decoded(record[1]!);
    return stream === undefined ? undefined : { target: { kind: 'owner', path: stream }, merge: single };
  }
  if (path.startsWith('/api/v1/streams/') && !path.toLowerCase().endsWith('/snapshot.jpg')) {
    if (method === 'GET') return { target: ALL, merge: streamEntry };
    if (method === 'DELETE') return { target: ALL, merge: anySuccess };
  }
  return undefined;
}

/** Request headers a replay keeps (the credential, the body's type). */
const KEPT_HEADERS = ['authorization', 'cookie', 'content-type', 'accept'];
const MAX_BODY = 64 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new InvalidRequestError(`request body over ${MAX_BODY} bytes`, { status: 413 }));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** True for a request another worker replays here (already admitted by that worker). */
export function isReplay(req: IncomingMessage, secret: string, privatePort: number): boolean {
  const mark = req.headers[REPLAY_HEADER];
  if (typeof mark !== 'string' || !secret || req.socket.localPort !== privatePort) return false;
  const given = Buffer.from(mark);
  const wanted = Buffer.from(secret);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/**
 * Mounted after the API's access checks: a request of the table is asked of the workers it
 * concerns and answered merged. Replays and `?local` pass through to this worker's routes.
 */
export function wholeNodeMiddleware(options: {
  readonly ask: (request: ApiRequest, target: ApiTarget) => Promise<readonly (ApiPart | null)[]>;
  readonly isReplay: (req: Request) => boolean;
}): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.query.local !== undefined || options.isReplay(req)) return next();
    const route = wholeNodeRoute(req.method, req.path);
    if (!route) return next();
    const headers: Record<string, string> = {};
    for (const name of KEPT_HEADERS) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const body = req.method === 'GET' || req.method === 'HEAD' || req.method === 'DELETE' ? Promise.resolve(undefined) : readBody(req);
    body
      .then((text) => options.ask({ method: req.method, url: req.originalUrl, headers, ...(text ? { body: text } : {}) }, route.target))
      .then((parts) => {
        const answer = route.merge(parts.filter((p): p is ApiPart => p !== null));
        res.status(answer.status);
        if (answer.type) res.type(answer.type);
        res.send(answer.body);
      }, next);
  };
}

/** Runs a request on this worker's own private listener, as a replay. */
export function replay(worker: number, privatePort: number, secret: string, request: ApiRequest): Promise<ApiPart> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: privatePort, method: request.method, path: request.url, agent: false, timeout: 2500, headers: { ...request.headers, [REPLAY_HEADER]: secret } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ worker, status: res.statusCode ?? 500, type: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('the worker did not answer in time')));
    req.on('error', reject);
    req.end(request.body);
  });
}

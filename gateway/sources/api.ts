/** `/api/v1/sources`: list, add, show and remove camera pulls (gateway/sources). */
import express, { type Request, type Router } from 'express';
import type { Logger } from 'pino';
import { InvalidPathError, NotFoundError, StreamgateError } from '../core/errors.js';
import { isValidPath } from '../core/path.js';
import { sendError } from '../http/errors.js';
import type { SourceManager } from './manager.js';

/** `changed`: a source was added (true) or removed through the API. */
export function sourcesRouter(sources: SourceManager, log: Logger, changed: (path: string, added: boolean) => void = () => {}): Router {
  const router = express.Router();
  const json = express.json({ limit: '16kb' });
  const pathOf = (req: Request) => {
    const parts = (req.params as Record<string, string[] | string>).path;
    return Array.isArray(parts) ? parts.join('/') : String(parts ?? '');
  };
  router.get('/api/v1/sources', (_req, res) => {
    res.json({ sources: sources.list().map((s) => s.info()) });
  });
  router.post('/api/v1/sources', json, (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const path = typeof body.path === 'string' ? body.path : '';
    try {
      if (!isValidPath(path)) throw new InvalidPathError(path);
      const { path: _omit, ...rest } = body;
      const source = sources.add(path, sources.parse(rest) as { url: string; onDemand: boolean });
      log.info({ source: path }, 'source added through the API');
      changed(path, true);
      res.status(201).json(source.info());
    } catch (e) {
      if (e instanceof StreamgateError) return sendError(res, e);
      throw e;
    }
  });
  router.get('/api/v1/sources/*path', (req, res) => {
    const source = sources.get(pathOf(req));
    if (!source) return sendError(res, new NotFoundError(`no source for ${pathOf(req)}`));
    res.json(source.info());
  });
  router.delete('/api/v1/sources/*path', (req, res) => {
    if (!sources.remove(pathOf(req))) return sendError(res, new NotFoundError(`no source for ${pathOf(req)}`));
    log.info({ source: pathOf(req) }, 'source removed through the API');
    changed(pathOf(req), false);
    res.status(204).end();
  });
  return router;
}

/**
 * `GET /api/v1/renditions`, `GET/PATCH/DELETE /api/v1/renditions/{app}/{name}_{profile}` and
 * `GET /api/v1/streams/{app}/{name}/snapshot.jpg?width=`. Mounted before the streams router.
 */
import express, { type Request, type Response, Router } from 'express';
import { InvalidRequestError } from '../gateway/core/errors.js';
import { sendError } from '../gateway/http/errors.js';
import { isValidPath } from '../gateway/core/path.js';
import { type AudioProfile, profileSchema, type VideoProfile } from './config.js';
import { mergeProfile } from './profiles.js';
import type { Renditions } from './renditions.js';
import type { Snapshots } from './snapshots.js';

function pathParam(req: Request): string {
  const parts = (req.params as Record<string, string[] | string>).path;
  return Array.isArray(parts) ? parts.join('/') : String(parts ?? '');
}

function noJob(res: Response, path: string): void {
  res.status(404).json({ error: { code: 'SG_ERR_STREAM_NOT_FOUND', message: `no rendition job runs for ${path}; play it to start one` } });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function transcodeRouter(renditions: Renditions, snapshots: Snapshots, maxWidth: number): Router {
  const router = Router();
  router.get('/api/v1/renditions', (_req, res) => {
    res.json({ jobs: renditions.jobs().map((j) => j.info()) });
  });
  router.get('/api/v1/renditions/*path', (req, res, next) => {
    const path = pathParam(req);
    if (!isValidPath(path)) return next();
    const job = renditions.job(path);
    if (!job) return noJob(res, path);
    res.json(job.info());
  });
  router.patch('/api/v1/renditions/*path', express.json({ limit: '8kb' }), async (req, res, next) => {
    const path = pathParam(req);
    if (!isValidPath(path)) return next();
    const job = renditions.job(path);
    if (!job) return noJob(res, path);
    const body: unknown = req.body ?? {};
    // Only `video` and `audio` objects; their fields are merged over the job's settings and the
    // result validated as a whole (unknown keys and bad values answer 400).
    const shapeOk = isObject(body) && Object.entries(body).every(([k, v]) => (k === 'video' || k === 'audio') && isObject(v));
    const merged = profileSchema.safeParse(
      shapeOk ? mergeProfile(job.profile, body as { video?: Partial<VideoProfile>; audio?: Partial<AudioProfile> }) : { body },
    );
    if (!merged.success) {
      const message = merged.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
      sendError(res, new InvalidRequestError(`invalid rendition settings: ${message}`));
      return;
    }
    try {
      await job.update(merged.data);
      res.json(job.info());
    } catch (error) {
      sendError(res, error);
    }
  });
  router.delete('/api/v1/renditions/*path', (req, res, next) => {
    const path = pathParam(req);
    if (!isValidPath(path)) return next();
    if (!renditions.stop(path, 'stopped through the API')) return noJob(res, path);
    res.status(204).end();
  });
  router.get('/api/v1/streams/*path/snapshot.jpg', async (req, res, next) => {
    const path = pathParam(req);
    if (!isValidPath(path)) return next();
    const widthText = typeof req.query.width === 'string' ? req.query.width : '0';
    const width = Number(widthText);
    if (!/^\d+$/.test(widthText) || width > maxWidth || (width > 0 && width < 16)) {
      sendError(res, new InvalidRequestError(`width must be a whole number of pixels from 16 to ${maxWidth}`));
      return;
    }
    try {
      const { jpeg, cached } = snapshots.get(path, width);
      const bytes = await jpeg;
      res.setHeader('Content-Type', 'image/jpeg');
      res.setHeader('Cache-Control', 'no-cache');
      res.setHeader('X-Snapshot-Cache', cached ? 'hit' : 'miss');
      res.end(bytes);
    } catch (error) {
      sendError(res, error);
    }
  });
  return router;
}

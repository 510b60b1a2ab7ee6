import express, { type Router } from 'express';
import type { Authorizer } from '../auth/index.js';
import { ACTIONS, type Action, createToken } from '../auth/tokens.js';
import { type UrlPorts, parseTtl, tokenUrls } from '../auth/urls.js';
import { ConfigError, InvalidRequestError } from '../core/errors.js';
import { pathPatternProblem } from '../core/path.js';
import { sendError } from '../http/errors.js';

/**
 * `POST /api/v1/tokens {"action":"play","path":"live/cam1","ttl":"1h"}` (admin only, like every
 * API change). New tokens are signed with the live `auth.activeKeyId`; URLs point at `ports()`.
 */
export function tokensRouter(auth: Authorizer, ports: () => UrlPorts): Router {
  const router = express.Router();
  router.post('/api/v1/tokens', express.json({ limit: '4kb' }), (req, res) => {
    const body = (req.body ?? {}) as { action?: unknown; path?: unknown; ttl?: unknown };
    const action = body.action as Action;
    const path = action === 'admin' ? '**' : String(body.path ?? '');
    const bad = (message: string) => sendError(res, new InvalidRequestError(message));
    if (!ACTIONS.includes(action)) return bad(`action must be one of ${ACTIONS.join(', ')}`);
    const problem = action === 'admin' ? undefined : pathPatternProblem(path);
    if (problem) return bad(`invalid path pattern ${problem}`);
    if (Object.keys(auth.signingKeys).length === 0) {
      return sendError(res, new ConfigError('no signing key configured (auth.keys)', { status: 409 }));
    }
    let ttl: number;
    try {
      ttl = parseTtl(String(body.ttl ?? '1h'));
    } catch (error) {
      return bad((error as Error).message);
    }
    const token = createToken(auth.signingKeys, auth.config.activeKeyId, action, path, ttl);
    const host = (req.headers.host ?? 'localhost').replace(/:\d+$/, '');
    res.status(201).json({ token, action, path, expiresInSeconds: ttl, urls: tokenUrls(ports(), host, action, path, token) });
  });
  return router;
}

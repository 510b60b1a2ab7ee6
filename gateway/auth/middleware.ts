/**
 * Express middlewares for the API: who may read and change (adminMiddleware), and who may fetch
 * content served through the API (contentMiddleware). Decisions are the Authorizer's.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { splitQuery } from '../core/path.js';
import { sendError } from '../http/errors.js';
import { peerAddress } from '../net/listen.js';
import { isLoopback, plainIp } from './address.js';
import type { Authorizer } from './authorizer.js';
import { ForbiddenError, UnauthorizedError } from './errors.js';
import type { Refused } from './limiter.js';

/** /api/v1 and /metrics: read-only vs admin roles, loopback-only until credentials exist. */
export function adminMiddleware(auth: Authorizer, log: Logger, refused: Refused = () => {}): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const admin = auth.config.admin; // the live one: SIGHUP may change it
    // The socket's address carries no port: clientIp would cut the last group of an IPv6 address.
    const ip = plainIp(req.socket.remoteAddress ?? '');
    const refuse = (error: UnauthorizedError | ForbiddenError) => {
      refused('api', error.code);
      log.warn({ conn: peerAddress(req.socket), path: req.path, method: req.method }, `admin API refused: ${error.message}`);
      if (error instanceof UnauthorizedError) res.setHeader('WWW-Authenticate', 'Bearer realm="streamgate"');
      sendError(res, error);
    };
    if (!auth.ipAllowed('admin', ip)) return refuse(new ForbiddenError(`address ${ip} may not use the API`));
    const read = req.method === 'GET' || req.method === 'HEAD';
    // Reads that are public anyway pass whatever credential they carry (a player passes its play
    // or room token as `?token=` to every URL, the API included), so it is not checked: checking
    // a Basic password costs a blocking scrypt.
    if (read && (!auth.adminProtected || admin.publicReads)) return next();
    const role = auth.adminRole(req);
    if (role === 'invalid') return refuse(new ForbiddenError('the credential is not valid for the API'));
    if (!auth.adminProtected) {
      if (read || isLoopback(ip)) return next();
      return refuse(new ForbiddenError('changes through the API are allowed from this machine only until auth.admin credentials are configured'));
    }
    if (read && (role === 'read' || role === 'admin')) return next();
    if (role === undefined) return refuse(new UnauthorizedError('an admin credential is required (Authorization: Bearer ... or ?token=)'));
    if (!read && role !== 'admin') return refuse(new ForbiddenError('a read-only credential cannot change anything'));
    next();
  };
}

/**
 * Media served through the API (snapshots, recording downloads, room message history) is
 * content, not metadata, so `publicReads` does not open it. A caller without a read or admin
 * credential needs the path's play (rooms: join) access, exactly as a player would, with
 * `?token=` or `Authorization: Bearer`. Runs after adminMiddleware.
 */
export function contentMiddleware(auth: Authorizer, contentOf: (path: string) => { action: 'play' | 'room'; path: string } | undefined): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const content = contentOf(req.path);
    if (!content) return next();
    // Without publicReads, adminMiddleware has already demanded a read credential.
    if (auth.adminProtected && !auth.config.admin.publicReads) return next();
    const role = auth.adminRole(req, false);
    if (role === 'admin' || role === 'read') return next();
    const header = req.headers.authorization ?? '';
    auth
      .check({
        action: content.action,
        path: content.path,
        protocol: 'api',
        remoteAddress: peerAddress(req.socket),
        query: splitQuery(req.originalUrl).query,
        ...(header.startsWith('Bearer ') ? { credential: header.slice(7).trim() } : {}),
      })
      .then(
        () => next(),
        (error: unknown) => {
          // An API user with HTTP Basic: its scrypt check runs only when play access alone refused.
          const basicRole = header.startsWith('Basic ') ? auth.adminRole(req) : undefined;
          next(basicRole === 'admin' || basicRole === 'read' ? undefined : error);
        },
      );
  };
}

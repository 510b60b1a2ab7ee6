import type { AccessGrant, AccessRequest } from './authorizer.js';

export type { AccessGrant, AccessRequest } from './authorizer.js';
export { Authorizer } from './authorizer.js';
export { ForbiddenError, UnauthorizedError, isAccessRefusal } from './errors.js';
export { clientIp, plainIp } from './address.js';
export { ConnectionLimiter } from './limiter.js';
export { adminMiddleware, contentMiddleware } from './middleware.js';

/** What protocols need from access control (declared once, implemented by Authorizer). */
export interface AccessControl {
  /** Resolves with a grant, or rejects with UnauthorizedError / ForbiddenError. */
  check(req: AccessRequest): Promise<AccessGrant>;
  /** Static secrets usable for RTSP Digest auth on this path (keys mode); empty otherwise. */
  digestSecrets?(action: 'publish' | 'play', path: string): string[];
  /**
   * True when `credential` is a signed token that allows publishing `path`, whatever the path's
   * rule (rooms with `publish: granted` let such a token publish without a host's grant).
   */
  allowsPublish?(path: string, credential: string | undefined): boolean;
  /** Asynchronous notifications (on_unpublish, on_stop); never block media. */
  notify(event: 'on_unpublish' | 'on_stop', req: Pick<AccessRequest, 'path' | 'protocol' | 'remoteAddress' | 'query'>): void;
}

/** Everyone may do everything: for embedders and tests that do not configure auth. */
export const OPEN_ACCESS: AccessControl = {
  check: async () => ({ role: 'viewer', via: 'open' }),
  notify: () => {},
};

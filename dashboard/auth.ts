import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { KamengError } from '../src/errors.ts';
import type { Role, Session, Users } from '../src/users/users.ts';
import { html, type SafeHtml } from './html.ts';

export const SESSION_COOKIE = 'kameng_session';

/** What each action needs. Admin may do everything; a viewer only reads. */
export const PERMISSIONS = {
  fulfillment: ['ops'],
  reconciliation: ['finance'],
  settlement: ['finance'],
} satisfies Record<string, Role[]>;
export type Permission = keyof typeof PERMISSIONS;

export class ForbiddenError extends KamengError {
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
}

export const sessionOf = (res: Response): Session | undefined => res.locals.session as Session | undefined;

export function can(session: Session | undefined, permission: Permission): boolean {
  if (!session) return false;
  return session.user.role === 'admin' || (PERMISSIONS[permission] as Role[]).includes(session.user.role);
}

/** Every page but the login page needs a session; a browser is sent to log in, anything else gets 401. */
export function requireSession(users: Users) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const session = await users.session(req.cookies?.[SESSION_COOKIE]);
    if (session) {
      res.locals.session = session;
      next();
      return;
    }
    if (req.method === 'GET' && req.accepts('html')) {
      res.redirect(`/login?next=${encodeURIComponent(req.originalUrl)}`);
      return;
    }
    res.status(401).json({ error: { code: 'NOT_LOGGED_IN', message: 'log in first' } });
  };
}

/**
 * A state-changing request must carry the session's CSRF token (a hidden form field or the
 * X-CSRF-Token header): another site can make a browser send the cookie, not read the token.
 */
export function requireCsrf(req: Request, res: Response, next: NextFunction): void {
  if (req.method === 'GET' || req.method === 'HEAD') {
    next();
    return;
  }
  const expected = sessionOf(res)?.csrfToken ?? '';
  const given = String((req.body as Record<string, unknown> | undefined)?._csrf ?? req.get('x-csrf-token') ?? '');
  const ok = given.length === expected.length && expected.length > 0 && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
  if (!ok) {
    res.status(403).json({ error: { code: 'CSRF', message: 'missing or wrong CSRF token: reload the page and try again' } });
    return;
  }
  next();
}

export function requirePermission(permission: Permission) {
  return (_req: Request, res: Response, next: NextFunction) => {
    if (can(sessionOf(res), permission)) next();
    else next(new ForbiddenError(`your role (${sessionOf(res)?.user.role}) may not act on ${permission}; ask an admin`));
  };
}

/** The hidden field every form carries. */
export const csrfField = (res: Response): SafeHtml => html`<input type="hidden" name="_csrf" value="${sessionOf(res)?.csrfToken ?? ''}">`;

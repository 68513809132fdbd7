import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { actorOf, ForbiddenError, may, type Actor, type Permission } from '../src/users/actor.ts';
import type { Session, Users } from '../src/users/users.ts';
import { html, type SafeHtml } from './html.ts';

export const SESSION_COOKIE = 'kameng_session';

// What each action needs lives beside the Actor (src/users/actor.ts): the CLI checks the same.
export { ForbiddenError, PERMISSIONS, type Permission } from '../src/users/actor.ts';

export const sessionOf = (res: Response): Session | undefined => res.locals.session as Session | undefined;
/** Who acts in this request: the session's user (only behind requireSession). */
export const actorOfRequest = (res: Response): Actor => actorOf(sessionOf(res)!);

export function can(session: Session | undefined, permission: Permission): boolean {
  return may(session?.user.role, permission);
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

import type { NextFunction, Request, Response } from 'express';

/**
 * The dashboard's pages load scripts and styles only from their own origin (no inline script, no
 * inline style, no `javascript:` URL), post forms only to themselves and are never framed.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join('; ');

/** JSON answers load nothing at all. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'";

/**
 * Headers every answer carries. Pages, exports and API answers hold money figures, so nothing is
 * cached (static assets set their own Cache-Control after this); `X-Powered-By` is taken off
 * whatever app this is mounted in.
 */
export function securityHeaders(csp: string) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    res.removeHeader('X-Powered-By');
    res.setHeader('Content-Security-Policy', csp);
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cache-Control', 'no-store');
    next();
  };
}

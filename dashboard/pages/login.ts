import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import type { AppConfig } from '../../src/config.ts';
import { LoginFailedError, type Users } from '../../src/users/users.ts';
import { SESSION_COOKIE } from '../auth.ts';
import { html } from '../html.ts';
import { langOf, translator } from '../i18n.ts';
import { layout } from '../layout.ts';

/**
 * The login form has no session yet, so its CSRF token is a double-submit cookie: another site can
 * make a browser post the form with the cookie, but cannot read the cookie to fill in the field
 * (which would log the victim into the attacker's account).
 */
const LOGIN_CSRF_COOKIE = 'kameng_login_csrf';

const sameToken = (a: unknown, b: unknown) =>
  typeof a === 'string' && typeof b === 'string' && a.length > 0 && a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** Only a path on this site: a crafted ?next= must not send a user elsewhere after logging in. */
const safeNext = (next: unknown) => (typeof next === 'string' && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/');

export function loginPages(users: Users, config: AppConfig) {
  const secure = config.fulfillment.publicUrl.startsWith('https://');
  const form = (req: Request, res: Response, failed: 'password' | 'csrf' | false) => {
    const lang = langOf(req, res);
    const t = translator(lang);
    // the same token while the cookie lives: a second render of the form (another tab, the browser
    // fetching /favicon.ico through the login redirect) must not invalidate the first
    const kept = req.cookies?.[LOGIN_CSRF_COOKIE];
    const csrf = typeof kept === 'string' && /^[A-Za-z0-9_-]{24}$/.test(kept) ? kept : randomBytes(18).toString('base64url');
    res.cookie(LOGIN_CSRF_COOKIE, csrf, { httpOnly: true, sameSite: 'lax', secure, path: '/login', maxAge: 3600_000 });
    const body = html`<section class="login">
      <h2>${t('login')}</h2>
      ${failed ? html`<p class="error">${t(failed === 'csrf' ? 'loginExpired' : 'loginFailed')}</p>` : ''}
      <form method="post" action="/login">
        <input type="hidden" name="_csrf" value="${csrf}">
        <input type="hidden" name="next" value="${safeNext(req.query.next ?? req.body?.next)}">
        <p><label>${t('username')}<br><input name="username" autocomplete="username" required autofocus></label></p>
        <p><label>${t('password')}<br><input name="password" type="password" autocomplete="current-password" required></label></p>
        <p><button type="submit">${t('login')}</button></p>
      </form></section>`;
    res.status(failed === 'csrf' ? 403 : failed ? 401 : 200).type('html').send(layout({ lang, title: t('login'), active: 'login', body, path: '/login' }).value);
  };
  return {
    show: (req: Request, res: Response) => form(req, res, false),
    submit: async (req: Request, res: Response) => {
      if (!sameToken(req.body?._csrf, req.cookies?.[LOGIN_CSRF_COOKIE])) {
        form(req, res, 'csrf');
        return;
      }
      try {
        const { token } = await users.login(req.body?.username, req.body?.password);
        res.clearCookie(LOGIN_CSRF_COOKIE, { path: '/login' });
        res.cookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'lax', secure, path: '/', maxAge: 12 * 3600_000 });
        res.redirect(303, safeNext(req.body?.next));
      } catch (err) {
        if (err instanceof LoginFailedError) form(req, res, 'password');
        else throw err;
      }
    },
    logout: async (req: Request, res: Response) => {
      await users.logout(req.cookies?.[SESSION_COOKIE]);
      res.clearCookie(SESSION_COOKIE, { path: '/' });
      res.redirect(303, '/login');
    },
  };
}

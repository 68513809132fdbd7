import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import type { AppConfig } from '../../src/config.ts';
import { HashingBusyError, type HashSlots } from '../../src/users/hash-slots.ts';
import { LoginThrottledError, type LoginThrottle } from '../../src/users/login-throttle.ts';
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

export function loginPages(users: Users, config: AppConfig, guard: { throttle: LoginThrottle; hashing: HashSlots }) {
  const secure = config.fulfillment.publicUrl.startsWith('https://');
  const form = (req: Request, res: Response, failed: 'password' | 'csrf' | 'throttled' | 'busy' | false, retryAfterMs = 0, code = 'LOGIN_THROTTLED') => {
    const lang = langOf(req, res);
    const t = translator(lang);
    // the same token while the cookie lives: a second render of the form (another tab, the browser
    // fetching /favicon.ico through the login redirect) must not invalidate the first
    const kept = req.cookies?.[LOGIN_CSRF_COOKIE];
    const csrf = typeof kept === 'string' && /^[A-Za-z0-9_-]{24}$/.test(kept) ? kept : randomBytes(18).toString('base64url');
    res.cookie(LOGIN_CSRF_COOKIE, csrf, { httpOnly: true, sameSite: 'lax', secure, path: '/login', maxAge: 3600_000 });
    const body = html`<section class="login">
      <h2>${t('login')}</h2>
      ${failed === 'throttled' ? html`<p class="error" data-code="${code}">${t('loginThrottled')} ${Math.ceil(retryAfterMs / 1000)}</p>`
        : failed === 'busy' ? html`<p class="error" data-code="LOGIN_BUSY">${t('loginBusy')}</p>`
          : failed ? html`<p class="error">${t(failed === 'csrf' ? 'loginExpired' : 'loginFailed')}</p>` : ''}
      <form method="post" action="/login">
        <input type="hidden" name="_csrf" value="${csrf}">
        <input type="hidden" name="next" value="${safeNext(req.query.next ?? req.body?.next)}">
        <p><label>${t('username')}<br><input name="username" autocomplete="username" required autofocus></label></p>
        <p><label>${t('password')}<br><input name="password" type="password" autocomplete="current-password" required></label></p>
        <p><button type="submit">${t('login')}</button></p>
      </form></section>`;
    if (failed === 'throttled' || failed === 'busy') res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
    res.status(failed === 'csrf' ? 403 : failed === 'throttled' ? 429 : failed === 'busy' ? 503 : failed ? 401 : 200).type('html').send(layout({ lang, title: t('login'), active: 'login', body, path: '/login' }).value);
  };
  return {
    show: (req: Request, res: Response) => form(req, res, false),
    submit: async (req: Request, res: Response) => {
      if (!sameToken(req.body?._csrf, req.cookies?.[LOGIN_CSRF_COOKIE])) {
        form(req, res, 'csrf');
        return;
      }
      const username = String(req.body?.username ?? '');
      const attempt = guard.throttle.attemptOf(username, req.ip ?? req.socket.remoteAddress);
      // a hashing slot first: past the bound, a login is refused at once and counts nothing
      let release: (() => void) | undefined;
      try {
        release = await guard.hashing.enter();
        await guard.throttle.admit(attempt);
        const { token } = await users.login(username, String(req.body?.password ?? ''));
        await guard.throttle.succeeded(attempt);
        res.clearCookie(LOGIN_CSRF_COOKIE, { path: '/login' });
        res.cookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'lax', secure, path: '/', maxAge: 12 * 3600_000 });
        res.redirect(303, safeNext(req.body?.next));
      } catch (err) {
        if (err instanceof LoginFailedError) {
          await guard.throttle.failed(attempt);
          form(req, res, 'password');
        } else if (err instanceof LoginThrottledError) form(req, res, 'throttled', err.retryAfterMs, err.code);
        else if (err instanceof HashingBusyError) form(req, res, 'busy', 1000);
        else throw err;
      } finally {
        release?.();
      }
    },
    logout: async (req: Request, res: Response) => {
      await users.logout(req.cookies?.[SESSION_COOKIE]);
      res.clearCookie(SESSION_COOKIE, { path: '/' });
      res.redirect(303, '/login');
    },
  };
}

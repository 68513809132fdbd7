import type { Request, Response } from 'express';
import type { AppConfig } from '../../src/config.ts';
import { LoginFailedError, type Users } from '../../src/users/users.ts';
import { SESSION_COOKIE } from '../auth.ts';
import { html } from '../html.ts';
import { langOf, translator } from '../i18n.ts';
import { layout } from '../layout.ts';

/** Only a path on this site: a crafted ?next= must not send a user elsewhere after logging in. */
const safeNext = (next: unknown) => (typeof next === 'string' && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/');

export function loginPages(users: Users, config: AppConfig) {
  const form = (req: Request, res: Response, failed: boolean) => {
    const lang = langOf(req, res);
    const t = translator(lang);
    const body = html`<section style="max-width: 360px; margin: 3rem auto">
      <h2>${t('login')}</h2>
      ${failed ? html`<p class="error">${t('loginFailed')}</p>` : ''}
      <form method="post" action="/login">
        <input type="hidden" name="next" value="${safeNext(req.query.next ?? req.body?.next)}">
        <p><label>${t('username')}<br><input name="username" autocomplete="username" required autofocus></label></p>
        <p><label>${t('password')}<br><input name="password" type="password" autocomplete="current-password" required></label></p>
        <p><button type="submit">${t('login')}</button></p>
      </form></section>`;
    res.status(failed ? 401 : 200).type('html').send(layout({ lang, title: t('login'), active: 'login', body, path: '/login' }).value);
  };
  return {
    show: (req: Request, res: Response) => form(req, res, false),
    submit: async (req: Request, res: Response) => {
      try {
        const { token } = await users.login(req.body?.username, req.body?.password);
        res.cookie(SESSION_COOKIE, token, {
          httpOnly: true, sameSite: 'lax', secure: config.fulfillment.publicUrl.startsWith('https://'), path: '/', maxAge: 12 * 3600_000,
        });
        res.redirect(303, safeNext(req.body?.next));
      } catch (err) {
        if (err instanceof LoginFailedError) form(req, res, true);
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

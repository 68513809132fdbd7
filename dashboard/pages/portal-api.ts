import type express from 'express';
import type { Request, Response } from 'express';
import { ValidationError } from '../../src/errors.ts';
import { PortalCallbackSettings } from '../../src/portal/callback-settings.ts';
import { PortalTotp, TotpCodeError } from '../../src/portal/totp.ts';
import { PORTAL_SESSION_HOURS, SECOND_FACTOR_MINUTES, type PortalSession, type ResellerUsers } from '../../src/portal/users.ts';
import type { LoginThrottle } from '../../src/users/login-throttle.ts';
import { LoginThrottledError } from '../../src/users/login-throttle.ts';
import type { DashboardDeps } from '../deps.ts';
import { html, type SafeHtml } from '../html.ts';
import type { Lang, LabelKey } from '../i18n.ts';

type T = (key: LabelKey) => string;

/** What the portal's router lends these pages (dashboard/pages/portal.ts). */
export interface PortalKit {
  deps: DashboardDeps & { resellers: NonNullable<DashboardDeps['resellers']> };
  users: ResellerUsers;
  throttle: LoginThrottle;
  secure: boolean;
  portalCookie: string;
  loginCsrfCookie: string;
  page(req: Request, res: Response, title: LabelKey, active: string, body: (t: T, lang: Lang) => SafeHtml, scripts?: string[], status?: number): void;
  csrfField(res: Response): SafeHtml;
  sameToken(a: unknown, b: unknown): boolean;
  safeNext(next: unknown): string;
}

/** The password step's token while the login waits for the code (path /portal/login, a few minutes). */
export const SECOND_FACTOR_COOKIE = 'kameng_portal_2fa';

/** Every route these pages add: test/portal-api.test.ts has an isolation case for each. */
export const PORTAL_API_ROUTE = /^(GET|POST) \/portal\/(api-settings|security|login\/totp|callbacks\/:id\/resend)(\/|$)/;

const sessionOf = (res: Response): PortalSession => res.locals.portalSession as PortalSession;

/** After a right password of an owner with two-factor on: the code form, not a session. */
export function askSecondFactor(kit: PortalKit, res: Response, token: string, next: string): void {
  res.cookie(SECOND_FACTOR_COOKIE, token, { httpOnly: true, sameSite: 'lax', secure: kit.secure, path: '/portal/login', maxAge: SECOND_FACTOR_MINUTES * 60_000 });
  res.redirect(303, `/portal/login/totp?next=${encodeURIComponent(next)}`);
}

/** The login's second step (before the session check: there is no session yet). Throttled like the password. */
export function mountPortalSecondStep(r: express.Router, kit: PortalKit): void {
  const totp = new PortalTotp(kit.deps.db, kit.deps.resellers, kit.users);
  const codeForm = (req: Request, res: Response, failed: false | 'code' | 'csrf' | 'throttled', retryAfterMs = 0) => {
    const csrf = String(req.cookies?.[kit.loginCsrfCookie] ?? '');
    if (failed === 'throttled') res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
    const status = failed === 'csrf' ? 403 : failed === 'throttled' ? 429 : failed ? 401 : 200;
    kit.page(req, res, 'portal_totpLogin', 'login', (t) => html`<section class="login">
      <h2>${t('portal_totpLogin')}</h2>
      ${failed === 'throttled' ? html`<p class="error" data-code="LOGIN_THROTTLED">${t('portal_loginThrottled')} ${Math.ceil(retryAfterMs / 1000)}</p>`
        : failed ? html`<p class="error" data-code="${failed === 'csrf' ? 'CSRF' : 'TOTP_CODE_WRONG'}">${t(failed === 'csrf' ? 'portal_loginExpired' : 'portal_totpWrong')}</p>` : ''}
      <p>${t('portal_totpLoginNote')}</p>
      <form method="post" action="/portal/login/totp">
        <input type="hidden" name="_csrf" value="${csrf}">
        <input type="hidden" name="next" value="${kit.safeNext(req.query.next ?? req.body?.next)}">
        <p><label>${t('portal_totpCode')}<br><input name="code" id="totp-code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" maxlength="7" required autofocus></label></p>
        <p><button type="submit">${t('portal_login')}</button> <a href="/portal/login">${t('portal_back')}</a></p>
      </form></section>`, undefined, status);
  };
  r.get('/login/totp', async (req, res) => {
    if (!(await totp.pendingUsername(req.cookies?.[SECOND_FACTOR_COOKIE]))) return res.redirect(303, '/portal/login');
    res.setHeader('Cache-Control', 'no-store');
    codeForm(req, res, false);
  });
  r.post('/login/totp', async (req, res) => {
    if (!kit.sameToken(req.body?._csrf, req.cookies?.[kit.loginCsrfCookie])) return codeForm(req, res, 'csrf');
    const pending = req.cookies?.[SECOND_FACTOR_COOKIE];
    const username = await totp.pendingUsername(pending);
    if (!username) return res.redirect(303, '/portal/login');
    const attempt = kit.throttle.attemptOf(`portal:${username}`, req.ip ?? req.socket.remoteAddress);
    try {
      await kit.throttle.admit(attempt);
      const { token } = await totp.completeLogin(pending, String(req.body?.code ?? ''));
      await kit.throttle.succeeded(attempt);
      res.clearCookie(SECOND_FACTOR_COOKIE, { path: '/portal/login' });
      res.clearCookie(kit.loginCsrfCookie, { path: '/portal/login' });
      res.cookie(kit.portalCookie, token, { httpOnly: true, sameSite: 'lax', secure: kit.secure, path: '/portal', maxAge: PORTAL_SESSION_HOURS * 3600_000 });
      res.redirect(303, kit.safeNext(req.body?.next));
    } catch (err) {
      if (err instanceof TotpCodeError) {
        await kit.throttle.failed(attempt);
        codeForm(req, res, 'code');
      } else if (err instanceof LoginThrottledError) codeForm(req, res, 'throttled', err.retryAfterMs);
      else throw err;
    }
  });
}

/** The owner's API settings, test callback, re-send from the delivery log, and two-factor enrolment. */
export function mountPortalApi(r: express.Router, kit: PortalKit): void {
  const { deps } = kit;
  const settings = new PortalCallbackSettings({ db: deps.db, resellers: deps.resellers, allowPrivateCallbacks: deps.config.fulfillment.allowPrivateCallbacks });
  const totp = new PortalTotp(deps.db, deps.resellers, kit.users);

  // ---- API settings: callback URL, IP allowlist, test callback ----
  const settingsPage = async (req: Request, res: Response, refused?: { field: 'callbackUrl' | 'ipAllowlist'; message: string; value: string }) => {
    const actor = sessionOf(res).user;
    const s = await settings.settings(actor);
    const owner = actor.role === 'owner' && !actor.supportBy;
    const sent = req.query.sent === 'delivered' || req.query.sent === 'failed' ? req.query.sent : undefined;
    const saved = req.query.saved === '1';
    const fieldError = (field: string) => refused?.field === field ? html`<p class="error" id="${field}-error" data-code="VALIDATION_ERROR"><span class="free-text">${refused.message}</span></p>` : '';
    kit.page(req, res, 'portal_apiSettings', 'api-settings', (t) => html`
      ${saved ? html`<p class="notice" id="notice">${t('portal_saved')}</p>` : ''}
      ${sent ? html`<p class="notice ${sent === 'failed' ? 'error' : ''}" id="test-result" data-sent="${sent}">${t(sent === 'delivered' ? 'portal_testDelivered' : 'portal_testFailed')} <a href="/portal/callbacks">${t('portal_callbacks')}</a></p>` : ''}
      <section id="callback-settings"><h3>${t('portal_callbackUrl')}</h3>
        <p>${t('portal_callbackUrlNote')}</p>
        ${owner ? html`${fieldError('callbackUrl')}<form method="post" action="/portal/api-settings/callback-url" class="act">${kit.csrfField(res)}
          <label>${t('portal_callbackUrl')} <input name="callbackUrl" id="callback-url" type="url" maxlength="500" value="${refused?.field === 'callbackUrl' ? refused.value : s.callbackUrl ?? ''}" placeholder="https://"></label>
          <button type="submit" id="save-callback-url">${t('portal_save')}</button></form>
        <form method="post" action="/portal/api-settings/test-callback" class="act">${kit.csrfField(res)}
          <button type="submit" id="send-test" ${s.callbackUrl ? '' : html`disabled`}>${t('portal_sendTest')}</button> <small>${t('portal_sendTestNote')}</small></form>`
          : html`<p><code id="callback-url-value" class="free-text">${s.callbackUrl ?? '—'}</code></p>`}</section>
      <section id="allowlist-settings"><h3>${t('portal_ipAllowlist')}</h3>
        <p>${t('portal_ipAllowlistNote')} ${t('portal_yourAddress')}: <code id="your-address">${req.ip ?? ''}</code></p>
        ${owner ? html`${fieldError('ipAllowlist')}<form method="post" action="/portal/api-settings/allowlist" class="act">${kit.csrfField(res)}
          <label>${t('portal_ipAllowlist')} <textarea name="ipAllowlist" id="ip-allowlist" rows="4" maxlength="5000">${refused?.field === 'ipAllowlist' ? refused.value : s.ipAllowlist.join('\n')}</textarea></label>
          <button type="submit" id="save-allowlist">${t('portal_save')}</button></form>`
          : html`<p id="allowlist-value">${s.ipAllowlist.length ? s.ipAllowlist.join(', ') : t('portal_anyAddress')}</p>`}</section>
      ${owner ? '' : html`<p id="owner-only">${t('portal_ownerOnlySettings')}</p>`}`, undefined, refused ? 400 : 200);
  };
  const saving = (field: 'callbackUrl' | 'ipAllowlist', save: (res: Response, value: string) => Promise<void>) => async (req: Request, res: Response) => {
    const value = String(req.body?.[field] ?? '');
    try {
      await save(res, value);
    } catch (err) {
      // a refused value: the form again with what was typed and why (nothing changed)
      if (err instanceof ValidationError) return settingsPage(req, res, { field, message: err.message, value });
      throw err;
    }
    res.redirect(303, '/portal/api-settings?saved=1');
  };
  r.get('/api-settings', (req, res) => settingsPage(req, res));
  r.post('/api-settings/callback-url', saving('callbackUrl', (res, v) => settings.setCallbackUrl(sessionOf(res).user, v)));
  r.post('/api-settings/allowlist', saving('ipAllowlist', (res, v) => settings.setIpAllowlist(sessionOf(res).user, v)));
  r.post('/api-settings/test-callback', async (_req, res) => {
    const result = await settings.sendTestCallback(sessionOf(res).user);
    res.redirect(303, `/portal/api-settings?sent=${result.delivered ? 'delivered' : 'failed'}`);
  });

  // ---- re-send a failed delivery from the log (/portal/callbacks) ----
  r.post('/callbacks/:id/resend', async (req, res) => {
    const result = await settings.resend(sessionOf(res).user, Number(req.params.id));
    res.redirect(303, `/portal/callbacks?resent=${result.delivered ? 'delivered' : 'failed'}`);
  });

  // ---- two-factor login for owners ----
  r.get('/security', async (req, res) => {
    const actor = sessionOf(res).user;
    const owner = actor.role === 'owner' && !actor.supportBy;
    const status = owner ? await totp.status(actor) : { on: false, pending: undefined };
    res.setHeader('Cache-Control', 'no-store');
    kit.page(req, res, 'portal_security', 'security', (t) => html`
      <section id="totp"><h3>${t('portal_totp')}</h3>
        <p id="totp-status" data-on="${status.on ? 'yes' : 'no'}">${t(status.on ? 'portal_totpOn' : 'portal_totpOff')}</p>
        ${!owner ? html`<p id="owner-only">${t('portal_totpOwnerOnly')}</p>`
          : status.on ? html`<form method="post" action="/portal/security/totp/disable" class="act">${kit.csrfField(res)}
            <label>${t('portal_totpCode')} <input name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="7" required></label>
            <button type="submit" id="totp-disable">${t('portal_totpDisable')}</button></form>`
            : status.pending ? html`<p>${t('portal_totpScan')}</p>
            <dl class="facts"><dt>${t('portal_totpSecret')}</dt><dd><code id="totp-secret">${status.pending.secret}</code></dd>
              <dt>URI</dt><dd><code id="totp-uri">${status.pending.uri}</code></dd></dl>
            <form method="post" action="/portal/security/totp/confirm" class="act">${kit.csrfField(res)}
              <label>${t('portal_totpCode')} <input name="code" id="totp-confirm-code" inputmode="numeric" autocomplete="one-time-code" maxlength="7" required></label>
              <button type="submit" id="totp-confirm">${t('portal_totpConfirm')}</button></form>`
              : html`<p>${t('portal_totpNote')}</p><form method="post" action="/portal/security/totp/start" class="act">${kit.csrfField(res)}<button type="submit" id="totp-start">${t('portal_totpStart')}</button></form>`}
      </section>`);
  });
  r.post('/security/totp/start', async (_req, res) => {
    await totp.start(sessionOf(res).user);
    res.redirect(303, '/portal/security');
  });
  r.post('/security/totp/confirm', async (req, res) => {
    await totp.confirm(sessionOf(res).user, String(req.body?.code ?? ''));
    res.redirect(303, '/portal/security');
  });
  r.post('/security/totp/disable', async (req, res) => {
    await totp.disable(sessionOf(res).user, String(req.body?.code ?? ''));
    res.redirect(303, '/portal/security');
  });
}

import { randomBytes, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { formatShanghai } from '../../src/dates.ts';
import { KamengError, NotFoundError, ValidationError } from '../../src/errors.ts';
import { refusalOf } from '../../src/http/request-errors.ts';
import { displayYuan } from '../../src/money.ts';
import { CallbackSendsRateLimitedError } from '../../src/portal/callback-settings.ts';
import { Portal, RevealRateLimitedError } from '../../src/portal/portal.ts';
import { registerPortalPages } from './portal-pages.ts';
import { PORTAL_SESSION_HOURS, PortalForbiddenError, ResellerUsers, type PortalSession } from '../../src/portal/users.ts';
import { ResellerAdmin } from '../../src/resellers/admin.ts';
import { exportResellerStatement, type ExportFormat } from '../../src/settlement/export.ts';
import { Statements } from '../../src/settlement/statements.ts';
import { HashingBusyError, HashSlots } from '../../src/users/hash-slots.ts';
import { LoginThrottle, LoginThrottledError } from '../../src/users/login-throttle.ts';
import { LoginFailedError } from '../../src/users/users.ts';
import { recordAudit } from '../../src/audit/audit-log.ts';
import { actorFromToken } from '../../src/users/actor.ts';
import { SESSION_COOKIE } from '../auth.ts';
import type { DashboardDeps } from '../deps.ts';
import { html, jsonForScript, type SafeHtml } from '../html.ts';
import { askSecondFactor, mountPortalApi, mountPortalSecondStep, type PortalKit } from './portal-api.ts';
import { langOf, translator, type Lang, type LabelKey } from '../i18n.ts';

/** The portal's own session cookie (path /portal): a staff session never opens it, nor it the dashboard. */
export const PORTAL_COOKIE = 'kameng_portal';
const LOGIN_CSRF_COOKIE = 'kameng_portal_login_csrf';
/** A staff user's read-only support view of one reseller's portal (the reseller's code; the staff session is checked on every request). */
const SUPPORT_COOKIE = 'kameng_portal_support';

type T = (key: LabelKey) => string;
const sessionOf = (res: Response): PortalSession => res.locals.portalSession as PortalSession;
const sameToken = (a: unknown, b: unknown) =>
  typeof a === 'string' && typeof b === 'string' && a.length > 0 && a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
/** Only a portal path: a crafted ?next= must not send a reseller elsewhere after logging in. */
const safeNext = (next: unknown) => (typeof next === 'string' && /^\/portal(\/|$|\?)/.test(next) && !next.includes('\\') ? next : '/portal');
const percent = (rate: number | null) => (rate === null ? '—' : `${(rate * 100).toFixed(1)}%`);
const statusWord = (t: T, status: string) => t(`portal_status_${status}` as LabelKey);

const NAV: [string, LabelKey, string][] = [
  ['overview', 'portal_overview', '/portal'],
  ['analysis', 'portal_analysis', '/portal/analysis'],
  ['orders', 'portal_orders', '/portal/orders'],
  ['statements', 'portal_statements', '/portal/statements'],
  ['wallet', 'portal_wallet', '/portal/wallet'],
  ['prices', 'portal_prices', '/portal/prices'],
  ['complaints', 'portal_complaints', '/portal/complaints'],
  ['api', 'portal_api', '/portal/api-keys'],
  ['api-settings', 'portal_apiSettings', '/portal/api-settings'],
  ['callbacks', 'portal_callbacks', '/portal/callbacks'],
  ['users', 'portal_users', '/portal/users'],
  ['security', 'portal_security', '/portal/security'],
];

function portalLayout(o: { lang: Lang; title: string; active: string; body: SafeHtml; path: string; session?: PortalSession; scripts?: string[] }): string {
  const t = translator(o.lang);
  const other = o.lang === 'zh' ? 'en' : 'zh';
  return html`<!doctype html>
<html lang="${o.lang === 'zh' ? 'zh-CN' : 'en'}">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${o.title} · ${t('portal_title')}</title>
  <link rel="stylesheet" href="/assets/kameng.css">
  <link rel="stylesheet" href="/assets/portal.css">
  ${(o.scripts ?? []).map((s) => html`<script src="${s}" defer></script>`)}
</head>
<body class="portal">
  <header>
    <strong>${t('portal_title')}</strong>
    ${o.session ? html`<span class="reseller" id="portal-reseller">${o.session.user.resellerName} (${o.session.user.resellerCode})</span>
    <nav>${NAV.map(([key, label, href]) => html`<a href="${href}" class="${o.active === key ? 'active' : ''}">${t(label)}</a>`)}</nav>` : ''}
    <a class="lang" href="${o.path}${o.path.includes('?') ? '&' : '?'}lang=${other}">${other === 'en' ? 'English' : '中文'}</a>
    ${o.session?.user.supportBy ? html`<span class="user">${o.session.user.supportBy.username}</span> <a href="/portal/support-exit" id="support-exit">${t('portal_supportExit')}</a>`
      : o.session ? html`<span class="user">${o.session.user.displayName} · ${t(`portal_role_${o.session.user.role}` as LabelKey)}</span>
    <form method="post" action="/portal/logout" class="inline"><input type="hidden" name="_csrf" value="${o.session.csrfToken}"><button type="submit">${t('portal_logout')}</button></form>` : ''}
  </header>
  ${o.session?.user.supportBy ? html`<p class="notice support" id="support-banner">${t('portal_supportBanner')}</p>` : ''}
  <main>${o.body}</main>
</body>
</html>`.value;
}

const csrfField = (res: Response) => html`<input type="hidden" name="_csrf" value="${sessionOf(res).csrfToken}">`;

function page(req: Request, res: Response, title: LabelKey, active: string, body: (t: T, lang: Lang) => SafeHtml, scripts?: string[], status = 200): void {
  const lang = langOf(req, res);
  const t = translator(lang);
  res.status(status).type('html').send(portalLayout({ lang, title: t(title), active, body: body(t, lang), path: req.originalUrl.replace(/[?&]lang=\w+/, ''), session: res.locals.portalSession, scripts }));
}

function statusOfError(err: unknown): number {
  const refusal = refusalOf(err);
  if (refusal) return refusal.status;
  if (err instanceof PortalForbiddenError) return 403;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof RevealRateLimitedError || err instanceof CallbackSendsRateLimitedError) return 429;
  if (err instanceof ValidationError) return 400;
  if (err instanceof KamengError) return err.retryable ? 503 : 400;
  return 500;
}

/**
 * The reseller portal (issue 24) under /portal: its own users (owner, staff), cookie, CSRF token
 * and login throttle key space; every page reads only the session's own reseller. Mounted before
 * the staff dashboard's session check, so none of its routes need (or accept) a staff session.
 */
export function mountPortal(app: express.Express, deps: DashboardDeps): { routes: string[]; pageRoutes: string[] } {
  if (!deps.resellers) return { routes: [], pageRoutes: [] };
  const users = new ResellerUsers(deps.db);
  const admin = new ResellerAdmin(deps.db, deps.resellers, { allowPrivateCallbacks: deps.config.fulfillment.allowPrivateCallbacks, secretOverlapMs: deps.config.resellers.secretOverlapMs });
  const portal = new Portal({ db: deps.db, resellers: deps.resellers, admin, vault: deps.vault, secretOverlapMs: deps.config.resellers.secretOverlapMs });
  const statements = new Statements(deps.db);
  const throttle = new LoginThrottle(deps.db, deps.config.dashboard.login);
  const hashing = new HashSlots(deps.config.dashboard.login.hashConcurrency, deps.config.dashboard.login.hashQueue);
  const secure = deps.config.fulfillment.publicUrl.startsWith('https://');
  const r = express.Router();
  r.param('id', (_req, _res, next, id) => next(/^[1-9]\d{0,14}$/.test(String(id)) ? undefined : new NotFoundError('record', String(id))));

  // ---- login (no session yet: its CSRF token is a double-submit cookie) ----
  const loginForm = (req: Request, res: Response, failed: false | 'password' | 'csrf' | 'throttled' | 'busy', retryAfterMs = 0, code = '') => {
    const kept = req.cookies?.[LOGIN_CSRF_COOKIE];
    const csrf = typeof kept === 'string' && /^[A-Za-z0-9_-]{24}$/.test(kept) ? kept : randomBytes(18).toString('base64url');
    res.cookie(LOGIN_CSRF_COOKIE, csrf, { httpOnly: true, sameSite: 'lax', secure, path: '/portal/login', maxAge: 3600_000 });
    if (failed === 'throttled' || failed === 'busy') res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
    const status = failed === 'csrf' ? 403 : failed === 'throttled' ? 429 : failed === 'busy' ? 503 : failed ? 401 : 200;
    page(req, res, 'portal_login', 'login', (t) => html`<section class="login">
      <h2>${t('portal_login')}</h2>
      ${failed === 'throttled' ? html`<p class="error" data-code="${code}">${t('portal_loginThrottled')} ${Math.ceil(retryAfterMs / 1000)}</p>`
        : failed === 'busy' ? html`<p class="error" data-code="LOGIN_BUSY">${t('portal_loginBusy')}</p>`
          : failed ? html`<p class="error" data-code="${failed === 'csrf' ? 'CSRF' : 'LOGIN_FAILED'}">${t(failed === 'csrf' ? 'portal_loginExpired' : 'portal_loginFailed')}</p>` : ''}
      <form method="post" action="/portal/login">
        <input type="hidden" name="_csrf" value="${csrf}">
        <input type="hidden" name="next" value="${safeNext(req.query.next ?? req.body?.next)}">
        <p><label>${t('portal_username')}<br><input name="username" autocomplete="username" required autofocus></label></p>
        <p><label>${t('portal_password')}<br><input name="password" type="password" autocomplete="current-password" required></label></p>
        <p><button type="submit">${t('portal_login')}</button></p>
      </form></section>`, undefined, status);
  };
  r.get('/login', (req, res) => loginForm(req, res, false));
  r.post('/login', async (req, res) => {
    if (!sameToken(req.body?._csrf, req.cookies?.[LOGIN_CSRF_COOKIE])) return loginForm(req, res, 'csrf');
    const username = String(req.body?.username ?? '');
    // its own key space: a reseller "alice" and a staff "alice" are counted apart (the address is shared)
    const attempt = throttle.attemptOf(`portal:${username}`, req.ip ?? req.socket.remoteAddress);
    let release: (() => void) | undefined;
    try {
      release = await hashing.enter();
      await throttle.admit(attempt);
      const { token, secondFactor } = await users.login(username, String(req.body?.password ?? ''));
      // the password alone does not take its try back when a code must follow (src/portal/totp.ts)
      if (secondFactor) return askSecondFactor(kit, res, token, safeNext(req.body?.next));
      await throttle.succeeded(attempt);
      res.clearCookie(LOGIN_CSRF_COOKIE, { path: '/portal/login' });
      res.cookie(PORTAL_COOKIE, token, { httpOnly: true, sameSite: 'lax', secure, path: '/portal', maxAge: PORTAL_SESSION_HOURS * 3600_000 });
      res.redirect(303, safeNext(req.body?.next));
    } catch (err) {
      if (err instanceof LoginFailedError) {
        await throttle.failed(attempt);
        loginForm(req, res, 'password');
      } else if (err instanceof LoginThrottledError) loginForm(req, res, 'throttled', err.retryAfterMs, err.code);
      else if (err instanceof HashingBusyError) loginForm(req, res, 'busy', 1000);
      else throw err;
    } finally {
      release?.();
    }
  });

  // ---- the staff dashboard's read-only support view (a staff session; 404 for anyone else) ----
  r.get('/support/:code', async (req, res) => {
    const staff = await actorFromToken(deps.db, req.cookies?.[SESSION_COOKIE], 'dashboard');
    const session = await users.supportSession(staff, String(req.params.code));
    if (!staff || !session) throw new NotFoundError('page', req.path);
    await recordAudit(deps.db, { actor: staff, action: 'portal.support_view', subjectType: 'reseller', subjectId: session.user.resellerId, reason: 'opened the reseller portal read-only for support', details: { resellerCode: session.user.resellerCode } });
    res.cookie(SUPPORT_COOKIE, session.user.resellerCode, { httpOnly: true, sameSite: 'lax', secure, path: '/portal', maxAge: 3600_000 });
    res.redirect(303, '/portal');
  });
  const kit: PortalKit = { deps: { ...deps, resellers: deps.resellers }, users, throttle, secure, portalCookie: PORTAL_COOKIE, loginCsrfCookie: LOGIN_CSRF_COOKIE, page, csrfField, sameToken, safeNext };
  mountPortalSecondStep(r, kit);
  r.get('/support-exit', (_req, res) => {
    res.clearCookie(SUPPORT_COOKIE, { path: '/portal' });
    res.redirect(303, '/');
  });

  // ---- everything else: the portal session, and its CSRF token on every POST ----
  r.use(async (req, res, next) => {
    const supported = req.cookies?.[SUPPORT_COOKIE];
    const session = typeof supported === 'string' && supported
      ? await users.supportSession(await actorFromToken(deps.db, req.cookies?.[SESSION_COOKIE], 'dashboard'), supported)
      : await users.session(req.cookies?.[PORTAL_COOKIE]);
    if (session?.user.supportBy && req.method !== 'GET' && req.method !== 'HEAD') {
      return res.status(403).json({ error: { code: 'READ_ONLY', message: 'the support view is read-only: the reseller acts in its own portal' } });
    }
    if (!session) {
      if (req.method === 'GET' && req.accepts('html')) return res.redirect(`/portal/login?next=${encodeURIComponent(req.originalUrl)}`);
      return res.status(401).json({ error: { code: 'NOT_LOGGED_IN', message: 'log in to the portal first' } });
    }
    res.locals.portalSession = session;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const given = (req.body as Record<string, unknown> | undefined)?._csrf ?? req.get('x-csrf-token');
      if (!sameToken(String(given ?? ''), session.csrfToken)) return res.status(403).json({ error: { code: 'CSRF', message: 'missing or wrong CSRF token: reload the page and try again' } });
    }
    next();
  });
  const pagesFrom = r.stack.length;
  const parts = registerPortalPages(r, deps, { page, csrfField, sessionOf });
  const pagesTo = r.stack.length;
  r.post('/logout', async (req, res) => {
    await users.logout(req.cookies?.[PORTAL_COOKIE]);
    res.clearCookie(PORTAL_COOKIE, { path: '/portal' });
    res.redirect(303, '/portal/login');
  });

  r.get('/', async (req, res) => {
    const o = await portal.overview(sessionOf(res).user);
    page(req, res, 'portal_overview', 'overview', (t) => html`
      ${o.status === 'suspended' ? html`<p class="error" data-code="RESELLER_SUSPENDED">${t('portal_suspended')}</p>` : ''}
      <section class="cards" id="portal-overview">
        <div class="card"><span>${t('portal_balance')}</span><strong id="balance">${displayYuan(o.balanceFen)}</strong></div>
        <div class="card"><span>${t('portal_ordersToday')}</span><strong id="orders-today">${o.ordersToday}</strong></div>
        <div class="card"><span>${t('portal_spendToday')}</span><strong id="spend-today">${displayYuan(o.spendTodayFen)}</strong></div>
        <div class="card"><span>${t('portal_topupRate')}</span><strong id="topup-rate">${percent(o.topupSuccessRate)}</strong></div>
        <div class="card"><span>${t('portal_stuck')}</span><strong id="stuck">${o.stuck}</strong></div>
        <div class="card"><span>${t('portal_refundedToday')}</span><strong id="refunded">${o.refundedToday}</strong></div>
      </section>`);
  });

  r.get('/analysis', async (req, res) => {
    const a = await portal.analysis(sessionOf(res).user, { from: req.query.from ? String(req.query.from) : undefined, to: req.query.to ? String(req.query.to) : undefined });
    page(req, res, 'portal_analysis', 'analysis', (t, lang) => html`
      <section><form method="get" action="/portal/analysis" class="act">
        <label>${t('portal_from')} <input type="date" name="from" value="${a.from}"></label>
        <label>${t('portal_to')} <input type="date" name="to" value="${a.to}"></label>
        <button type="submit">${t('portal_show')}</button></form></section>
      <section class="cards">
        <div class="card"><span>${t('portal_orders')}</span><strong>${a.orders}</strong></div>
        <div class="card"><span>${t('portal_spend')}</span><strong>${displayYuan(a.spendFen)}</strong></div>
        <div class="card"><span>${t('portal_refundRate')}</span><strong id="refund-rate">${percent(a.refundRate)}</strong></div>
        <div class="card"><span>${t('portal_complaintRate')}</span><strong id="complaint-rate">${percent(a.complaintRate)}</strong></div>
      </section>
      <section><h3>${t('portal_spendBySkuDay')}</h3>
        <div class="chart"><canvas id="portal-spend-chart"></canvas></div>
        <script type="application/json" id="portal-analysis-data">${jsonForScript({ days: a.days, series: a.series.map((s: { sku: string; spendFen: number[] }) => ({ sku: s.sku, yuan: s.spendFen.map((f) => f / 100) })) })}</script>
      </section>
      <section><h3>${t('portal_bestSellers')}</h3><div class="scroll"><table id="best-sellers"><thead><tr><th>${t('portal_sku')}</th><th class="num">${t('portal_orders')}</th><th class="num">${t('portal_spend')}</th></tr></thead>
        <tbody>${a.bestSellers.map((b) => html`<tr><td>${b.sku}</td><td class="num">${b.orders}</td><td class="num">${displayYuan(b.spendFen)}</td></tr>`)}</tbody></table></div></section>
      <section><h3>${t('portal_lowStock')}</h3><div class="scroll"><table id="low-stock"><thead><tr><th>${t('portal_sku')}</th><th class="num">${t('portal_available')}</th></tr></thead>
        <tbody>${a.lowStock.map((s) => html`<tr><td>${s.sku} ${lang === 'en' ? s.nameEn : s.nameZh}</td><td class="num">${s.available}</td></tr>`)}</tbody></table></div></section>`,
    ['/assets/chart.umd.js', '/assets/portal-analysis.js']);
  });

  r.get('/orders', async (req, res) => {
    const pageNo = Math.max(1, Number.parseInt(String(req.query.page ?? '1'), 10) || 1);
    const q = { orderId: String(req.query.orderId ?? ''), account: String(req.query.account ?? ''), date: String(req.query.date ?? '') };
    const { rows, more } = await portal.orders(sessionOf(res).user, { ...q, limit: 50, offset: (pageNo - 1) * 50 });
    const link = (n: number) => `/portal/orders?${new URLSearchParams({ ...q, page: String(n) })}`;
    page(req, res, 'portal_orders', 'orders', (t) => html`
      <section><form method="get" action="/portal/orders" class="act" id="order-search">
        <label>${t('portal_orderId')} <input name="orderId" value="${q.orderId}" maxlength="64"></label>
        <label>${t('portal_account')} <input name="account" value="${q.account}" maxlength="100"></label>
        <label>${t('portal_date')} <input type="date" name="date" value="${q.date}"></label>
        <button type="submit">${t('portal_search')}</button></form></section>
      <section>${rows.length === 0 ? html`<p id="no-orders">${t('portal_noOrders')}</p>` : html`<div class="scroll"><table id="orders"><thead><tr>
        <th>${t('portal_orderId')}</th><th>${t('portal_sku')}</th><th>${t('portal_account')}</th><th class="num">${t('portal_amount')}</th><th>${t('portal_status')}</th><th>${t('portal_placedAt')}</th></tr></thead>
        <tbody>${rows.map((o) => html`<tr data-order-id="${o.id}"><td><a href="/portal/orders/${o.id}">${o.resellerOrderId}</a></td><td>${o.sku}</td><td>${o.account ?? ''}</td>
          <td class="num">${displayYuan(o.amountFen)}</td><td data-status="${o.status}">${statusWord(t, o.status)}</td><td>${formatShanghai(o.createdAt)}</td></tr>`)}</tbody></table></div>`}
        <div class="pager">${pageNo > 1 ? html`<a href="${link(pageNo - 1)}">←</a>` : ''}${more ? html`<a href="${link(pageNo + 1)}">→</a>` : ''}</div></section>`);
  });

  const orderPage = async (req: Request, res: Response, codes?: { serial: string; code: string; expiresOn: string | null }[]) => {
    const { order: o, history, revealedBefore } = await portal.order(sessionOf(res).user, Number(req.params.id));
    page(req, res, 'portal_orders', 'orders', (t) => html`
      <section id="order-detail" data-order-id="${o.id}"><h2>${o.resellerOrderId}</h2>
        <dl class="facts"><dt>${t('portal_sku')}</dt><dd>${o.sku}</dd><dt>${t('portal_qty')}</dt><dd>${o.quantity}</dd>
          ${o.account ? html`<dt>${t('portal_account')}</dt><dd>${o.account}</dd>` : ''}
          <dt>${t('portal_amount')}</dt><dd>${displayYuan(o.amountFen)}</dd><dt>${t('portal_status')}</dt><dd data-status="${o.status}">${statusWord(t, o.status)}</dd>
          <dt>${t('portal_placedAt')}</dt><dd>${formatShanghai(o.createdAt)}</dd></dl></section>
      <section><h3>${t('portal_history')}</h3><div class="scroll"><table id="history"><thead><tr><th>${t('portal_when')}</th><th>${t('portal_event')}</th><th>${t('portal_detail')}</th></tr></thead>
        <tbody>${history.map((h) => {
          const word = ['placed', 'callback_delivered', 'callback_failed'].includes(h.what) ? t(`portal_event_${h.what}` as LabelKey)
            : ['delivered', 'processing', 'stuck', 'succeeded', 'refunded'].includes(h.what) ? statusWord(t, h.what) : t('portal_event_other');
          return html`<tr data-event="${h.what}"><td>${formatShanghai(h.at)}</td><td>${word}</td><td>${h.detail}</td></tr>`;
        })}</tbody></table></div></section>
      ${o.kind === 'card_code' && o.status === 'delivered' ? html`<section id="codes"><h3>${t('portal_code')}</h3>
        ${codes ? html`<div class="scroll"><table id="revealed-codes"><thead><tr><th>${t('portal_serial')}</th><th>${t('portal_code')}</th><th>${t('portal_expires')}</th></tr></thead>
          <tbody>${codes.map((c) => html`<tr><td>${c.serial}</td><td class="code">${c.code}</td><td>${c.expiresOn ?? ''}</td></tr>`)}</tbody></table></div>`
          : html`<p>${t('portal_revealNote')} ${t('portal_revealedBefore')}: ${revealedBefore}</p>
          <form method="post" action="/portal/orders/${o.id}/reveal">${csrfField(res)}<button type="submit" id="reveal">${t('portal_revealCodes')}</button></form>`}</section>` : ''}
      ${o.status === 'delivered' || o.status === 'succeeded' ? html`<p><a href="/portal/orders/${o.id}/complaint" id="file-complaint">${t('portal_fileComplaint')}</a></p>` : ''}
      <p><a href="/portal/orders">${t('portal_back')}</a></p>`);
  };
  r.get('/orders/:id', (req, res) => orderPage(req, res));
  r.post('/orders/:id/reveal', async (req, res) => {
    const codes = await portal.revealCodes(sessionOf(res).user, Number(req.params.id));
    res.setHeader('Cache-Control', 'no-store');
    await orderPage(req, res, codes);
  });

  r.get('/statements', async (req, res) => {
    const pageNo = Math.max(1, Number.parseInt(String(req.query.page ?? '1'), 10) || 1);
    const { rows, more } = await portal.statements(sessionOf(res).user, { limit: 31, offset: (pageNo - 1) * 31 });
    page(req, res, 'portal_statements', 'statements', (t) => html`
      <section>${rows.length === 0 ? html`<p id="no-statements">${t('portal_noStatements')}</p>` : html`<div class="scroll"><table id="statements"><thead><tr>
        <th>${t('portal_settledDay')}</th><th class="num">${t('portal_opening')}</th><th class="num">${t('portal_topups')}</th><th class="num">${t('portal_orders')}</th>
        <th class="num">${t('portal_refunds')}</th><th class="num">${t('portal_closing')}</th><th>${t('portal_download')}</th></tr></thead>
        <tbody>${rows.map((s) => html`<tr data-date="${s.date}"><td>${s.date}</td><td class="num">${displayYuan(s.openingFen)}</td><td class="num">${displayYuan(s.topupsFen)}</td>
          <td class="num">${s.ordersCount} · ${displayYuan(s.ordersGrossFen)}</td><td class="num">${displayYuan(s.refundsFen)}</td><td class="num">${displayYuan(s.closingFen)}</td>
          <td><a class="download" href="/portal/statements/${s.date}.xlsx">XLSX</a> · <a href="/portal/statements/${s.date}.csv">CSV (zip)</a></td></tr>`)}</tbody></table></div>`}
        <div class="pager">${pageNo > 1 ? html`<a href="/portal/statements?page=${pageNo - 1}">←</a>` : ''}${more ? html`<a href="/portal/statements?page=${pageNo + 1}">→</a>` : ''}</div></section>`);
  });
  r.get('/statements/:date.:format', async (req, res) => {
    const format = req.params.format as ExportFormat;
    if (format !== 'xlsx' && format !== 'csv') throw new NotFoundError('statement', `${req.params.date}.${req.params.format}`);
    const actor = sessionOf(res).user;
    const date = await portal.assertStatement(actor, String(req.params.date));
    const name = `statement-${actor.resellerCode}-${date}.${format === 'csv' ? 'zip' : 'xlsx'}`;
    res.setHeader('Content-Type', format === 'csv' ? 'application/zip' : 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    res.setHeader('Content-Disposition', `attachment; filename="${name.replace(/[^\w.-]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`);
    // the same export finance sends, of this reseller only
    await exportResellerStatement(statements, { resellerCode: actor.resellerCode, from: date, to: date, format }, res);
  });

  r.get('/wallet', async (req, res) => {
    const pageNo = Math.max(1, Number.parseInt(String(req.query.page ?? '1'), 10) || 1);
    const [wallet, more] = await Promise.all([portal.wallet(sessionOf(res).user, { limit: 50, offset: (pageNo - 1) * 50 }), parts.wallet(req, res)]);
    page(req, res, 'portal_wallet', 'wallet', (t, lang) => html`
      <section class="cards"><div class="card"><span>${t('portal_balance')}</span><strong id="wallet-balance">${displayYuan(wallet.balanceFen)}</strong></div>
        <div class="card"><span>${t('portal_payReference')}</span><strong id="pay-reference">${wallet.payReference}</strong></div></section>
      <section><p>${t('portal_howToPay')}</p></section>${more(t, lang)}
      <section><h3>${t('portal_recharges')}</h3>${wallet.recharges.length === 0 ? html`<p id="no-recharges">${t('portal_noRecharges')}</p>` : html`<div class="scroll"><table id="recharges"><thead><tr>
        <th>${t('portal_date')}</th><th>${t('portal_channel')}</th><th class="num">${t('portal_amount')}</th><th>${t('portal_reference')}</th><th>${t('portal_status')}</th></tr></thead>
        <tbody>${wallet.recharges.map((r) => html`<tr data-status="${r.status}"><td>${r.valueDate}</td><td>${t(`portal_channel_${r.channel}` as LabelKey)}</td><td class="num">${displayYuan(r.amountFen)}</td>
          <td>${r.reference}</td><td>${t(`portal_recharge_${r.status}` as LabelKey)}</td></tr>`)}</tbody></table></div>`}
        <div class="pager">${pageNo > 1 ? html`<a href="/portal/wallet?page=${pageNo - 1}">←</a>` : ''}${wallet.more ? html`<a href="/portal/wallet?page=${pageNo + 1}">→</a>` : ''}</div></section>`);
  });

  r.get('/callbacks', async (req, res) => {
    const pageNo = Math.max(1, Number.parseInt(String(req.query.page ?? '1'), 10) || 1);
    const failedOnly = req.query.failed === '1';
    const { rows, more } = await portal.callbackLog(sessionOf(res).user, { limit: 50, offset: (pageNo - 1) * 50, failedOnly });
    const link = (n: number) => `/portal/callbacks?${new URLSearchParams({ ...(failedOnly ? { failed: '1' } : {}), page: String(n) })}`;
    const owner = sessionOf(res).user.role === 'owner' && !sessionOf(res).user.supportBy;
    const resent = req.query.resent === 'delivered' || req.query.resent === 'failed' ? req.query.resent : undefined;
    page(req, res, 'portal_callbacks', 'callbacks', (t) => html`
      ${resent ? html`<p class="notice" id="resent" data-resent="${resent}">${t(resent === 'delivered' ? 'portal_resentDelivered' : 'portal_resentFailed')}</p>` : ''}
      <section><p><a href="/portal/callbacks" class="${failedOnly ? '' : 'active'}">${t('portal_callbacksAll')}</a> · <a href="/portal/callbacks?failed=1" class="${failedOnly ? 'active' : ''}">${t('portal_callbacksFailed')}</a></p>
        ${rows.length === 0 ? html`<p id="no-callbacks">${t('portal_noCallbacks')}</p>` : html`<div class="scroll"><table id="callbacks"><thead><tr>
        <th>${t('portal_when')}</th><th>${t('portal_orderId')}</th><th>#</th><th>${t('portal_status')}</th><th>${t('portal_detail')}</th><th>${t('portal_callbackUrl')}</th><th></th></tr></thead>
        <tbody>${rows.map((c) => html`<tr data-delivered="${c.delivered ? 'yes' : 'no'}" data-test="${c.test ? 'yes' : 'no'}" data-delivery-id="${c.id}"><td>${formatShanghai(c.at)}</td>
          <td>${c.test ? html`<span class="test-event">${t('portal_testEvent')}</span>` : html`<a href="/portal/orders/${c.orderId}">${c.resellerOrderId}</a>`}</td><td>${c.attempt}</td>
          <td class="${c.delivered ? 'ok' : 'bad'}">${c.delivered ? t('portal_event_callback_delivered') : t('portal_event_callback_failed')} ${c.statusCode ?? ''}</td>
          <td>${c.error ?? ''}${c.durationMs !== null ? html` <small>${c.durationMs} ms</small>` : ''}</td><td>${c.url}</td>
          <td>${owner && !c.delivered && !c.test ? html`<form method="post" action="/portal/callbacks/${c.id}/resend" class="inline">${csrfField(res)}<button type="submit" class="resend">${t('portal_resend')}</button></form>` : ''}</td></tr>`)}</tbody></table></div>`}
        <div class="pager">${pageNo > 1 ? html`<a href="${link(pageNo - 1)}">←</a>` : ''}${more ? html`<a href="${link(pageNo + 1)}">→</a>` : ''}</div></section>`);
  });

  const keysPage = async (req: Request, res: Response, shown?: { apiKey: string; apiSecret: string; previousValidUntil: Date }, notice?: LabelKey) => {
    const actor = sessionOf(res).user;
    const k = await portal.keys(actor);
    res.setHeader('Cache-Control', 'no-store');
    page(req, res, 'portal_api', 'api', (t) => html`
      ${notice ? html`<p class="notice" id="notice">${t(notice)}</p>` : ''}
      ${shown ? html`<section><h3>${t('portal_newSecret')}</h3><p><code id="new-secret">${shown.apiSecret}</code></p>
        <p>${t('portal_previousUntil')}: <span id="previous-until">${formatShanghai(shown.previousValidUntil)}</span></p></section>` : ''}
      <section><dl class="facts">
        <dt>${t('portal_apiKey')}</dt><dd><code id="api-key">${k.apiKey}</code></dd>
        <dt>${t('portal_rotatedAt')}</dt><dd>${k.rotatedAt ? formatShanghai(k.rotatedAt) : '—'}</dd>
        <dt>${t('portal_previousUntil')}</dt><dd id="previous-valid">${k.previousValidUntil ? formatShanghai(k.previousValidUntil) : '—'}</dd>
        <dt>${t('portal_callbackUrl')}</dt><dd>${k.callbackUrl ?? '—'}</dd></dl></section>
      <section>${actor.role === 'owner' ? html`
        <form method="post" action="/portal/api-keys/rotate" class="act">${csrfField(res)}
          <label>${t('portal_overlapHours')} <input name="overlapHours" type="number" min="0" max="168" value="${Math.round(deps.config.resellers.secretOverlapMs / 3600_000)}"></label>
          <button type="submit" id="rotate">${t('portal_rotate')}</button></form>
        ${k.previousValidUntil ? html`<form method="post" action="/portal/api-keys/revoke-previous" class="act">${csrfField(res)}<button type="submit" id="revoke-previous">${t('portal_revokePrevious')}</button></form>` : ''}`
        : html`<p id="owner-only">${t('portal_ownerOnly')}</p>`}</section>`);
  };
  r.get('/api-keys', (req, res) => keysPage(req, res));
  r.post('/api-keys/rotate', async (req, res) => {
    const raw = String(req.body?.overlapHours ?? '').trim();
    if (raw !== '' && !/^\d{1,3}$/.test(raw)) throw new ValidationError('overlapHours: a whole number of hours, 0 to 168', { fields: { overlapHours: '0 to 168' } });
    const shown = await portal.rotateSecret(sessionOf(res).user, raw === '' ? undefined : Number(raw));
    await keysPage(req, res, shown);
  });
  r.post('/api-keys/revoke-previous', async (req, res) => {
    await portal.revokePreviousSecret(sessionOf(res).user);
    await keysPage(req, res, undefined, 'portal_revoked');
  });

  r.get('/users', async (req, res) => {
    const actor = sessionOf(res).user;
    const list = await users.listOf(actor.resellerId);
    page(req, res, 'portal_users', 'users', (t) => html`
      <section><div class="scroll"><table id="users"><thead><tr><th>${t('portal_username')}</th><th>${t('portal_displayName')}</th><th>${t('portal_role')}</th>${parts.userHead(t)}</tr></thead>
        <tbody>${list.map((u) => html`<tr data-user="${u.username}"><td>${u.username}</td><td>${u.displayName}</td><td>${t(`portal_role_${u.role}` as LabelKey)}</td>${parts.userCells(res, t, u)}</tr>`)}</tbody></table></div></section>
      ${actor.role === 'owner' ? html`<section><h3>${t('portal_addUser')}</h3><form method="post" action="/portal/users" class="act">${csrfField(res)}
        <label>${t('portal_username')} <input name="username" required maxlength="40"></label>
        <label>${t('portal_displayName')} <input name="displayName" maxlength="100"></label>
        <label>${t('portal_password')} <input name="password" type="password" required minlength="10" autocomplete="new-password"></label>
        <label>${t('portal_role')} <select name="role"><option value="staff">${t('portal_role_staff')}</option><option value="owner">${t('portal_role_owner')}</option></select></label>
        <button type="submit">${t('portal_addUser')}</button></form></section>` : ''}`);
  });
  r.post('/users', async (req, res) => {
    const role = String(req.body?.role ?? 'staff');
    await users.createByOwner(sessionOf(res).user, { username: String(req.body?.username ?? ''), displayName: String(req.body?.displayName ?? ''), role: role as 'owner' | 'staff', password: String(req.body?.password ?? '') });
    res.redirect(303, '/portal/users');
  });

  mountPortalApi(r, kit);
  r.use((req, _res, next) => next(new NotFoundError('page', req.path)));
  // The portal's errors in the portal's own layout (a 500 goes on to the dashboard's handler, which logs it).
  r.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    const status = statusOfError(err);
    if (status === 500 || res.headersSent) return next(err);
    const refusal = refusalOf(err);
    const code = refusal?.code ?? (err as KamengError).code;
    const message = refusal?.message ?? (err as Error).message;
    res.removeHeader('Content-Disposition');
    res.removeHeader('Content-Type');
    if (req.accepts(['html', 'json']) !== 'html') return res.status(status).json({ error: { code, message } });
    page(req, res, 'portal_title', '', () => html`<section><p class="error" id="error" data-code="${code}">${message} <small>(${code})</small></p><p><a href="/portal">←</a></p></section>`, undefined, status);
  });
  app.use('/portal', r);
  // every route, "METHOD /portal/path": the isolation test checks it covers each one
  const routesOf = (layers: typeof r.stack) => layers.flatMap((layer) => {
    const route = (layer as { route?: { path: string; methods: Record<string, boolean> } }).route;
    return route ? Object.keys(route.methods).filter((m) => m !== '_all').map((m) => `${m.toUpperCase()} /portal${route.path === '/' ? '' : route.path}`) : [];
  });
  // pageRoutes: those of portal-pages.ts (their isolation cases are in test/portal-pages.test.ts)
  return { routes: routesOf(r.stack), pageRoutes: routesOf(r.stack.slice(pagesFrom, pagesTo)) };
}

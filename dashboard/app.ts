import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import cookieParser from 'cookie-parser';
import express, { type NextFunction, type Request, type Response } from 'express';
import { KamengError, NotFoundError } from '../src/errors.ts';
import { closeIfUnread, refusalOf, refuseNulParameters } from '../src/http/request-errors.ts';
import { DASHBOARD_CSP, securityHeaders } from '../src/http/security-headers.ts';
import { LedgerReports } from '../src/ledger/reports.ts';
import type { DashboardDeps } from './deps.ts';
import { marginsDownload, overviewPage } from './pages/overview.ts';
import { settlementActionsOf, settlementDownloads, settlementPage } from './pages/settlement.ts';
import { auditPage } from './pages/audit.ts';
import { fulfillmentPages } from './pages/fulfillment.ts';
import { loginPages } from './pages/login.ts';
import { reconciliationPages } from './pages/reconciliation.ts';
import { ForbiddenError, requireCsrf, requirePermission, requireSession, sessionOf } from './auth.ts';
import { html } from './html.ts';
import { langOf } from './i18n.ts';
import { layout } from './layout.ts';
import { HashSlots } from '../src/users/hash-slots.ts';
import { LoginThrottle } from '../src/users/login-throttle.ts';
import { Users } from '../src/users/users.ts';
import { stockPage } from './pages/stock.ts';
import { mountAftersalesPages } from './pages/aftersales.ts';
import { logger } from '../src/observability/log.ts';

const dashboardLog = logger('dashboard');
import { mountAdminPages } from './pages/admin.ts';
import { mountResellerAdminPages } from './pages/admin-resellers.ts';
import { mountOperationsPages } from './pages/operations.ts';
import { mountStatementProfilePages } from './pages/statement-profile.ts';
import { mountPortal } from './pages/portal.ts';


const staticDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'static');
// chart.js does not export its UMD build, so find it next to the package's CommonJS entry.
const chartJsDir = path.dirname(createRequire(import.meta.url).resolve('chart.js'));

/** The ops and finance dashboard (server-rendered; chart.js in the browser). */
export function createDashboardApp(deps: Omit<DashboardDeps, 'reports'>): express.Express {
  const full: DashboardDeps = { ...deps, reports: new LedgerReports(deps.db) };
  const app = express();
  app.disable('x-powered-by');
  app.use(securityHeaders(DASHBOARD_CSP));
  app.use(cookieParser());
  // assets hold no data: they may be cached (each static handler sets its own max-age)
  app.use('/assets', (_req, res, next) => { res.removeHeader('Cache-Control'); next(); });
  app.use('/assets', express.static(chartJsDir, { maxAge: '1d', index: false }));
  // the pages' own scripts and styles: no inline script or style, so the CSP can forbid them
  app.use('/assets', express.static(staticDir, { maxAge: '1h', index: false }));

  app.get('/favicon.ico', (_req, res) => res.status(204).end());
  app.get('/healthz', async (_req, res) => {
    await deps.db.raw('SELECT 1');
    res.json({ ok: true });
  });
  // Forms post url-encoded; a statement upload is a raw body, streamed by its own handler.
  app.use(express.urlencoded({ extended: false, limit: '64kb' }));
  app.use(refuseNulParameters);
  // every :id is a database id: anything else names nothing (and never reaches a query)
  app.param('id', (_req, _res, next, id) => next(/^[1-9]\d{0,14}$/.test(String(id)) ? undefined : new NotFoundError('record', String(id))));
  const users = new Users(deps.db);
  const login = loginPages(users, deps.config, {
    throttle: new LoginThrottle(deps.db, deps.config.dashboard.login),
    hashing: new HashSlots(deps.config.dashboard.login.hashConcurrency, deps.config.dashboard.login.hashQueue),
  });
  app.get('/login', login.show);
  app.post('/login', login.submit);

  // the reseller portal: its own users, cookie and CSRF; before the staff session check below
  mountPortal(app, full);

  app.use(requireSession(users), requireCsrf);
  app.post('/logout', login.logout);
  app.get('/', overviewPage(full));
  app.get('/margins.xlsx', marginsDownload(full));
  app.get('/stock', stockPage(full));
  app.get('/audit', auditPage(full));

  const fulfillment = fulfillmentPages(full);
  app.get('/fulfillment', fulfillment.list);
  app.get('/fulfillment/:id', fulfillment.detail);
  app.post('/fulfillment/:id/action', requirePermission('fulfillment'), fulfillment.act);
  app.get('/fulfillment/:id/action.json', fulfillment.actionStatus);
  app.post('/fulfillment/:id/resend-callback', requirePermission('fulfillment'), fulfillment.resendCallback);

  const recon = reconciliationPages(full);
  app.get('/reconciliation', recon.page);
  app.get('/reconciliation/cases.xlsx', recon.exportCases);
  app.post('/reconciliation/cases/:id/resolve', requirePermission('reconciliation'), recon.resolve);
  app.post('/reconciliation/upload', requirePermission('reconciliation'), recon.upload);
  app.post('/reconciliation/rerun', requirePermission('reconciliation'), recon.rerun);
  app.post('/reconciliation/waiting/cancel', requirePermission('reconciliation'), recon.cancelWaiting);

  app.get('/settlement', settlementPage(full));
  const downloads = settlementDownloads(full);
  app.get('/settlement/statement', downloads.statement);
  app.get('/settlement/day.xlsx', downloads.day);
  app.get('/settlement/day.zip', downloads.dayCsv);
  app.get('/settlement/payouts/:id.:format', downloads.payout);
  const settlementActions = settlementActionsOf(full);
  app.post('/settlement/settle', requirePermission('settlement'), settlementActions.settle);
  app.post('/settlement/payouts/draft', requirePermission('settlement'), settlementActions.draft);
  app.post('/settlement/payouts/:id/:step', requirePermission('settlement'), settlementActions.payout);

  mountAftersalesPages(app, full);

  mountAdminPages(app, full);
  mountResellerAdminPages(app, full);
  mountOperationsPages(app, full);

  mountStatementProfilePages(app, full);
  app.use((req, _res, next) => next(new NotFoundError('page', req.path)));

  // Every error answers the error page (or JSON to a script) with a stable code, never a stack trace.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const refusal = refusalOf(err);
    const status = refusal?.status ?? (err instanceof ForbiddenError ? 403 : err instanceof NotFoundError ? 404 : err instanceof KamengError ? (err.retryable ? 503 : 400) : 500);
    const code = refusal?.code ?? (err instanceof KamengError ? err.code : 'INTERNAL');
    if (status === 500) dashboardLog.error({ err, path: req.path }, 'dashboard error');
    const message = refusal?.message ?? (status === 500 ? 'internal error; see the server log' : (err as Error).message);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // an export that failed before its first byte is no longer a download
    res.removeHeader('Content-Disposition');
    closeIfUnread(req, res);
    if (req.accepts(['html', 'json']) === 'html') {
      const lang = langOf(req, res);
      const body = html`<section><p class="error" id="error" data-code="${code}">${message} <small>(${code})</small></p><p><a href="/">←</a></p></section>`;
      res.status(status).type('html').send(layout({ lang, title: String(status), active: '', body, path: req.path, session: sessionOf(res) }).value);
      return;
    }
    res.status(status).json({ error: { code, message } });
  });
  return app;
}

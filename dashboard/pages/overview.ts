import type { Request, Response } from 'express';
import { addDays, assertBusinessDate, businessDateOf, formatShanghai } from '../../src/dates.ts';
import { keepLedgerRolledUp } from '../../src/ledger/rollups.ts';
import { keepTodayRolledUp } from '../../src/orders/intraday.ts';
import type { Db } from '../../src/db/knex.ts';
import { logger } from '../../src/observability/log.ts';
import { OrderReports, type MarginDimension } from '../../src/orders/reports.ts';
import { exportMarginTable, marginReport, marginTable } from '../../src/orders/margin-table.ts';
import { displayYuan } from '../../src/money.ts';
import type { DashboardDeps } from '../deps.ts';
import { sessionOf } from '../auth.ts';
import { html, jsonForScript } from '../html.ts';
import { langOf, translator } from '../i18n.ts';
import { layout } from '../layout.ts';
import { pageOf, pager } from '../pagination.ts';
import { supplierQualitySection } from './aftersales.ts';

const log = logger('dashboard');

const rolling = new WeakMap<Db, Promise<void>>();

/**
 * Today's rolls (the ledger's and the orders'), started when stale and not waited for: what a view
 * reads is right at any staleness (the rolled part plus the live tail), a roll only makes later
 * views cheaper, so no view pays 0.4–1.4 s for one. One at a time per database.
 */
function keepTodayRolledUpInBackground(db: Db): void {
  if (rolling.has(db)) return;
  const run = Promise.all([keepLedgerRolledUp(db), keepTodayRolledUp(db)])
    .then(() => undefined, (err: unknown) => log.warn({ err }, 'intraday roll failed; views read the live tail meanwhile'))
    .finally(() => rolling.delete(db));
  rolling.set(db, run);
}

const COLORS = ['#3e7cb1', '#f4a259', '#5b8e7d', '#bc4b51', '#8e6c8a', '#e0c341', '#9aa5b1'];

/** The margin range and dimension a request asks for (at most 93 days). */
function marginRange(req: Request) {
  const today = businessDateOf(new Date());
  const to = req.query.to ? assertBusinessDate(String(req.query.to), 'to') : today;
  const asked = req.query.from ? assertBusinessDate(String(req.query.from), 'from') : addDays(to, -29);
  const from = asked < addDays(to, -92) ? addDays(to, -92) : asked;
  const by: MarginDimension = req.query.by === 'supplier' || req.query.by === 'reseller' ? req.query.by : 'sku';
  return { from, to, by };
}

/** The margin table as XLSX (the overview's range and dimension). */
export function marginsDownload(deps: DashboardDeps) {
  return async (req: Request, res: Response) => {
    const range = marginRange(req);
    const rows = await marginTable(deps.db, range.from, range.to, range.by);
    res.setHeader('Content-Type', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    res.setHeader('Content-Disposition', `attachment; filename="margins-${range.by}-${range.from}-${range.to}.xlsx"`);
    await exportMarginTable(rows, range, res);
  };
}

export function overviewPage(deps: DashboardDeps) {
  const orderReports = new OrderReports(deps.db);
  return async (req: Request, res: Response) => {
    const lang = langOf(req, res);
    const t = translator(lang);
    const today = businessDateOf(new Date());
    const p = pageOf(req);
    const { from, to, by } = marginRange(req);
    // today's postings and orders rolled up to minutes ago (in the background), not read live since midnight by every figure below
    keepTodayRolledUpInBackground(deps.db);
    const [accounts, { days: daily, imbalanceFen: imbalance }, figures, { chart: margins, table }, totals] = await Promise.all([
      deps.reports.trialBalance({ limit: p.size, offset: p.offset }),
      deps.reports.movement(addDays(today, -29), today),
      orderReports.day(today),
      marginReport(deps.db, from, to, by),
      deps.reports.trialBalanceTotals(),
    ]);
    const marginQuery = new URLSearchParams({ from, to, by }).toString();
    const h = deps.health;
    const body = html`
      <section>
        <h2>${t('system')}</h2>
        <ul>${deps.infrastructure.map((line) => html`<li>${line}</li>`)}</ul>
        <p>${t('healthCheck')}: PostgreSQL ${h.postgres}, ${t('account')} ${h.accounts}, ${t('entries')} ${h.entries}, ${formatShanghai(h.checkedAt)}</p>
        <p class="${imbalance === 0 ? 'ok' : 'bad'}" id="books">${imbalance === 0 ? t('booksBalance') : `${t('booksOff')}: ${imbalance}`}</p>
      </section>
      <section>
        <h2>${t('today')} ${today}</h2>
        <table id="kpis"><tbody><tr>
          <td>${t('orders')}<br><strong>${figures.orders}</strong></td>
          <td>${t('gross')}<br><strong>${displayYuan(figures.grossFen)}</strong></td>
          <td>${t('margin')}<br><strong>${displayYuan(figures.marginFen)}</strong></td>
          <td>${t('refundRate')}<br><strong>${(figures.refundRate * 100).toFixed(1)}%</strong></td>
          <td>${t('stuckCount')}<br><strong class="${figures.stuck ? 'bad' : ''}"><a href="/fulfillment?status=stuck">${figures.stuck}</a></strong></td>
          <td>${t('openDiscrepancies')}<br><strong class="${figures.openDiscrepancies ? 'bad' : ''}"><a href="/reconciliation">${figures.openDiscrepancies}</a></strong></td>
        </tr></tbody></table>
      </section>
      <section>
        <h2>${t('dailyMargin')}</h2>
        <form method="get" action="/" class="act">
          <input type="date" name="from" value="${from}"> ~ <input type="date" name="to" value="${to}">
          <select name="by">${(['sku', 'supplier', 'reseller'] as const).map((d) => html`<option value="${d}" ${d === by ? 'selected' : ''}>${t(d === 'sku' ? 'bySku' : d === 'supplier' ? 'bySupplier' : 'byReseller')}</option>`)}</select>
          <button>${t('filter')}</button>
        </form>
        <canvas id="margins" height="90"></canvas>
        <script type="application/json" id="margins-data">${jsonForScript({ ...margins, colors: COLORS })}</script>
        <h3>${t('marginTable')} <a href="/margins.xlsx?${marginQuery}" id="margins-xlsx">${t('exportXlsx')}</a></h3>
        ${table.length === 0 ? html`<p>${t('noData')}</p>` : html`<table id="margin-table"><thead><tr><th>${t(by === 'sku' ? 'bySku' : by === 'supplier' ? 'bySupplier' : 'byReseller')}</th><th class="num">${t('salesCount')}</th><th class="num">${t('gross')}</th><th class="num">${t('margin')}</th><th class="num">%</th></tr></thead>
        <tbody>${table.map((r) => html`<tr><td>${r.name}</td><td class="num">${r.orders}</td><td class="num">${displayYuan(r.grossFen)}</td><td class="num">${displayYuan(r.marginFen)}</td><td class="num">${r.grossFen ? ((r.marginFen / r.grossFen) * 100).toFixed(1) : ''}</td></tr>`)}
          <tr class="total"><td>${t('total')}</td><td class="num">${table.reduce((a, r) => a + r.orders, 0)}</td><td class="num">${displayYuan(table.reduce((a, r) => a + r.grossFen, 0))}</td><td class="num">${displayYuan(table.reduce((a, r) => a + r.marginFen, 0))}</td><td></td></tr></tbody></table>`}
      </section>
      <section>
        <h2>${t('postingsByDay')}</h2>
        ${daily.length === 0 ? html`<p>${t('noData')}</p>` : ''}
        <canvas id="daily" height="90"></canvas>
        <script type="application/json" id="daily-data">${jsonForScript(daily)}</script>
        <script src="/assets/overview.js" defer></script>
      </section>
      <section>
        <h2>${t('trialBalance')}</h2>
        <table>
          <thead><tr><th>${t('account')}</th><th>${t('kind')}</th><th class="num">${t('debit')}</th><th class="num">${t('credit')}</th><th class="num">${t('balance')}</th></tr></thead>
          <tbody>${accounts.rows.map((a) => html`<tr>
            <td title="${a.code}">${a.name}</td>
            <td>${lang === 'zh' ? a.labelZh : a.labelEn}</td>
            <td class="num">${a.debitFen ? displayYuan(a.debitFen) : ''}</td>
            <td class="num">${a.creditFen ? displayYuan(a.creditFen) : ''}</td>
            <td class="num">${displayYuan(a.balance)}${a.currency === 'CNY' ? '' : ` ${a.currency}`}</td>
          </tr>`)}
          <tr class="total" id="trial-totals"><td>${t('total')} (${totals.accounts})</td><td></td><td class="num">${displayYuan(totals.debitFen)}</td><td class="num">${displayYuan(totals.creditFen)}</td><td></td></tr></tbody>
        </table>
        ${pager(p, accounts.total, '/', t)}
      </section>
      ${await supplierQualitySection(deps, t, ['supplier'])}`;
    res.type('html').send(layout({ lang, title: t('overview'), active: 'overview', body, path: '/', session: sessionOf(res) }).value);
  };
}

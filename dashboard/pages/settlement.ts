import type { Request, Response } from 'express';
import { assertBusinessDate } from '../../src/dates.ts';
import { ValidationError } from '../../src/errors.ts';
import { displayYuan } from '../../src/money.ts';
import { exportPayoutBatch, payoutBankAccounts } from '../../src/payouts/export.ts';
import { Payouts } from '../../src/payouts/payouts.ts';
import { exportDaySummary, exportDaySummaryCsv, exportResellerStatement, type ExportFormat } from '../../src/settlement/export.ts';
import { lastSettledDay } from '../../src/settlement/settle.ts';
import { Statements } from '../../src/settlement/statements.ts';
import { runSettlement } from '../../src/settlement/trigger.ts';
import type { DashboardDeps } from '../deps.ts';
import { actorOfRequest, can, csrfField, ForbiddenError, sessionOf } from '../auth.ts';
import { html } from '../html.ts';
import { langOf, translator } from '../i18n.ts';
import { actionWord, statusWord } from '../words.ts';
import { layout } from '../layout.ts';
import { pageOf, pager } from '../pagination.ts';

/** Settlement and payouts: settled days, each reseller's statement with downloads, payout batches. */
export function settlementPage(deps: DashboardDeps) {
  const statements = new Statements(deps.db);
  const payouts = new Payouts(deps.db, deps.ledger);
  return async (req: Request, res: Response) => {
    const lang = langOf(req, res);
    const t = translator(lang);
    const p = pageOf(req, 50);
    const days = await deps.db('settlement_days').orderBy('business_date', 'desc').limit(14);
    const date = req.query.date ? assertBusinessDate(String(req.query.date), 'date') : await lastSettledDay(deps.db);
    const [day, batches] = await Promise.all([
      date ? statements.forDay(date, { limit: p.size, offset: p.offset }) : Promise.resolve({ rows: [], total: 0 }),
      payouts.list({ limit: 10, offset: 0 }),
    ]);
    const yuan = (fen: number) => displayYuan(fen);
    const finance = can(sessionOf(res), 'settlement');
    const body = html`
      ${req.query.done ? html`<p class="notice">${t('done')}: ${settlementNotice(String(req.query.done), t)}</p>` : ''}
      <section>
        <h2>${t('settledDays')}</h2>
        ${finance ? html`<form method="post" action="/settlement/settle" class="act">${csrfField(res)}<input type="date" name="date" required><button>${t('settleDay')}</button></form>` : ''}
        ${days.length === 0 ? html`<p>${t('notSettledYet')}</p>` : html`<table><thead><tr><th>${t('settlementDate')}</th><th class="num">${t('statements')}</th><th class="num">${t('lines')}</th><th class="num">${t('lateLines')}</th><th>${t('settledBy')}</th><th></th></tr></thead>
        <tbody>${days.map((d) => html`<tr><td><a href="/settlement?date=${d.business_date}">${d.business_date}</a></td><td class="num">${d.statements}</td><td class="num">${d.lines}</td><td class="num">${d.late_lines}</td><td>${d.settled_by}</td>
          <td><a href="/settlement/day.xlsx?date=${d.business_date}">${t('daySummary')} (XLSX)</a> · <a href="/settlement/day.zip?date=${d.business_date}">${t('dayCsv')}</a></td></tr>`)}</tbody></table>`}
      </section>
      ${date ? html`<section>
        <h2>${t('statements')} ${date}</h2>
        <table><thead><tr><th>${t('reseller')}</th><th class="num">${t('opening')}</th><th class="num">${t('topups')}</th><th class="num">${t('orders')}</th><th class="num">${t('refunds')}</th><th class="num">${t('adjustments')}</th><th class="num">${t('rebates')}</th><th class="num">${t('closing')}</th><th>${t('download')}</th></tr></thead>
        <tbody>${day.rows.map((s) => html`<tr><td>${s.resellerCode} ${s.resellerName}</td><td class="num">${yuan(s.openingFen)}</td><td class="num">${yuan(s.topupsFen)}</td>
          <td class="num">${s.ordersCount} / ${yuan(s.ordersGrossFen)}</td><td class="num">${yuan(s.refundsFen)}</td><td class="num">${yuan(s.adjustmentsFen)}</td><td class="num">${yuan(s.rebatesFen)}</td>
          <td class="num">${yuan(s.closingFen)}</td>
          <td><a class="download" href="/settlement/statement?reseller=${s.resellerCode}&from=${date}&to=${date}&format=xlsx">XLSX</a> · <a href="/settlement/statement?reseller=${s.resellerCode}&from=${date}&to=${date}&format=csv">CSV (zip)</a></td></tr>`)}</tbody></table>
        ${pager(p, day.total, `/settlement`, t)}
      </section>` : ''}
      <section>
        <h2>${t('payoutBatches')}</h2>
        ${finance ? html`<form method="post" action="/settlement/payouts/draft" class="act" id="payout-draft">${csrfField(res)}
          <label>${t('from')} <input type="date" name="from" required></label> <label>${t('to')} <input type="date" name="to" required></label>
          <button>${t('newDraft')}</button></form>` : ''}
        ${batches.rows.length === 0 ? html`<p>${t('noData')}</p>` : html`<table><thead><tr><th>#</th><th>${t('status')}</th><th>${t('period')}</th><th class="num">${t('total')}</th><th>${t('createdBy')}</th><th>${t('approvedBy')}</th><th>${t('bankReference')}</th><th>${t('download')}</th></tr></thead>
        <tbody>${batches.rows.map((b) => html`<tr><td>${b.id}</td><td class="${b.status === 'failed' ? 'bad' : ''}" data-status="${b.status}">${statusWord(t, b.status)}</td><td>${b.periodFrom} ~ ${b.periodTo}</td><td class="num">${yuan(b.totalFen)}</td><td>${b.createdBy}</td><td>${b.approvedBy ?? ''}</td><td>${b.bankReference ?? ''}</td>
          <td><a href="/settlement/payouts/${b.id}.xlsx">XLSX</a> · <a href="/settlement/payouts/${b.id}.csv">CSV</a>${finance && b.status === 'approved' ? html` · <a href="/settlement/payouts/${b.id}.xlsx?for=bank" class="for-bank">${t('forBank')}</a>` : ''}
          ${finance && b.status === 'draft' ? html`<form method="post" action="/settlement/payouts/${b.id}/approve" class="inline">${csrfField(res)}<button>${t('approve')}</button></form>
            <form method="post" action="/settlement/payouts/${b.id}/cancel" class="act">${csrfField(res)}<input name="reason" placeholder="${t('reason')}" required minlength="3"><button>${t('cancel')}</button></form>` : ''}
          ${finance && b.status === 'approved' ? html`<form method="post" action="/settlement/payouts/${b.id}/paid" class="act">${csrfField(res)}<input name="reference" placeholder="${t('bankReference')}" required><button>${t('markPaid')}</button></form>
            <form method="post" action="/settlement/payouts/${b.id}/failed" class="act">${csrfField(res)}<input name="reason" placeholder="${t('reason')}" required minlength="3"><button>${t('markFailed')}</button></form>` : ''}</td></tr>`)}</tbody></table>`}
      </section>`;
    res.type('html').send(layout({ lang, title: t('settlement'), active: 'settlement', body, path: '/settlement', session: sessionOf(res) }).value);
  };
}

/** "#12 approved", "2 days" as the page says them. */
function settlementNotice(done: string, t: ReturnType<typeof translator>): string {
  const batch = /^payout:(\d+):(\w+)$/.exec(done);
  if (batch) return `${t('payoutBatches')} #${batch[1]} ${statusWord(t, batch[2])}`;
  const settled = /^settled:(\d+)$/.exec(done);
  if (settled) return `${settled[1]} ${t('daysSettled')}`;
  const drafted = /^drafted:(\d+)$/.exec(done);
  if (drafted) return `${t('payoutBatches')} #${drafted[1]} ${actionWord(t, 'payout.draft')}`;
  return done;
}

const CONTENT_TYPES: Record<ExportFormat | 'zip', string> = {
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  csv: 'text/csv; charset=utf-8',
  zip: 'application/zip',
};

function formatOf(value: unknown): ExportFormat {
  if (value !== 'xlsx' && value !== 'csv') throw new ValidationError('format must be xlsx or csv');
  return value;
}

function attachment(res: Response, name: string, format: ExportFormat | 'zip'): void {
  res.setHeader('Content-Type', CONTENT_TYPES[format]);
  res.setHeader('Content-Disposition', `attachment; filename="${name.replace(/[^\w.-]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`);
}

/** Downloads stream straight into the HTTP response: a large statement never sits in memory. */
export function settlementDownloads(deps: DashboardDeps) {
  const statements = new Statements(deps.db);
  const payouts = new Payouts(deps.db, deps.ledger);
  return {
    statement: async (req: Request, res: Response) => {
      const format = formatOf(req.query.format ?? 'xlsx');
      const reseller = String(req.query.reseller ?? '');
      const from = assertBusinessDate(String(req.query.from ?? ''), 'from');
      const to = assertBusinessDate(String(req.query.to ?? from), 'to');
      if ((await statements.forReseller(reseller, from, to)).length === 0) throw new ValidationError(`no settled statement of ${reseller} between ${from} and ${to}`);
      // CSV: one table per file, the files in a zip
      attachment(res, `statement-${reseller}-${from}-${to}.${format === 'csv' ? 'zip' : format}`, format === 'csv' ? 'zip' : format);
      await exportResellerStatement(statements, { resellerCode: reseller, from, to, format }, res);
    },
    day: async (req: Request, res: Response) => {
      const date = assertBusinessDate(String(req.query.date ?? ''), 'date');
      await statements.assertSettled(date);
      attachment(res, `settlement-${date}.xlsx`, 'xlsx');
      await exportDaySummary(statements, date, res);
    },
    dayCsv: async (req: Request, res: Response) => {
      const date = assertBusinessDate(String(req.query.date ?? ''), 'date');
      await statements.assertSettled(date);
      attachment(res, `settlement-${date}-csv.zip`, 'zip');
      await exportDaySummaryCsv(statements, date, res);
    },
    payout: async (req: Request, res: Response) => {
      const format = formatOf(req.params.format);
      const batch = await payouts.get(Number(req.params.id));
      // bank accounts masked, except in the file finance sends to the bank (?for=bank, an approved batch)
      const forBank = req.query.for === 'bank';
      if (forBank && !can(sessionOf(res), 'settlement')) throw new ForbiddenError('only finance exports the file for the bank');
      const accounts = deps.suppliers ? await payoutBankAccounts(deps.suppliers, batch, { forBank }) : undefined;
      attachment(res, `payout-${batch.id}${forBank ? '-bank' : ''}.${format}`, format);
      await exportPayoutBatch(batch, format, res, accounts);
    },
  };
}

/** Finance's actions: settle through a date (by the workflow), approve a payout, record its payment. */
export function settlementActionsOf(deps: DashboardDeps) {
  const payouts = new Payouts(deps.db, deps.ledger);
  return {
    settle: async (req: Request, res: Response) => {
      const date = assertBusinessDate(String(req.body?.date ?? ''), 'date');
      const result = await runSettlement(deps.client, deps.config, { date, actor: actorOfRequest(res) });
      res.redirect(303, `/settlement?date=${date}&done=${encodeURIComponent(`settled:${result.settled.length}`)}`);
    },
    draft: async (req: Request, res: Response) => {
      const from = assertBusinessDate(String(req.body?.from ?? ''), 'from');
      const to = assertBusinessDate(String(req.body?.to ?? ''), 'to');
      if (from > to) throw new ValidationError(`from (${from}) is after to (${to})`);
      const batch = await payouts.draft({ from, to, actor: actorOfRequest(res) });
      res.redirect(303, `/settlement?done=${encodeURIComponent(`drafted:${batch.id}`)}`);
    },
    payout: async (req: Request, res: Response) => {
      const id = Number(req.params.id);
      const actor = actorOfRequest(res);
      const batch = req.params.step === 'approve' ? await payouts.approve(id, actor)
        : req.params.step === 'paid' ? await payouts.markPaid(id, actor, String(req.body?.reference ?? ''))
          : req.params.step === 'failed' ? await payouts.markFailed(id, actor, String(req.body?.reason ?? ''))
            : req.params.step === 'cancel' ? await payouts.cancel(id, actor, String(req.body?.reason ?? ''))
              : undefined;
      if (!batch) throw new ValidationError(`unknown payout step ${req.params.step}: approve, paid, failed or cancel`);
      res.redirect(303, `/settlement?done=${encodeURIComponent(`payout:${batch.id}:${batch.status}`)}`);
    },
  };
}

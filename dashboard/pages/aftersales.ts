import type express from 'express';
import type { Request, Response } from 'express';
import { decideComplaint } from '../../src/aftersales/complaints.ts';
import { complaintDetail, complaintQueue, complaintRates, exportClaims, queueFilterOf, searchOrders, supplierClaims, type ComplaintRate } from '../../src/aftersales/queue.ts';
import { COMPLAINT_KINDS } from '../../src/aftersales/types.ts';
import { formatShanghai } from '../../src/dates.ts';
import { NotFoundError } from '../../src/errors.ts';
import { displayYuan, parseYuan } from '../../src/money.ts';
import type { DashboardDeps } from '../deps.ts';
import { actorOfRequest, can, csrfField, requirePermission, sessionOf } from '../auth.ts';
import { html, type SafeHtml } from '../html.ts';
import { langOf, translator } from '../i18n.ts';
import { layout } from '../layout.ts';
import { pageOf, pager } from '../pagination.ts';

type T = ReturnType<typeof translator>;

/** After-sales (售后): the queue, one complaint with its timeline and decisions, supplier quality, claims, order search. */
export function mountAftersalesPages(app: express.Express, deps: DashboardDeps): void {
  app.get('/aftersales', queuePage(deps));
  app.get('/aftersales/claims.:format', claimsExport(deps));
  app.get('/aftersales/:id', detailPage(deps));
  app.post('/aftersales/:id/decide', requirePermission('fulfillment'), decide(deps));
  app.get('/orders/search', searchPage(deps));
}

/** What is left until a deadline, or how long it is overdue (the page's script keeps it counting). */
function countdown(due: Date, t: T): SafeHtml {
  const ms = new Date(due).getTime() - Date.now();
  const abs = Math.abs(ms);
  const text = `${Math.floor(abs / 3_600_000)}h ${Math.floor((abs % 3_600_000) / 60_000)}m`;
  return html`<span class="sla ${ms < 0 ? 'bad' : ''}" data-due="${new Date(due).toISOString()}">${ms < 0 ? `${t('asOverdue')} ${text}` : `${t('asLeft')} ${text}`}</span>`;
}

const statusLabel = (t: T, status: string) => t(`as_${status}` as Parameters<T>[0]);
const kindLabel = (t: T, kind: string) => t(`as_${kind}` as Parameters<T>[0]);

function ratesTable(rows: ComplaintRate[], head: string, t: T): SafeHtml {
  if (rows.length === 0) return html`<p>${t('noData')}</p>`;
  return html`<table><thead><tr><th>${head}</th><th class="num">${t('asDelivered')}</th><th class="num">${t('asComplaints')}</th><th class="num">${t('asUpheld')}</th><th class="num">${t('asRate')}</th></tr></thead>
    <tbody>${rows.map((r) => html`<tr><td>${r.key}</td><td class="num">${r.delivered}</td><td class="num">${r.complaints}</td><td class="num">${r.upheld}</td><td class="num ${r.rate > 0.01 ? 'bad' : ''}">${(r.rate * 100).toFixed(2)}%</td></tr>`)}</tbody></table>`;
}

/** Supplier quality (complaint rates) as a section for other pages: the overview (by supplier) and stock (by supplier and SKU). */
export async function supplierQualitySection(deps: Pick<DashboardDeps, 'db'>, t: T, by: ('supplier' | 'sku')[]): Promise<SafeHtml> {
  const tables = await Promise.all(by.map(async (b) => html`<h3>${b === 'supplier' ? t('bySupplier') : t('bySku')}</h3>${ratesTable(await complaintRates(deps.db, b), b === 'supplier' ? t('supplier') : 'SKU', t)}`));
  return html`<section class="supplier-quality"><h2>${t('asQuality')}</h2>${tables} <p><a href="/aftersales">${t('asQueue')}</a></p></section>`;
}

function queuePage(deps: DashboardDeps) {
  return async (req: Request, res: Response) => {
    const lang = langOf(req, res);
    const t = translator(lang);
    const p = pageOf(req, 50);
    const filter = queueFilterOf(req.query as Record<string, unknown>, { limit: p.size, offset: p.offset });
    const [{ rows, total }, bySupplier, bySku] = await Promise.all([
      complaintQueue(deps.db, filter), complaintRates(deps.db, 'supplier'), complaintRates(deps.db, 'sku'),
    ]);
    const body = html`<section>
      <h2>${t('asQueue')}</h2>
      <form method="get" action="/aftersales" class="act">
        <select name="status">${['open', 'replaced', 'refunded', 'rejected', 'all'].map((s) => html`<option value="${s}" ${filter.status === s ? 'selected' : ''}>${s === 'all' ? t('all') : statusLabel(t, s)}</option>`)}</select>
        <select name="kind"><option value="">${t('all')}</option>${COMPLAINT_KINDS.map((k) => html`<option value="${k}" ${filter.kind === k ? 'selected' : ''}>${kindLabel(t, k)}</option>`)}</select>
        <input name="supplier" placeholder="${t('supplier')}" value="${filter.supplier ?? ''}">
        <label><input type="checkbox" name="escalated" value="1" ${filter.escalated ? 'checked' : ''}> ${t('asEscalatedOnly')}</label>
        <button>${t('filter')}</button>
      </form>
      ${rows.length === 0 ? html`<p>${t('noData')}</p>` : html`<table id="complaints"><thead><tr><th>#</th><th>${t('asReseller')}</th><th>${t('order')}</th><th>${t('asKind')}</th><th>${t('asSerial')}</th><th>${t('supplier')}</th><th>${t('asSupplierAnswer')}</th><th>${t('status')}</th><th>${t('asSla')}</th></tr></thead>
      <tbody>${rows.map((c) => html`<tr data-complaint="${c.complaintKey}"><td><a href="/aftersales/${c.id}">#${c.id}</a></td><td>${c.resellerCode}</td><td>${c.resellerOrderId}</td><td>${kindLabel(t, c.kind)}</td><td>${c.serial ?? ''}</td><td>${c.supplierCode ?? ''}</td><td>${c.supplierVerdict ?? '…'}</td>
        <td class="${c.escalation ? 'bad' : ''}">${statusLabel(t, c.status)}${c.escalation ? html` · ${t('asEscalated')}` : ''}</td>
        <td>${c.status === 'open' ? countdown(c.escalation ? c.resolutionDue : c.firstResponseDue, t) : formatShanghai(c.decidedAt!)}</td></tr>`)}</tbody></table>`}
      ${pager(p, total, '/aftersales', t)}
      <p><a href="/aftersales/claims.xlsx">${t('asClaimsExport')} (XLSX)</a> · <a href="/aftersales/claims.csv">CSV</a> · <a href="/orders/search">${t('asOrderSearch')}</a></p>
    </section>
    <section id="supplier-quality"><h2>${t('asQuality')}</h2>
      <h3>${t('bySupplier')}</h3>${ratesTable(bySupplier, t('supplier'), t)}
      <h3>${t('bySku')}</h3>${ratesTable(bySku, 'SKU', t)}
    </section>
    <script src="/assets/aftersales.js"></script>`;
    res.type('html').send(layout({ lang, title: t('aftersales'), active: 'aftersales', body, path: '/aftersales', session: sessionOf(res) }).value);
  };
}

function detailPage(deps: DashboardDeps) {
  return async (req: Request, res: Response) => {
    const lang = langOf(req, res);
    const t = translator(lang);
    const d = await complaintDetail(deps.db, Number(req.params.id));
    const c = d.complaint;
    const mayDecide = can(sessionOf(res), 'fulfillment') && c.status === 'open';
    const body = html`
      ${req.query.done ? html`<p class="notice">${t('done')}: ${['replaced', 'refunded', 'rejected'].includes(String(req.query.done)) ? statusLabel(t, String(req.query.done)) : String(req.query.done)}</p>` : ''}
      <section>
        <h2>${t('asComplaint')} #${c.id} <span id="complaint-status" class="${c.escalation ? 'bad' : ''}">${statusLabel(t, c.status)}</span></h2>
        <p>${d.resellerCode} · ${c.complaintKey} · ${t('order')} ${d.order.resellerOrderId} (${d.order.sku}${d.order.account ? ` → ${d.order.account}` : ''}, ${displayYuan(d.order.amountFen)}) · ${kindLabel(t, c.kind)}${c.serial ? html` · ${t('asSerial')} ${c.serial}` : ''}</p>
        <p>${t('asNote')}: ${c.note || '—'}</p>
        <p>${t('supplier')} ${d.supplierCode ?? '—'} · ${t('asSupplierAnswer')}: <strong id="supplier-verdict">${c.supplierVerdict ?? '…'}</strong></p>
        ${c.status === 'open' ? html`<p>${t('asFirstResponseDue')} ${formatShanghai(c.firstResponseDue)} (${countdown(c.firstResponseDue, t)}) · ${t('asResolutionDue')} ${formatShanghai(c.resolutionDue)} (${countdown(c.resolutionDue, t)})${c.escalation ? html` · <span class="bad">${t('asEscalated')}</span>` : ''}</p>`
          : html`<p>${statusLabel(t, c.status)} · ${c.decidedBy} · ${formatShanghai(c.decidedAt!)} · ${c.decisionReason}${c.refundFen ? ` · ${displayYuan(c.refundFen)}` : ''}${d.replacementSerial ? html` · ${t('asReplacementSerial')} ${d.replacementSerial}` : ''}</p>`}
        ${d.claim ? html`<p>${t('asClaim')} #${d.claim.id}: ${displayYuan(d.claim.amountFen)} · ${d.claim.status} · ${d.claim.reference}</p>` : ''}
        ${mayDecide ? html`<form method="post" action="/aftersales/${c.id}/decide" class="act" id="decide">
          ${csrfField(res)}
          ${d.order.kind === 'card_code' ? html`<button type="submit" name="decision" value="replace">${t('asReplace')}</button>` : ''}
          <button type="submit" name="decision" value="refund">${t('asRefund')}</button>
          <button type="submit" name="decision" value="reject">${t('asReject')}</button>
          <input name="amount" placeholder="${t('asRefundAmount')}" inputmode="decimal">
          <input name="reason" placeholder="${t('reason')}" required minlength="3">
        </form>` : ''}
      </section>
      <section id="timeline"><h2>${t('asTimeline')}</h2>
        <table><tbody>${d.timeline.map((e) => html`<tr><td>${formatShanghai(e.at)}</td><td>${t(`asEvent_${e.kind}` as Parameters<T>[0])}</td><td>${e.actor}</td><td><code>${JSON.stringify(e.detail)}</code></td></tr>`)}</tbody></table>
      </section>
      <script src="/assets/aftersales.js"></script>`;
    res.type('html').send(layout({ lang, title: `${t('asComplaint')} #${c.id}`, active: 'aftersales', body, path: `/aftersales/${c.id}`, session: sessionOf(res) }).value);
  };
}

function decide(deps: DashboardDeps) {
  return async (req: Request, res: Response) => {
    const id = Number(req.params.id);
    const amount = String(req.body?.amount ?? '').trim();
    const state = await decideComplaint({ db: deps.db, temporal: deps.client }, id, {
      actor: actorOfRequest(res), decision: String(req.body?.decision ?? ''), reason: String(req.body?.reason ?? ''),
      amountFen: amount ? parseYuan(amount, 'refund amount') : undefined,
    });
    res.redirect(303, `/aftersales/${id}?done=${encodeURIComponent(state.status)}`);
  };
}

function claimsExport(deps: DashboardDeps) {
  return async (req: Request, res: Response) => {
    const format = req.params.format === 'csv' ? 'csv' : req.params.format === 'xlsx' ? 'xlsx' : undefined;
    if (!format) throw new NotFoundError('export format', String(req.params.format));
    const supplier = typeof req.query.supplier === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(req.query.supplier) ? req.query.supplier : undefined;
    const lines = await supplierClaims(deps.db, { supplier, status: req.query.status === 'open' || req.query.status === 'netted' ? req.query.status : undefined });
    res.attachment(`claims${supplier ? `-${supplier}` : ''}.${format}`);
    res.type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    await exportClaims(lines, res, format);
  };
}

function searchPage(deps: DashboardDeps) {
  return async (req: Request, res: Response) => {
    const lang = langOf(req, res);
    const t = translator(lang);
    const q = typeof req.query.q === 'string' ? req.query.q : '';
    const found = q ? await searchOrders(deps.db, q) : [];
    const body = html`<section>
      <h2>${t('asOrderSearch')}</h2>
      <form method="get" action="/orders/search" class="act"><input name="q" value="${q}" placeholder="${t('asSearchHint')}" size="40"><button>${t('filter')}</button></form>
      ${q && found.length === 0 ? html`<p>${t('noData')}</p>` : ''}
      ${found.length ? html`<table id="search-results"><thead><tr><th>${t('order')}</th><th>${t('asReseller')}</th><th>SKU</th><th>${t('rechargeAccount')}</th><th class="num">${t('amount')}</th><th>${t('status')}</th><th>${t('asSerials')}</th><th>${t('asComplaints')}</th></tr></thead>
      <tbody>${found.map((o) => html`<tr><td>${o.resellerOrderId} (#${o.id})</td><td>${o.resellerCode}</td><td>${o.sku}</td><td>${o.account ?? ''}</td><td class="num">${displayYuan(o.amountFen)}</td><td>${o.status}</td>
        <td>${o.codes.map((c) => html`<div>${c.serial} · ${t('asBatch')} ${c.batch} · ${c.supplier ?? '—'}</div>`)}</td>
        <td>${o.complaints.map((k) => html`<div><a href="/aftersales/${k.id}">${k.complaintId}</a> ${kindLabel(t, k.kind)} ${statusLabel(t, k.status)}</div>`)}</td></tr>`)}</tbody></table>` : ''}
    </section>`;
    res.type('html').send(layout({ lang, title: t('asOrderSearch'), active: 'aftersales', body, path: `/orders/search${q ? `?q=${encodeURIComponent(q)}` : ''}`, session: sessionOf(res) }).value);
  };
}


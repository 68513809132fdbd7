import type express from 'express';
import type { Request, Response } from 'express';
import { ComplaintService } from '../../src/aftersales/complaints.ts';
import { Catalog } from '../../src/catalog/catalog.ts';
import { formatShanghai } from '../../src/dates.ts';
import { KamengError, NotFoundError } from '../../src/errors.ts';
import { displayYuan } from '../../src/money.ts';
import { COMPLAINT_STATUSES, newPortalComplaintId, PortalComplaints } from '../../src/portal/complaints.ts';
import { exportPriceList, portalPriceList } from '../../src/portal/price-list.ts';
import { setResellerUserDisabled } from '../../src/portal/user-status.ts';
import type { PortalActor, PortalSession } from '../../src/portal/users.ts';
import { howToPay, walletMovements } from '../../src/portal/wallet-info.ts';
import type { DashboardDeps } from '../deps.ts';
import { html, type SafeHtml } from '../html.ts';
import type { Lang, LabelKey } from '../i18n.ts';

type T = (key: LabelKey) => string;

/** What portal.ts lends its pages: its layout, the session and the CSRF field. */
export interface PortalKit {
  page(req: Request, res: Response, title: LabelKey, active: string, body: (t: T, lang: Lang) => SafeHtml, scripts?: string[], status?: number): void;
  csrfField(res: Response): SafeHtml;
  sessionOf(res: Response): PortalSession;
}

/** What the wallet and users pages of portal.ts show from here. */
export interface PortalPageParts {
  /** The receiving account with the reference to quote, and the adjustments and rebates (paged by ?mpage=). */
  wallet(req: Request, res: Response): Promise<(t: T, lang: Lang) => SafeHtml>;
  userHead(t: T): SafeHtml;
  userCells(res: Response, t: T, user: { id: number; disabled: boolean }): SafeHtml;
}

const pageOf = (v: unknown) => Math.max(1, Math.min(100_000, Number.parseInt(String(v ?? '1'), 10) || 1));
const PRICES_PER_PAGE = 50;
const COMPLAINTS_PER_PAGE = 30;
const MOVEMENTS_PER_PAGE = 30;

/**
 * The portal's price list, complaints (售后), the wallet's bank account, adjustments and rebates,
 * and the owner's disabling of users (issue 24), registered on the portal's router after its
 * session and CSRF check: every route reads the session's own reseller only.
 */
export function registerPortalPages(r: express.Router, deps: DashboardDeps, kit: PortalKit): PortalPageParts {
  const { page, csrfField, sessionOf } = kit;
  const catalog = new Catalog(deps.db);
  const service = deps.vault ? new ComplaintService({
    db: deps.db, vault: deps.vault, temporal: deps.client, taskQueue: deps.config.temporal.taskQueues.fulfillment,
    windowHours: deps.config.fulfillment.aftersales?.complaintWindowHours ?? 72,
  }) : undefined;
  const complaints = new PortalComplaints({ db: deps.db, resellers: deps.resellers!, service });
  const windowHours = deps.config.fulfillment.aftersales?.complaintWindowHours ?? 72;

  // ---- price list ----
  r.get('/prices', async (req, res) => {
    const search = String(req.query.q ?? '').slice(0, 100);
    const pageNo = pageOf(req.query.page);
    const { tier, rows, more } = await portalPriceList(deps.db, catalog, sessionOf(res).user, { search, limit: PRICES_PER_PAGE, offset: (pageNo - 1) * PRICES_PER_PAGE });
    const link = (n: number) => `/portal/prices?${new URLSearchParams({ ...(search ? { q: search } : {}), page: String(n) })}`;
    const exportLink = (format: string) => `/portal/prices.${format}${search ? `?${new URLSearchParams({ q: search })}` : ''}`;
    page(req, res, 'portal_prices', 'prices', (t, lang) => html`
      <section><p>${t('portal_yourTier')}: <strong id="price-tier">${t(`portal_tier_${tier}` as LabelKey)}</strong></p>
        <form method="get" action="/portal/prices" class="act"><label>${t('portal_priceSearch')} <input name="q" value="${search}" maxlength="100"></label>
          <button type="submit">${t('portal_search')}</button></form>
        <p>${t('portal_exportPrices')}: <a id="prices-xlsx" href="${exportLink('xlsx')}">XLSX</a> · <a id="prices-csv" href="${exportLink('csv')}">CSV</a></p></section>
      <section>${rows.length === 0 ? html`<p id="no-prices">${t('portal_noPrices')}</p>` : html`<div class="scroll"><table id="prices"><thead><tr>
        <th>${t('portal_sku')}</th><th>${t('portal_skuName')}</th><th>${t('portal_brand')}</th><th>${t('portal_kind')}</th><th class="num">${t('portal_faceValue')}</th>
        <th class="num">${t('portal_yourPrice')}</th><th>${t('portal_priceFrom')}</th><th class="num">${t('portal_tierPrice')}</th></tr></thead>
        <tbody>${rows.map((p) => html`<tr data-sku="${p.code}" data-source="${p.source}"><td>${p.code}</td><td class="free-text">${lang === 'zh' ? p.nameZh : p.nameEn}</td><td class="free-text">${p.brand}</td>
          <td>${t(`portal_kind_${p.kind}` as LabelKey)}</td><td class="num">${displayYuan(p.faceValueFen)}</td><td class="num price">${displayYuan(p.priceFen)}</td>
          <td>${t(`portal_source_${p.source}` as LabelKey)}</td><td class="num">${p.source === 'override' && p.tierPriceFen !== null ? displayYuan(p.tierPriceFen) : ''}</td></tr>`)}</tbody></table></div>`}
        <div class="pager">${pageNo > 1 ? html`<a href="${link(pageNo - 1)}">←</a>` : ''}${more ? html`<a href="${link(pageNo + 1)}">→</a>` : ''}</div></section>`);
  });
  r.get('/prices.:format', async (req, res) => {
    const format = req.params.format;
    if (format !== 'xlsx' && format !== 'csv') throw new NotFoundError('price list', `prices.${format}`);
    const actor = sessionOf(res).user;
    const name = `price-list-${actor.resellerCode}.${format}`;
    res.setHeader('Content-Type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    res.setHeader('Content-Disposition', `attachment; filename="${name.replace(/[^\w.-]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`);
    await exportPriceList(deps.db, catalog, actor, format, String(req.query.q ?? '').slice(0, 100), res);
  });

  // ---- complaints (售后): the reseller API's complaints, filed and followed here ----
  const kindWord = (t: T, kind: string) => t(`portal_ckind_${kind}` as LabelKey);
  const statusWord = (t: T, status: string) => t(`portal_cstatus_${status}` as LabelKey);
  r.get('/complaints', async (req, res) => {
    const pageNo = pageOf(req.query.page);
    const { status, rows, more } = await complaints.list(sessionOf(res).user, { status: String(req.query.status ?? ''), limit: COMPLAINTS_PER_PAGE, offset: (pageNo - 1) * COMPLAINTS_PER_PAGE });
    const link = (n: number, s = status) => `/portal/complaints?${new URLSearchParams({ ...(s ? { status: s } : {}), ...(n > 1 ? { page: String(n) } : {}) })}`;
    page(req, res, 'portal_complaints', 'complaints', (t) => html`
      <section><p>${[html`<a href="/portal/complaints" class="${status ? '' : 'active'}">${t('portal_allStatuses')}</a>`,
        ...COMPLAINT_STATUSES.map((s) => html` · <a href="${link(1, s)}" class="${status === s ? 'active' : ''}">${statusWord(t, s)}</a>`)]}</p>
        <p>${t('portal_complaintWindow')}: ${windowHours} · <a href="/portal/orders">${t('portal_orders')}</a> → ${t('portal_fileComplaint')}</p></section>
      <section>${rows.length === 0 ? html`<p id="no-complaints">${t('portal_noComplaints')}</p>` : html`<div class="scroll"><table id="complaints"><thead><tr>
        <th>${t('portal_complaintNo')}</th><th>${t('portal_orderId')}</th><th>${t('portal_complaintKind')}</th><th>${t('portal_serial')}</th><th>${t('portal_status')}</th><th>${t('portal_filedAt')}</th></tr></thead>
        <tbody>${rows.map((c) => html`<tr data-complaint="${c.complaintKey}" data-status="${c.status}"><td><a href="/portal/complaints/${c.id}">${c.complaintKey}</a></td>
          <td><a href="/portal/orders/${c.orderId}">${c.resellerOrderId}</a></td><td>${kindWord(t, c.kind)}</td><td>${c.serial ?? ''}</td><td>${statusWord(t, c.status)}</td><td>${formatShanghai(c.createdAt)}</td></tr>`)}</tbody></table></div>`}
        <div class="pager">${pageNo > 1 ? html`<a href="${link(pageNo - 1)}">←</a>` : ''}${more ? html`<a href="${link(pageNo + 1)}">→</a>` : ''}</div></section>`);
  });

  const complaintForm = async (req: Request, res: Response, refused?: { message: string; code: string; status: number }) => {
    const { order, serials, kinds } = await complaints.fileable(sessionOf(res).user, Number(req.params.id));
    const kept = refused ? req.body ?? {} : {};
    const complaintId = typeof kept.complaintId === 'string' && /^portal-[a-z0-9-]{1,50}$/.test(kept.complaintId) ? kept.complaintId : newPortalComplaintId();
    const deliverable = order.status === 'delivered' || order.status === 'succeeded';
    page(req, res, 'portal_fileComplaint', 'complaints', (t) => html`
      <section><h2>${t('portal_fileComplaint')}</h2>
        <dl class="facts"><dt>${t('portal_complaintOrder')}</dt><dd><a href="/portal/orders/${order.id}">${order.resellerOrderId}</a></dd><dt>${t('portal_sku')}</dt><dd>${order.sku}</dd>
          ${order.account ? html`<dt>${t('portal_account')}</dt><dd>${order.account}</dd>` : ''}</dl>
        <p>${t('portal_complaintWindow')}: ${windowHours}</p>
        ${refused ? html`<p class="error" id="error" data-code="${refused.code}">${refused.message}</p>` : ''}
        ${deliverable ? html`<form method="post" action="/portal/orders/${order.id}/complaint" class="act" id="complaint-form">${csrfField(res)}
          <input type="hidden" name="complaintId" value="${complaintId}">
          <label>${t('portal_complaintKind')} <select name="kind">${kinds.map((k) => html`<option value="${k}" ${kept.kind === k ? 'selected' : ''}>${kindWord(t, k)}</option>`)}</select></label>
          ${serials.length ? html`<label>${t('portal_serial')} <select name="serial">${serials.map((s) => html`<option value="${s}" ${kept.serial === s ? 'selected' : ''}>${s}</option>`)}</select></label>` : ''}
          <label>${t('portal_note')} <textarea name="note" maxlength="500" rows="3">${typeof kept.note === 'string' ? kept.note : ''}</textarea></label>
          <button type="submit" id="submit-complaint">${t('portal_submitComplaint')}</button></form>` : html`<p id="not-deliverable">${t('portal_cannotComplain')}</p>`}</section>`,
    undefined, refused?.status ?? 200);
  };
  r.get('/orders/:id/complaint', (req, res) => complaintForm(req, res));
  r.post('/orders/:id/complaint', async (req, res) => {
    try {
      const { id } = await complaints.file(sessionOf(res).user, Number(req.params.id), req.body ?? {});
      res.redirect(303, `/portal/complaints/${id}`);
    } catch (err) {
      // a refusal (a closed window, one already open, bad input) shows the form again with why; nothing was filed
      if (!(err instanceof KamengError) || err instanceof NotFoundError || err.retryable) throw err;
      const status = err.code === 'COMPLAINT_EXISTS' || err.code === 'IDEMPOTENCY_CONFLICT' ? 409 : err.code === 'COMPLAINT_WINDOW_CLOSED' ? 422 : 400;
      await complaintForm(req, res, { message: err.message, code: err.code, status });
    }
  });

  r.get('/complaints/:id', async (req, res) => {
    const { complaint: c, order, replacementSerial, timeline } = await complaints.detail(sessionOf(res).user, Number(req.params.id));
    page(req, res, 'portal_complaints', 'complaints', (t) => html`
      <section id="complaint-detail" data-status="${c.status}"><h2>${c.complaintKey}</h2>
        <dl class="facts"><dt>${t('portal_complaintOrder')}</dt><dd><a href="/portal/orders/${order.id}">${order.resellerOrderId}</a></dd>
          <dt>${t('portal_complaintKind')}</dt><dd>${kindWord(t, c.kind)}</dd>
          ${c.serial ? html`<dt>${t('portal_serial')}</dt><dd>${c.serial}</dd>` : ''}
          ${c.note ? html`<dt>${t('portal_note')}</dt><dd><span class="free-text">${c.note}</span></dd>` : ''}
          <dt>${t('portal_status')}</dt><dd id="complaint-status">${statusWord(t, c.status)}</dd>
          <dt>${t('portal_supplierCheck')}</dt><dd>${t(`portal_verdict_${c.supplierVerdict ?? 'pending'}` as LabelKey)}</dd>
          <dt>${t('portal_filedAt')}</dt><dd>${formatShanghai(c.createdAt)}</dd>
          ${c.status === 'open' ? html`<dt>${t('portal_resolutionDue')}</dt><dd>${formatShanghai(c.resolutionDue)}</dd>` : ''}
          ${c.decidedAt ? html`<dt>${t('portal_decidedAt')}</dt><dd>${formatShanghai(c.decidedAt)}</dd>` : ''}</dl></section>
      ${c.status !== 'open' ? html`<section id="outcome"><h3>${t('portal_outcome')}</h3><dl class="facts">
        <dt>${t('portal_outcome')}</dt><dd>${statusWord(t, c.status)}</dd>
        ${c.decisionReason ? html`<dt>${t('portal_reason')}</dt><dd><span class="free-text" id="decision-reason">${c.decisionReason}</span></dd>` : ''}
        ${c.refundFen !== null ? html`<dt>${t('portal_refundAmount')}</dt><dd id="refund-amount">${displayYuan(c.refundFen)}</dd>` : ''}
        ${replacementSerial ? html`<dt>${t('portal_replacementSerial')}</dt><dd>${replacementSerial} · <a href="/portal/orders/${order.id}">${t('portal_replacementHint')}</a></dd>` : ''}</dl></section>` : ''}
      <section><h3>${t('portal_timeline')}</h3><div class="scroll"><table id="complaint-timeline"><thead><tr><th>${t('portal_when')}</th><th>${t('portal_event')}</th><th>${t('portal_who')}</th></tr></thead>
        <tbody>${timeline.map((e) => {
          const known = ['filed', 'supplier_answer', 'supplier_unreachable', 'escalated', 'replace', 'refund', 'reject', 'callback'].includes(e.kind);
          const word = !known ? t('portal_event_other') : e.kind === 'callback' && !e.delivered ? t('portal_cevent_callback_failed') : t(`portal_cevent_${e.kind}` as LabelKey);
          return html`<tr data-event="${e.kind}"><td>${formatShanghai(e.at)}</td><td>${word}</td><td>${t(`portal_who_${e.who}` as LabelKey)}</td></tr>`;
        })}</tbody></table></div></section>
      <p><a href="/portal/complaints">${t('portal_back')}</a></p>`);
  });

  // ---- users: the owner disables and re-enables its own reseller's logins ----
  r.post('/users/:id/disable', async (req, res) => {
    await setResellerUserDisabled(deps.db, sessionOf(res).user, Number(req.params.id), true);
    res.redirect(303, '/portal/users');
  });
  r.post('/users/:id/enable', async (req, res) => {
    await setResellerUserDisabled(deps.db, sessionOf(res).user, Number(req.params.id), false);
    res.redirect(303, '/portal/users');
  });

  return {
    async wallet(req, res) {
      const actor: PortalActor = sessionOf(res).user;
      const pageNo = pageOf(req.query.mpage);
      const pay = howToPay(actor, deps.config.resellers.receivingBank);
      const { rows, more } = await walletMovements(deps.ledger, actor, { limit: MOVEMENTS_PER_PAGE, offset: (pageNo - 1) * MOVEMENTS_PER_PAGE });
      const link = (n: number) => `/portal/wallet?mpage=${n}`;
      return (t, lang) => html`
        <section id="receiving-account"><h3>${t('portal_receivingAccount')}</h3><dl class="facts">
          <dt>${t('portal_bankName')}</dt><dd id="bank-name">${lang === 'zh' ? pay.bankNameZh : pay.bankNameEn}</dd>
          <dt>${t('portal_accountName')}</dt><dd id="account-name">${lang === 'zh' ? pay.accountNameZh : pay.accountNameEn}</dd>
          <dt>${t('portal_accountNumber')}</dt><dd><code id="account-number">${pay.accountNumber}</code></dd>
          <dt>${t('portal_quoteReference')}</dt><dd><code id="quote-reference">${pay.reference}</code></dd></dl></section>
        <section><h3>${t('portal_adjustmentsRebates')}</h3>${rows.length === 0 ? html`<p id="no-movements">${t('portal_noMovements')}</p>` : html`<div class="scroll"><table id="movements"><thead><tr>
          <th>${t('portal_date')}</th><th>${t('portal_kind')}</th><th class="num">${t('portal_amount')}</th><th>${t('portal_reference')}</th><th>${t('portal_detail')}</th></tr></thead>
          <tbody>${rows.map((m) => html`<tr data-kind="${m.kind}"><td>${m.businessDate}</td><td>${t(`portal_movement_${m.kind}` as LabelKey)}</td><td class="num">${displayYuan(m.amountFen)}</td>
            <td>${m.reference}</td>${m.kind === 'rebate' ? html`<td>${m.netGrossFen !== null ? html`${t('portal_netGross')} ${displayYuan(m.netGrossFen)}` : ''}</td>` : html`<td class="free-text">${m.reason}</td>`}</tr>`)}</tbody></table></div>`}
          <div class="pager">${pageNo > 1 ? html`<a href="${link(pageNo - 1)}">←</a>` : ''}${more ? html`<a href="${link(pageNo + 1)}">→</a>` : ''}</div></section>`;
    },
    userHead: (t) => html`<th>${t('portal_userStatus')}</th><th></th>`,
    userCells(res, t, user) {
      const actor = sessionOf(res).user;
      const action = user.disabled ? 'enable' : 'disable';
      return html`<td data-disabled="${user.disabled ? 'yes' : 'no'}">${t(user.disabled ? 'portal_userDisabled' : 'portal_userActive')}</td>
        <td>${actor.role !== 'owner' || actor.supportBy ? '' : user.id === actor.resellerUserId ? t('portal_you')
          : html`<form method="post" action="/portal/users/${user.id}/${action}" class="inline">${csrfField(res)}<button type="submit" id="${action}-${user.id}">${t(action === 'enable' ? 'portal_enable' : 'portal_disable')}</button></form>`}</td>`;
    },
  };
}

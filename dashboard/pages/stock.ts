import type { Request, Response } from 'express';
import { fillRate } from '../../src/inventory/demand.ts';
import { stockLevels } from '../../src/inventory/stock.ts';
import { displayYuan } from '../../src/money.ts';
import { quarantinedCodes } from '../../src/procurement/quarantine.ts';
import { ProcurementRuns } from '../../src/procurement/runs.ts';
import { SupplierRegistry } from '../../src/suppliers/registry.ts';
import { EXPIRY_WARNING_DAYS } from '../../src/compliance/documents.ts';
import type { DashboardDeps } from '../deps.ts';
import { sessionOf } from '../auth.ts';
import { html } from '../html.ts';
import { langOf, translator } from '../i18n.ts';
import { layout } from '../layout.ts';
import { pageOf, pager } from '../pagination.ts';
import { supplierQualitySection } from './aftersales.ts';
import { temporalLink } from '../temporal-link.ts';

import { statusWord, when as shanghai } from '../words.ts';

/** 资质 expiry warnings at 30, 7 and 1 day (EXPIRY_WARNING_DAYS): the tightest one reached, as a marked cell. */
const expiryWarning = (daysLeft: number) => {
  const level = daysLeft < 0 ? 0 : [...EXPIRY_WARNING_DAYS].reverse().find((d) => daysLeft <= d);
  return html`<td class="expiry-warning ${level !== undefined && level <= 7 ? 'bad' : ''}" data-level="${level ?? ''}">${level === undefined ? '' : level === 0 ? '⚠ 0' : `⚠ ≤${level}`}</td>`;
};

/** Suppliers and stock: what is on the shelf, whose 资质 run out, what procurement did. */
export function stockPage(deps: DashboardDeps) {
  const suppliers = new SupplierRegistry(deps.db, deps.ledger);
  const runs = new ProcurementRuns(deps.db);
  return async (req: Request, res: Response) => {
    const lang = langOf(req, res);
    const t = translator(lang);
    const p = pageOf(req, 20);
    const fill = await fillRate(deps.db, new Date(Date.now() - 24 * 3_600_000));
    const [levels, expiring, recent, quarantine] = await Promise.all([
      stockLevels(deps.db), suppliers.expiringQualifications({ withinDays: 30 }), runs.recent({ limit: p.size, offset: p.offset }),
      quarantinedCodes(deps.db, { limit: 50, offset: 0 }),
    ]);
    const body = html`
      <section>
        <h2>${t('stock')}</h2>
        <p>${t('fillRate')} (24 h): <strong>${((fill.rate) * 100).toFixed(1)}%</strong> (${fill.served} / ${fill.served + fill.refused}) · <a href="/routing">${t('reorderPoint')} →</a></p>
        <table><thead><tr><th>SKU</th><th>${t('name')}</th><th class="num">${t('available')}</th><th class="num">${t('delivered')}</th><th class="num">${t('threshold')}</th><th></th></tr></thead>
        <tbody>${levels.map((l) => html`<tr><td>${l.sku}</td><td>${lang === 'zh' ? l.nameZh : l.nameEn}</td><td class="num">${l.available}</td><td class="num">${l.delivered}</td><td class="num">${l.threshold}</td><td class="${l.low ? 'bad' : ''}">${l.low ? t('lowStock') : ''}</td></tr>`)}</tbody></table>
      </section>
      ${await supplierQualitySection(deps, t, ['supplier', 'sku'])}
      <section>
        <h2>${t('expiringQualifications')}</h2>
        ${expiring.length === 0 ? html`<p>${t('noData')}</p>` : html`<table><thead><tr><th>${t('supplier')}</th><th>${t('qualification')}</th><th>${t('brand')}</th><th>${t('expires')}</th><th class="num">${t('daysLeft')}</th><th></th></tr></thead>
        <tbody>${expiring.map((q) => html`<tr><td>${q.supplierName}</td><td>${q.kind === 'business_licence' ? t('businessLicence') : q.kind === 'other' ? t('adm_kind_other') : t('brandAuthorisation')}</td><td>${q.brand ?? ''}</td><td>${q.expiresOn}</td><td class="num ${q.daysLeft < 0 ? 'bad' : ''}">${q.daysLeft < 0 ? t('expired') : q.daysLeft}</td>${expiryWarning(q.daysLeft)}</tr>`)}</tbody></table>`}
      </section>
      <section>
        <h2>${t('procurementRuns')}</h2>
        <table><thead><tr><th>SKU</th><th class="num">${t('quantity')}</th><th>${t('supplier')}</th><th>${t('status')}</th><th class="num">${t('cost')}</th><th class="num">${t('quarantined')}</th><th>${t('startedAt')}</th><th></th></tr></thead>
        <tbody>${recent.rows.map((r: Record<string, any>) => html`<tr><td>${r.sku_code}</td><td class="num">${r.quantity}</td><td>${r.supplier_code ?? ''}</td><td class="${r.status === 'failed' ? 'bad' : ''}">${statusWord(t, r.status)}</td><td class="num">${r.total_cost_fen === null ? '' : displayYuan(r.total_cost_fen)}</td><td class="num ${r.quarantined > 0 ? 'bad' : ''}">${r.quarantined || ''}</td><td>${shanghai(r.started_at)}</td><td>${temporalLink(deps.config, r.workflow_id, t('temporalUi'))}</td></tr>`)}</tbody></table>
        ${pager(p, recent.total, '/stock', t)}
      </section>
      <section id="quarantine">
        <h2>${t('quarantinedCodes')}</h2>
        ${quarantine.total === 0 ? html`<p>${t('noData')}</p>` : html`<table><thead><tr><th>${t('quarantinedAt')}</th><th>SKU</th><th>${t('supplier')}</th><th class="num">batch</th><th class="num">line</th><th>serial</th><th>${t('quarantineReason')}</th><th class="num">${t('cost')}</th><th>${t('claim')}</th></tr></thead>
        <tbody>${quarantine.rows.map((q) => html`<tr><td>${shanghai(q.quarantinedAt)}</td><td>${q.sku}</td><td>${q.supplierCode ?? ''}</td><td class="num">${q.batchId}</td><td class="num">${q.line}</td><td>${q.serial}</td><td class="bad free-text">${q.detail}</td><td class="num">${displayYuan(q.unitCostFen)}</td><td>${statusWord(t, q.claimStatus)}</td></tr>`)}</tbody></table>
        <p>${quarantine.total} · kameng quarantine</p>`}
      </section>`;
    res.type('html').send(layout({ lang, title: t('stock'), active: 'stock', body, path: '/stock', session: sessionOf(res) }).value);
  };
}

import type { Express, Request, Response } from 'express';
import { Alerts } from '../../src/alerts/alerts.ts';
import { isoShanghai } from '../../src/dates.ts';
import { demandPlans } from '../../src/inventory/demand.ts';
import { SupplierRouting, type BreakerOverride } from '../../src/routing/health.ts';
import type { DashboardDeps } from '../deps.ts';
import { actorOfRequest, can, csrfField, requirePermission, sessionOf } from '../auth.ts';
import { html } from '../html.ts';
import { langOf, translator } from '../i18n.ts';
import { layout } from '../layout.ts';

/**
 * /routing (issue 21): supplier health per SKU with its breaker and an ops override, demand-driven
 * reorder points with the fill rate, and the alerts firing. Mounted before the 404 catch-all.
 */
export function mountOperationsPages(app: Express, deps: DashboardDeps): void {
  const routing = new SupplierRouting(deps.db, deps.config.operations.routing);
  // listing states needs no key: the channels' secrets are never opened here
  const alerts = new Alerts(deps.db, Buffer.alloc(32), { thresholds: deps.config.operations.alerts, allowPrivate: false });

  app.get('/routing', async (req: Request, res: Response) => {
    const lang = langOf(req, res);
    const t = translator(lang);
    const session = sessionOf(res);
    const mayAct = can(session, 'fulfillment');
    const [health, plans, states] = await Promise.all([routing.overview(), demandPlans(deps.db, deps.config.operations.stock), alerts.states()]);
    const asked = plans.reduce((n, p) => n + p.soldUnits + p.missedUnits, 0);
    const served = plans.reduce((n, p) => n + p.soldUnits, 0);
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    const stateLabel = (s: string) => t(s === 'open' ? 'breakerOpen' : s === 'half_open' ? 'breakerHalfOpen' : 'breakerClosed');
    const body = html`
      <section>
        <h2>${t('supplierHealth')}</h2>
        <p>${t('routingMode')}: ${deps.config.operations.routing.mode === 'health' ? t('routingHealth') : t('routingPriority')}</p>
        ${health.length === 0 ? html`<p>${t('noData')}</p>` : html`<table><thead><tr><th>SKU</th><th>${t('supplier')}</th><th class="num">${t('priority')}</th><th class="num">${t('successRate')}</th><th class="num">${t('calls')}</th><th class="num">${t('latency')}</th><th class="num">${t('penalty')}</th><th>${t('breaker')}</th><th>${t('override')}</th>${mayAct ? html`<th></th>` : ''}</tr></thead>
        <tbody>${health.map((h) => html`<tr><td>${h.skuCode}</td><td>${h.supplierCode}</td><td class="num">${h.priority}</td><td class="num ${h.successRate < 0.8 ? 'bad' : ''}">${pct(h.successRate)}</td><td class="num">${h.calls}</td><td class="num">${h.avgLatencyMs === null ? '' : `${h.avgLatencyMs} ms`}</td><td class="num">${h.penalty}</td>
          <td class="${h.state === 'closed' ? '' : 'bad'}">${stateLabel(h.state)}</td><td>${h.override === 'auto' ? t('overrideAuto') : h.override === 'force_open' ? t('overrideForceOpen') : t('overrideForceClosed')}</td>
          ${mayAct ? html`<td><form method="post" action="/routing/override" class="act">${csrfField(res)}<input type="hidden" name="supplierId" value="${h.supplierId}"><input type="hidden" name="sku" value="${h.skuCode}">
            <select name="override"><option value="auto">${t('overrideAuto')}</option><option value="force_open">${t('overrideForceOpen')}</option><option value="force_closed">${t('overrideForceClosed')}</option></select>
            <input name="reason" required placeholder="${t('reason')}"><button>${t('apply')}</button></form></td>` : ''}</tr>`)}</tbody></table>`}
      </section>
      <section>
        <h2>${t('demandStock')}</h2>
        <p>${t('fillRate')}: <strong>${pct(asked === 0 ? 1 : served / asked)}</strong> (${served} / ${asked})</p>
        <table><thead><tr><th>SKU</th><th class="num">${t('available')}</th><th class="num">${t('velocity')}</th><th class="num">${t('leadTime')}</th><th class="num">${t('reorderPoint')}</th><th class="num">${t('batchSize')}</th><th class="num">${t('fillRate')}</th><th></th></tr></thead>
        <tbody>${plans.map((p) => html`<tr><td>${p.sku}</td><td class="num">${p.available}</td><td class="num">${(p.velocityPerSecond * 60).toFixed(1)}/min</td><td class="num">${Math.round(p.leadMs / 1000)} s${p.supplierUnhealthy ? ' ⚠' : ''}</td><td class="num">${p.reorderPoint}</td><td class="num">${p.batchSize}</td><td class="num ${p.fillRate < 0.99 ? 'bad' : ''}">${pct(p.fillRate)}</td><td class="${p.low ? 'bad' : ''}">${p.low ? t('lowStock') : ''}</td></tr>`)}</tbody></table>
      </section>
      <section>
        <h2>${t('alertsFiring')}</h2>
        ${states.length === 0 ? html`<p>${t('noData')}</p>` : html`<table><thead><tr><th>${t('status')}</th><th>${t('alertRule')}</th><th>${t('alertSubject')}</th><th>${t('summary')}</th><th>${t('firedAt')}</th></tr></thead>
        <tbody>${states.map((s) => html`<tr><td class="${s.status === 'firing' ? 'bad' : ''}">${s.status === 'firing' ? t('alertFiring') : t('alertResolved')}</td><td>${s.rule}</td><td>${s.subject}</td><td>${s.summary}</td><td>${isoShanghai(s.firedAt)}</td></tr>`)}</tbody></table>`}
      </section>`;
    res.type('html').send(layout({ lang, title: t('routingPage'), active: 'routing', body, path: '/routing', session }).value);
  });

  app.post('/routing/override', requirePermission('fulfillment'), async (req: Request, res: Response) => {
    await routing.setOverride(actorOfRequest(res), {
      supplierId: Number(req.body?.supplierId), skuCode: String(req.body?.sku ?? ''), override: String(req.body?.override ?? '') as BreakerOverride, reason: String(req.body?.reason ?? ''),
    });
    res.redirect(303, '/routing');
  });
}

import type { Request, Response } from 'express';
import { applyOpsAction, opsActionFrom } from '../../src/fulfillment/ops.ts';
import { callbackDeliveries, resendResellerCallback } from '../../src/fulfillment/reseller-callback.ts';
import { NotFoundError } from '../../src/errors.ts';
import { displayYuan } from '../../src/money.ts';
import { orders } from '../../src/orders/orders.ts';
import type { DashboardDeps } from '../deps.ts';
import { actorOfRequest, can, csrfField, sessionOf } from '../auth.ts';
import { html } from '../html.ts';
import { langOf, translator } from '../i18n.ts';
import { layout } from '../layout.ts';
import { pageOf, pager } from '../pagination.ts';
import { temporalLink } from '../temporal-link.ts';

const when = (d: Date | string | null | undefined) => (d ? new Date(d).toISOString().replace('T', ' ').slice(0, 19) : '');

/** Fulfillment: open top-ups (stuck first) with filters, each with its actions and workflow history. */
export function fulfillmentPages(deps: DashboardDeps) {
  return {
    list: async (req: Request, res: Response) => {
      const lang = langOf(req, res);
      const t = translator(lang);
      const p = pageOf(req, 50);
      const status = req.query.status === 'stuck' || req.query.status === 'processing' ? req.query.status : undefined;
      const { rows, total } = await orders.open(deps.db, { status, limit: p.size, offset: p.offset });
      const body = html`<section>
        <h2>${t('openTopUps')}</h2>
        <form method="get" action="/fulfillment" class="act"><select name="status">
          <option value="">${t('all')}</option><option value="stuck" ${status === 'stuck' ? 'selected' : ''}>stuck</option><option value="processing" ${status === 'processing' ? 'selected' : ''}>processing</option>
        </select><button>${t('filter')}</button></form>
        ${rows.length === 0 ? html`<p>${t('noData')}</p>` : html`<table><thead><tr><th>${t('order')}</th><th>${t('status')}</th><th>SKU</th><th>${t('rechargeAccount')}</th><th class="num">${t('amount')}</th><th>${t('placedAt')}</th></tr></thead>
        <tbody>${rows.map((o) => html`<tr><td><a href="/fulfillment/${o.id}">#${o.id}</a></td><td class="${o.status === 'stuck' ? 'bad' : ''}">${o.status}</td><td>${o.sku}</td><td>${o.account ?? ''}</td><td class="num">${displayYuan(o.amountFen)}</td><td>${when(o.createdAt)}</td></tr>`)}</tbody></table>`}
        ${pager(p, total, '/fulfillment', t)}
      </section>`;
      res.type('html').send(layout({ lang, title: t('fulfillment'), active: 'fulfillment', body, path: '/fulfillment', session: sessionOf(res) }).value);
    },

    detail: async (req: Request, res: Response) => {
      const lang = langOf(req, res);
      const t = translator(lang);
      const id = Number(req.params.id);
      const order = Number.isSafeInteger(id) ? await orders.byId(deps.db, id) : undefined;
      if (!order) throw new NotFoundError('order', String(req.params.id));
      const history = order.kind === 'direct_topup' ? await historySummary(deps, id) : [];
      const actions = can(sessionOf(res), 'fulfillment') && (order.status === 'stuck' || order.status === 'processing');
      const deliveries = await callbackDeliveries(deps.db, id);
      const undelivered = (order.status === 'succeeded' || order.status === 'refunded') && deliveries.length > 0 && !deliveries.some((d: { delivered: boolean }) => d.delivered);
      const body = html`
        ${req.query.done ? html`<p class="notice">${t('done')}: ${String(req.query.done)}</p>` : ''}
        <section>
          <h2>${t('order')} #${order.id} <span class="${order.status === 'stuck' ? 'bad' : ''}" id="order-status">${order.status}</span></h2>
          <p>${order.sku} → ${order.account ?? ''} · ${displayYuan(order.amountFen)} · ${t('placedAt')} ${when(order.createdAt)}</p>
          ${actions ? html`<form method="post" action="/fulfillment/${order.id}/action" class="act">
            ${csrfField(res)}
            <select name="action">
              <option value="retry">${t('retry')}</option><option value="switch">${t('switchSupplier')}</option>
              <option value="succeed">${t('markSucceeded')}</option><option value="refund">${t('refund')}</option>
            </select>
            <input name="supplier" placeholder="${t('supplier')}">
            <input name="reference" placeholder="${t('supplierReference')}">
            <label><input type="checkbox" name="force" value="1"> force (succeed after a supplier FAILED)</label>
            <input name="reason" placeholder="${t('reason')}" required minlength="3">
            <button type="submit">${t('submit')}</button>
          </form>` : ''}
        </section>
        <section id="callbacks"><h2>回调分销商 Reseller callback</h2>
          ${deliveries.length === 0 ? html`<p>${t('noData')}</p>` : html`<table><thead><tr><th>#</th><th>${t('status')}</th><th>HTTP</th><th>error</th><th>at</th></tr></thead><tbody>${deliveries.map((d: any) => html`<tr><td>${d.attempt}</td><td class="${d.delivered ? '' : 'bad'}">${d.delivered ? 'delivered' : 'failed'}</td><td>${d.status_code ?? ''}</td><td>${d.error ?? ''}</td><td>${when(d.at)}</td></tr>`)}</tbody></table>`}
          ${undelivered && can(sessionOf(res), 'fulfillment') ? html`<form method="post" action="/fulfillment/${order.id}/resend-callback" class="act">${csrfField(res)}
            <input name="reason" placeholder="${t('reason')}" required minlength="3"><button type="submit">重发回调 Re-send callback</button></form>` : ''}
        </section>
        <section><h2>${t('workflowHistory')}</h2>
          <p>${temporalLink(deps.config, `topup-${order.id}`, t('temporalUi'))}</p>
          ${history.length === 0 ? html`<p>${t('noData')}</p>` : html`<table><tbody>${history.map((e) => html`<tr><td>${e.at}</td><td>${e.what}</td></tr>`)}</tbody></table>`}
        </section>`;
      res.type('html').send(layout({ lang, title: `${t('order')} #${order.id}`, active: 'fulfillment', body, path: `/fulfillment/${order.id}`, session: sessionOf(res) }).value);
    },

    act: async (req: Request, res: Response) => {
      const request = opsActionFrom(String(req.body?.action ?? ''), {
        actor: actorOfRequest(res), reason: String(req.body?.reason ?? ''), supplier: req.body?.supplier || undefined, reference: req.body?.reference || undefined,
        force: req.body?.force === '1',
      });
      const state = await applyOpsAction(deps.client, String(req.params.id), request, { db: deps.db });
      res.redirect(303, `/fulfillment/${state.orderId}?done=${encodeURIComponent(`${request.action} → ${state.status}`)}`);
    },

    resendCallback: async (req: Request, res: Response) => {
      const id = Number(req.params.id);
      if (!Number.isSafeInteger(id)) throw new NotFoundError('order', String(req.params.id));
      if (!deps.resellers) throw new NotFoundError('reseller registry', 'this dashboard');
      const result = await resendResellerCallback({ db: deps.db, resellers: deps.resellers, settings: deps.config.fulfillment }, { orderId: id, actor: actorOfRequest(res), reason: String(req.body?.reason ?? '') });
      res.redirect(303, `/fulfillment/${id}?done=${encodeURIComponent(result.delivered ? 'callback delivered' : `callback not delivered: ${result.error ?? ''}`)}#callbacks`);
    },
  };
}

/** The workflow's history, one line per event that matters to ops: activities, failures, timers, updates. */
async function historySummary(deps: DashboardDeps, orderId: number): Promise<{ at: string; what: string }[]> {
  let history;
  try {
    history = await deps.client.workflow.getHandle(`topup-${orderId}`).fetchHistory();
  } catch {
    return [];
  }
  const lines: { at: string; what: string }[] = [];
  for (const e of history.events ?? []) {
    const at = e.eventTime?.seconds ? when(new Date(Number(e.eventTime.seconds) * 1000)) : '';
    const a = e as Record<string, any>;
    if (a.activityTaskScheduledEventAttributes) lines.push({ at, what: `activity ${a.activityTaskScheduledEventAttributes.activityType?.name} scheduled` });
    else if (a.activityTaskFailedEventAttributes) lines.push({ at, what: `activity failed: ${a.activityTaskFailedEventAttributes.failure?.message ?? ''}` });
    else if (a.activityTaskTimedOutEventAttributes) lines.push({ at, what: 'activity timed out' });
    else if (a.timerStartedEventAttributes) lines.push({ at, what: 'waiting (durable timer)' });
    else if (a.workflowExecutionUpdateAcceptedEventAttributes) {
      const input = a.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest?.input;
      lines.push({ at, what: `ops update ${input?.name ?? ''} accepted` });
    } else if (a.workflowExecutionSignaledEventAttributes) lines.push({ at, what: `signal ${a.workflowExecutionSignaledEventAttributes.signalName}` });
    else if (a.workflowExecutionCompletedEventAttributes) lines.push({ at, what: 'workflow completed' });
    else if (a.workflowExecutionFailedEventAttributes) lines.push({ at, what: `workflow failed: ${a.workflowExecutionFailedEventAttributes.failure?.message ?? ''}` });
    else if (a.workflowExecutionStartedEventAttributes) lines.push({ at, what: 'workflow started' });
  }
  return lines;
}

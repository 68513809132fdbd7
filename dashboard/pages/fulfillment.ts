import type { Request, Response } from 'express';
import { applyOpsAction, OpsActionRefusedError, opsActionFrom } from '../../src/fulfillment/ops.ts';
import { latestSupplierAnswer, opsRefusal } from '../../src/fulfillment/ops-check.ts';
import { topUpWorkflowId } from '../../workflows/fulfill-topup.ts';
import { callbackDeliveries, resendResellerCallback } from '../../src/fulfillment/reseller-callback.ts';
import { NotFoundError, ValidationError } from '../../src/errors.ts';
import { displayYuan } from '../../src/money.ts';
import { orders } from '../../src/orders/orders.ts';
import type { DashboardDeps } from '../deps.ts';
import { actorOfRequest, can, csrfField, sessionOf } from '../auth.ts';
import { html } from '../html.ts';
import { langOf, translator, type Lang } from '../i18n.ts';
import { activityWord, statusWord, when } from '../words.ts';
import { layout } from '../layout.ts';
import { pageOf, pager } from '../pagination.ts';
import { temporalLink } from '../temporal-link.ts';

/** An ops action sent to a top-up's workflow, while it runs and after (per dashboard process, newest per order). */
interface RunningAction { action: string; state: 'running' | 'finished' | 'refused'; status?: string; message?: string; startedAt: number }

/**
 * An ops action's refusal in words a person understands, not Temporal's ("workflow not found for
 * ID: topup-999"): what is wrong with this order, and what to do instead.
 */
export function opsErrorInWords(err: unknown, lang: Lang): string {
  const t = translator(lang);
  for (let e = err as { name?: string; message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.name === 'WorkflowNotFoundError' || /workflow not found/i.test(e.message ?? '')) return t('orderHasNoWorkflow');
  }
  const message = (err as Error)?.message ?? String(err);
  return message.replace(/^order \d+: refused: /, '');
}

/** Fulfillment: open top-ups (stuck first) with filters, each with its actions and workflow history. */
export function fulfillmentPages(deps: DashboardDeps) {
  const running = new Map<number, RunningAction>();
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
          <option value="">${t('all')}</option><option value="stuck" ${status === 'stuck' ? 'selected' : ''}>${statusWord(t, 'stuck')}</option><option value="processing" ${status === 'processing' ? 'selected' : ''}>${statusWord(t, 'processing')}</option>
        </select><button>${t('filter')}</button></form>
        ${rows.length === 0 ? html`<p>${t('noData')}</p>` : html`<table><thead><tr><th>${t('order')}</th><th>${t('status')}</th><th>SKU</th><th>${t('rechargeAccount')}</th><th class="num">${t('amount')}</th><th>${t('placedAt')}</th></tr></thead>
        <tbody>${rows.map((o) => html`<tr><td><a href="/fulfillment/${o.id}">#${o.id}</a></td><td class="${o.status === 'stuck' ? 'bad' : ''}">${statusWord(t, o.status)}</td><td>${o.sku}</td><td>${o.account ?? ''}</td><td class="num">${displayYuan(o.amountFen)}</td><td>${when(o.createdAt)}</td></tr>`)}</tbody></table>`}
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
      const history = order.kind === 'direct_topup' ? await historySummary(deps, id, t) : [];
      const actions = can(sessionOf(res), 'fulfillment') && (order.status === 'stuck' || order.status === 'processing');
      const deliveries = await callbackDeliveries(deps.db, id);
      const undelivered = (order.status === 'succeeded' || order.status === 'refunded') && deliveries.length > 0 && !deliveries.some((d: { delivered: boolean }) => d.delivered);
      const body = html`
        ${req.query.done ? html`<p class="notice">${t('done')}: ${String(req.query.done)}</p>` : ''}
        <p class="notice" id="action-progress" data-order="${order.id}" ${running.get(id)?.state === 'running' ? '' : 'hidden'}>${t('actionRunning')}</p>
        <section>
          <h2>${t('order')} #${order.id} <span class="${order.status === 'stuck' ? 'bad' : ''}" id="order-status" data-status="${order.status}">${statusWord(t, order.status)}</span></h2>
          <p>${order.sku} → ${order.account ?? ''} · ${displayYuan(order.amountFen)} · ${t('placedAt')} ${when(order.createdAt)}</p>
          ${actions ? html`<form method="post" action="/fulfillment/${order.id}/action" class="act" id="ops-action">
            ${csrfField(res)}
            <select name="action">
              <option value="retry">${t('retry')}</option><option value="switch">${t('switchSupplier')}</option>
              <option value="succeed">${t('markSucceeded')}</option><option value="refund">${t('refund')}</option>
            </select>
            <input name="supplier" placeholder="${t('supplier')}">
            <input name="reference" placeholder="${t('supplierReference')}">
            <label><input type="checkbox" name="force" value="1"> ${t('forceSucceed')}</label>
            <input name="reason" placeholder="${t('reason')}" required minlength="3">
            <button type="submit">${t('submit')}</button>
          </form>
          <script src="/assets/ops-action.js" defer></script>` : ''}
        </section>
        <section id="callbacks"><h2>${t('resellerCallback')}</h2>
          ${deliveries.length === 0 ? html`<p>${t('noData')}</p>` : html`<table><thead><tr><th>${t('attempt')}</th><th>${t('status')}</th><th>HTTP</th><th>${t('error')}</th><th>${t('at')}</th></tr></thead><tbody>${deliveries.map((d: any) => html`<tr><td>${d.attempt}</td><td class="${d.delivered ? '' : 'bad'}">${d.delivered ? t('callbackDelivered') : t('callbackNotDelivered')}</td><td>${d.status_code ?? ''}</td><td>${d.error ?? ''}</td><td>${when(d.at)}</td></tr>`)}</tbody></table>`}
          ${undelivered && can(sessionOf(res), 'fulfillment') ? html`<form method="post" action="/fulfillment/${order.id}/resend-callback" class="act">${csrfField(res)}
            <input name="reason" placeholder="${t('reason')}" required minlength="3"><button type="submit">${t('resendCallback')}</button></form>` : ''}
        </section>
        <section><h2>${t('workflowHistory')}</h2>
          <p>${temporalLink(deps.config, topUpWorkflowId(order.id), t('temporalUi'))}</p>
          ${history.length === 0 ? html`<p>${t('noData')}</p>` : html`<table id="history"><tbody>${history.map((e) => html`<tr data-event="${e.kind}"><td>${e.at}</td><td>${e.what}</td></tr>`)}</tbody></table>`}
        </section>`;
      res.type('html').send(layout({ lang, title: `${t('order')} #${order.id}`, active: 'fulfillment', body, path: `/fulfillment/${order.id}`, session: sessionOf(res) }).value);
    },

    /**
     * An ops action answers at once (202 "accepted, running"): the update to the top-up's workflow
     * may take up to its activity's timeout. What can be refused now is refused now, in words; the
     * order page polls `/fulfillment/:id/action.json` for the rest.
     */
    act: async (req: Request, res: Response) => {
      const lang = langOf(req, res);
      const t = translator(lang);
      const id = Number(req.params.id);
      const order = await orders.byId(deps.db, id);
      if (!order) throw new NotFoundError('order', String(req.params.id));
      if (order.kind !== 'direct_topup') throw new ValidationError(`${t('order')} #${id}: ${t('orderHasNoWorkflow')}`);
      const request = opsActionFrom(String(req.body?.action ?? ''), {
        actor: actorOfRequest(res), reason: String(req.body?.reason ?? ''), supplier: req.body?.supplier || undefined, reference: req.body?.reference || undefined,
        force: req.body?.force === '1',
      });
      const refusal = opsRefusal(request, await latestSupplierAnswer(deps.db, id));
      if (refusal) throw new OpsActionRefusedError(id, refusal);
      if (running.get(id)?.state === 'running') throw new ValidationError(`${t('order')} #${id}: ${t('actionRunning')}`);
      const entry: RunningAction = { action: request.action, state: 'running', startedAt: Date.now() };
      // an ended action is kept an hour, for a page that polls late
      for (const [order, old] of running) if (old.state !== 'running' && old.startedAt < Date.now() - 3_600_000) running.delete(order);
      running.set(id, entry);
      applyOpsAction(deps.client, id, request).then(
        (state) => Object.assign(entry, { state: 'finished', status: state.status }),
        (err: unknown) => Object.assign(entry, { state: 'refused', message: opsErrorInWords(err, lang) }),
      );
      if (req.accepts(['html', 'json']) === 'json') {
        res.status(202).json({ state: 'running', message: t('actionAccepted'), poll: `/fulfillment/${id}/action.json` });
        return;
      }
      res.redirect(303, `/fulfillment/${id}?done=${encodeURIComponent(`${t(`action_${request.action}`)}: ${t('actionAccepted')}`)}`);
    },

    /** The order's running ops action, for the page's script: running, finished (with the order's status) or refused (why). */
    actionStatus: async (req: Request, res: Response) => {
      const t = translator(langOf(req, res));
      const id = Number(req.params.id);
      const order = await orders.byId(deps.db, id);
      if (!order) throw new NotFoundError('order', String(req.params.id));
      const entry = running.get(id);
      res.setHeader('Cache-Control', 'no-store');
      res.json({
        state: entry?.state ?? 'none', action: entry?.action ?? null, orderStatus: order.status, orderStatusWord: statusWord(t, order.status),
        message: entry?.state === 'refused' ? `${t('actionRefused')}: ${entry.message}` : entry?.state === 'finished' ? `${t('actionFinished')}: ${t(`action_${entry.action}`)} → ${statusWord(t, entry.status)}`
          : entry?.state === 'running' ? `${t('actionRunning')} ${Math.round((Date.now() - entry.startedAt) / 1000)} s` : '',
      });
    },

    resendCallback: async (req: Request, res: Response) => {
      const id = Number(req.params.id);
      if (!Number.isSafeInteger(id)) throw new NotFoundError('order', String(req.params.id));
      if (!deps.resellers) throw new NotFoundError('reseller registry', 'this dashboard');
      const result = await resendResellerCallback({ db: deps.db, resellers: deps.resellers, settings: deps.config.fulfillment }, { orderId: id, actor: actorOfRequest(res), reason: String(req.body?.reason ?? '') });
      const t = translator(langOf(req, res));
      res.redirect(303, `/fulfillment/${id}?done=${encodeURIComponent(result.delivered ? t('callbackDelivered') : `${t('callbackNotDelivered')}: ${result.error ?? ''}`)}#callbacks`);
    },
  };
}

/** The workflow's history, one line per event that matters to ops: activities (local ones too), failures, timers, updates. */
async function historySummary(deps: DashboardDeps, orderId: number, t: ReturnType<typeof translator>): Promise<{ at: string; kind: string; what: string }[]> {
  let history;
  try {
    history = await deps.client.workflow.getHandle(topUpWorkflowId(orderId)).fetchHistory();
  } catch {
    return [];
  }
  const lines: { at: string; kind: string; what: string }[] = [];
  for (const e of history.events ?? []) {
    const at = e.eventTime?.seconds ? when(new Date(Number(e.eventTime.seconds) * 1000)) : '';
    const a = e as Record<string, any>;
    const push = (kind: string, what: string) => lines.push({ at, kind, what });
    if (a.activityTaskScheduledEventAttributes) push('activity', `${t('event_activity')}: ${activityWord(t, a.activityTaskScheduledEventAttributes.activityType?.name ?? '')}`);
    else if (a.markerRecordedEventAttributes) {
      const type = localActivityType(a.markerRecordedEventAttributes);
      if (type) push('localActivity', `${t('event_localActivity')}: ${activityWord(t, type)}`);
    } else if (a.activityTaskFailedEventAttributes) push('activityFailed', `${t('event_activityFailed')}: ${a.activityTaskFailedEventAttributes.failure?.message ?? ''}`);
    else if (a.activityTaskTimedOutEventAttributes) push('activityTimedOut', t('event_activityTimedOut'));
    else if (a.timerStartedEventAttributes) push('timer', t('event_timer'));
    else if (a.workflowExecutionUpdateAcceptedEventAttributes) {
      const input = a.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest?.input;
      push('update', `${t('event_update')}: ${activityWord(t, input?.name ?? '')}`);
    } else if (a.workflowExecutionSignaledEventAttributes) push('signal', `${t('event_signal')}: ${activityWord(t, a.workflowExecutionSignaledEventAttributes.signalName ?? '')}`);
    else if (a.workflowExecutionCompletedEventAttributes) push('completed', t('event_completed'));
    else if (a.workflowExecutionFailedEventAttributes) push('failed', `${t('event_failed')}: ${a.workflowExecutionFailedEventAttributes.failure?.message ?? ''}`);
    else if (a.workflowExecutionStartedEventAttributes) push('started', t('event_started'));
  }
  return lines;
}

/** A local activity's marker names its activity type in the JSON of its `data` detail. */
export function localActivityType(marker: { markerName?: string | null; details?: Record<string, { payloads?: { data?: Uint8Array | null }[] | null }> | null }): string | undefined {
  if (marker.markerName !== 'core_local_activity') return undefined;
  const data = marker.details?.data?.payloads?.[0]?.data;
  if (!data) return undefined;
  try {
    return (JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type?: string }).activity_type;
  } catch {
    return undefined;
  }
}

import { recordAudit } from '../audit/audit-log.ts';
import type { Actor } from '../users/actor.ts';
import { deliverCallback } from '../callbacks/deliver.ts';
import type { Db } from '../db/knex.ts';
import { ValidationError } from '../errors.ts';
import { orders } from '../orders/orders.ts';
import type { ResellerRegistry } from '../resellers/registry.ts';

export interface CallbackDeps {
  db: Db;
  resellers: ResellerRegistry;
  settings: { allowPrivateCallbacks: boolean };
}

/** Tells the reseller the order's outcome, signed; every attempt is logged in callback_deliveries. Throws when not taken. */
export async function tellReseller(deps: CallbackDeps, orderId: number, attempt: number): Promise<{ delivered: boolean; skipped?: string }> {
  const order = await orders.byId(deps.db, orderId);
  const reseller = await deps.resellers.byId(order.resellerId);
  if (!reseller.callbackUrl) return { delivered: false, skipped: 'the reseller has no callback URL' };
  const credentials = (await deps.resellers.credentialsFor(reseller.apiKey))!;
  const body = JSON.stringify({
    orderNo: order.id, resellerOrderId: order.resellerOrderId, sku: order.sku, account: order.account, amountFen: order.amountFen,
    status: order.status === 'succeeded' ? 'SUCCESS' : order.status === 'refunded' ? 'REFUNDED' : order.status.toUpperCase(),
    completedAt: order.completedAt,
  });
  try {
    const result = await deliverCallback({ url: reseller.callbackUrl, body, secret: credentials.apiSecret, allowPrivateAddresses: deps.settings.allowPrivateCallbacks });
    await deps.db('callback_deliveries').insert({ order_id: order.id, url: reseller.callbackUrl, attempt, status_code: result.statusCode, delivered: true, duration_ms: result.durationMs });
    return { delivered: true };
  } catch (err) {
    const statusCode = (err as { statusCode?: number }).statusCode ?? null;
    await deps.db('callback_deliveries').insert({ order_id: order.id, url: reseller.callbackUrl, attempt, status_code: statusCode, error: (err as Error).message, delivered: false });
    throw err;
  }
}

/** The order's reseller callback attempts, newest last, for ops. */
export async function callbackDeliveries(db: Db, orderId: number) {
  return db('callback_deliveries').where({ order_id: orderId }).orderBy('id').select('attempt', 'url', 'status_code', 'delivered', 'error', 'at');
}

/**
 * Ops re-sends a final order's callback (after the reseller fixed its endpoint): audited, one more
 * logged attempt. Only for a final order not yet delivered.
 */
export async function resendResellerCallback(deps: CallbackDeps, input: { orderId: number; actor: Actor; reason: string }): Promise<{ delivered: boolean; error?: string }> {
  if (!input.reason?.trim()) throw new ValidationError('re-sending a callback needs a reason');
  return resendResellerCallbackAudited(deps, input.orderId, (attempt) =>
    recordAudit(deps.db, { actor: input.actor, action: 'order.resend_callback', subjectType: 'order', subjectId: input.orderId, reason: input.reason, details: { attempt } }));
}

/** The re-send itself, for a caller that has authorised it and writes its own audit row (ops above; the reseller's owner in the portal, src/portal). */
export async function resendResellerCallbackAudited(deps: CallbackDeps, orderId: number, audit: (attempt: number) => Promise<void>): Promise<{ delivered: boolean; error?: string }> {
  const order = await orders.byId(deps.db, orderId);
  if (order.status !== 'succeeded' && order.status !== 'refunded') throw new ValidationError(`order ${order.id} is ${order.status}: only a final order's callback can be re-sent`);
  const log = await callbackDeliveries(deps.db, order.id);
  if (log.some((d: { delivered: boolean }) => d.delivered)) throw new ValidationError(`order ${order.id}: the reseller already took its callback`);
  const attempt = Math.max(0, ...log.map((d: { attempt: number }) => d.attempt)) + 1;
  await audit(attempt);
  try {
    return await tellReseller(deps, order.id, attempt);
  } catch (err) {
    return { delivered: false, error: (err as Error).message };
  }
}

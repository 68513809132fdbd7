import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import { actorFromRef, SYSTEM } from '../users/actor.ts';
import type { Db } from '../db/knex.ts';
import { orders } from '../orders/orders.ts';
import { transaction } from '../supplier-api/transactions.ts';
import type { OpsAction, OpsCheck } from './types.ts';

/** The supplier's latest answer for one request of ours, as supplier_transactions keeps it. */
export interface SupplierAnswer {
  requestId: string;
  status: 'processing' | 'success' | 'failed' | 'unknown';
  supplierTxnId: string | null;
}

/**
 * Whether an ops action may go ahead given the supplier's latest known answer: never refund, retry
 * or switch what the supplier says it delivered (it will bill us); never call succeeded what it says
 * failed, unless ops force it, with their reason.
 */
export function opsRefusal(action: OpsAction, answer: SupplierAnswer | undefined): string | undefined {
  if (answer?.status === 'success' && action.action !== 'markSucceeded') {
    return `the supplier reports ${answer.requestId} as SUCCESS (supplier reference ${answer.supplierTxnId ?? 'none given'}): it delivered the top-up, so ${action.action} is refused; the order completes by itself`;
  }
  if (answer?.status === 'failed' && action.action === 'markSucceeded' && !action.force) {
    return `the supplier reports ${answer.requestId} as FAILED: marking it succeeded needs force, with the reason you know better`;
  }
  return undefined;
}

/**
 * The apply step of an ops action, in one transaction: checked against the supplier's latest answer,
 * then audited and the order's status moved. A refused action leaves no audit row. The actor is
 * taken here and only here (one place to turn it into an authenticated user).
 */
export async function applyOpsAction(db: Db, input: { orderId: number; requestId: string } & OpsAction): Promise<OpsCheck> {
  return db.transaction(async (trx: Knex.Transaction): Promise<OpsCheck> => {
    const row = await transaction(trx, input.requestId);
    const answer: SupplierAnswer | undefined = row && { requestId: input.requestId, status: row.status, supplierTxnId: row.supplier_txn_id };
    const { orderId, requestId, action, actor, reason, ...details } = input;
    const refusal = opsRefusal(input, answer);
    if (refusal) return { applied: false, refusal: `order ${orderId}: ${refusal}` };
    await recordAudit(trx, { actor: await actorFromRef(trx, actor), action: `order.${action}`, subjectType: 'order', subjectId: orderId, reason, details: { ...details, requestId, supplierAnswer: answer?.status ?? null } });
    if (action !== 'refund' && action !== 'markSucceeded') await orders.setStatus(trx, orderId, 'processing', ['stuck']);
    return { applied: true };
  });
}

/** The supplier's latest answer for an order: its last attempt's row (request ids kameng-<order>-<n>). */
export async function latestSupplierAnswer(db: Db, orderId: number | string): Promise<SupplierAnswer | undefined> {
  const row = await db('supplier_transactions').where({ order_id: Number(orderId), kind: 'topup' })
    .orderByRaw("created_at DESC, length(request_id) DESC, request_id DESC").first();
  return row && { requestId: row.request_id, status: row.status, supplierTxnId: row.supplier_txn_id };
}

/** A stuck order the supplier resolved by itself: on the record, so ops see why it is no longer stuck. */
export async function recordResolvedWhileStuck(db: Db, input: { orderId: number; requestId: string; status: 'SUCCESS' | 'FAILED'; supplierTxnId: string | null }): Promise<void> {
  await recordAudit(db, {
    actor: SYSTEM, action: input.status === 'SUCCESS' ? 'order.resolved_by_supplier' : 'order.failed_by_supplier', subjectType: 'order', subjectId: input.orderId,
    reason: input.status === 'SUCCESS'
      ? `供应商确认成功 the supplier reported ${input.requestId} SUCCESS (reference ${input.supplierTxnId ?? 'none'}) while the order was stuck`
      : `供应商确认失败 the supplier reported ${input.requestId} FAILED while the order was stuck: failing over`,
    details: { requestId: input.requestId, supplierTxnId: input.supplierTxnId },
  });
  if (input.status === 'FAILED') await orders.setStatus(db, input.orderId, 'processing', ['stuck']);
}

import type { Knex } from 'knex';
import { businessDateOf } from '../dates.ts';
import type { Db } from '../db/knex.ts';

type Queryable = Db | Knex.Transaction;

export interface PlacedTransaction {
  requestId: string;
  supplierId: number;
  kind: 'topup' | 'card_batch';
  orderId?: number | null;
  procurementRunId?: number | null;
  skuCode: string;
  supplierSku: string;
  quantity: number;
  costFen: number;
}

/**
 * supplier_transactions: every order we place with a supplier, keyed by our request id. Written
 * before the supplier is called (so a crash cannot leave an order we do not know about) and
 * updated as its result becomes known.
 */
export async function recordPlacement(db: Queryable, t: PlacedTransaction): Promise<void> {
  await db('supplier_transactions').insert({
    request_id: t.requestId, supplier_id: t.supplierId, kind: t.kind, order_id: t.orderId ?? null, procurement_run_id: t.procurementRunId ?? null,
    sku_code: t.skuCode, supplier_sku: t.supplierSku, quantity: t.quantity, cost_fen: t.costFen, status: 'processing',
  }).onConflict('request_id').ignore();
}

/** Records what the supplier says; a final status is never overwritten by a later, different one. */
export async function recordResult(db: Queryable, requestId: string, result: { status: 'processing' | 'success' | 'failed' | 'unknown'; supplierOrderId?: string | null; supplierTxnId?: string | null; completedAt?: Date | null }): Promise<void> {
  const completedAt = result.completedAt ?? (result.status === 'success' || result.status === 'failed' ? new Date() : null);
  await db('supplier_transactions')
    .where({ request_id: requestId })
    .whereNotIn('status', ['success', 'failed'])
    .update({
      status: result.status,
      supplier_order_id: db.raw('coalesce(?, supplier_order_id)', [result.supplierOrderId ?? null]),
      supplier_txn_id: db.raw('coalesce(?, supplier_txn_id)', [result.supplierTxnId ?? null]),
      completed_at: completedAt,
      business_date: completedAt ? businessDateOf(completedAt) : null,
      updated_at: new Date(),
    });
}

export async function transaction(db: Queryable, requestId: string) {
  return db('supplier_transactions').where({ request_id: requestId }).first();
}

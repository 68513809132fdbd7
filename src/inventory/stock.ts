import type { Knex } from 'knex';
import type { Db } from '../db/knex.ts';
import type { Fen } from '../money.ts';
import type { CodeVault } from './codes.ts';
import { OutOfStockError } from './errors.ts';

export interface StockLevel {
  sku: string;
  nameZh: string;
  nameEn: string;
  available: number;
  delivered: number;
  threshold: number;
  batchSize: number;
  low: boolean;
}

/**
 * Available codes per card SKU against its threshold: what procurement and the dashboard watch.
 * Counted from the partial indexes, never by reading every code ever delivered: delivered is what
 * the batches brought in less what is still available or was voided.
 */
export async function stockLevels(db: Db, options: { onlyLow?: boolean } = {}): Promise<StockLevel[]> {
  const { rows } = await db.raw(`
    SELECT s.code, s.name_zh, s.name_en, s.low_stock_threshold, s.procurement_batch,
           a.available::int AS available, (coalesce(b.imported, 0) - a.available - v.voided)::int AS delivered
      FROM skus s
      CROSS JOIN LATERAL (SELECT count(*) AS available FROM card_codes c WHERE c.sku_code = s.code AND c.status = 'available') a
      CROSS JOIN LATERAL (SELECT count(*) AS voided FROM card_codes c WHERE c.sku_code = s.code AND c.status = 'void') v
      LEFT JOIN (SELECT sku_code, sum(code_count) AS imported FROM card_batches GROUP BY sku_code) b ON b.sku_code = s.code
     WHERE s.kind = 'card_code' AND s.active
     ORDER BY s.code`);
  const levels: StockLevel[] = rows.map((r: Record<string, any>) => ({
    sku: r.code, nameZh: r.name_zh, nameEn: r.name_en, available: r.available, delivered: r.delivered,
    threshold: r.low_stock_threshold, batchSize: r.procurement_batch, low: r.available < r.low_stock_threshold,
  }));
  return options.onlyLow ? levels.filter((l) => l.low) : levels;
}

/**
 * Takes `quantity` available codes of a SKU for an order, inside the caller's transaction, first
 * expiring first. SKIP LOCKED lets concurrent orders take different codes instead of queueing on
 * the same rows; the status change makes a code deliverable at most once.
 */
export async function allocateCodes(trx: Knex.Transaction, input: { sku: string; quantity: number; orderId: number }): Promise<{ codeIds: number[]; costFen: Fen; sealed: { serial: string; code_sealed: Buffer; expires_on: string | null }[] }> {
  const { rows } = await trx.raw(
    `WITH picked AS (
       SELECT id FROM card_codes WHERE sku_code = ? AND status = 'available' AND (expires_on IS NULL OR expires_on >= current_date)
        ORDER BY expires_on, id LIMIT ? FOR UPDATE SKIP LOCKED)
     UPDATE card_codes c SET status = 'delivered', order_id = ?, delivered_at = now()
       FROM picked, card_batches b
      WHERE c.id = picked.id AND b.id = c.batch_id
     RETURNING c.id, b.unit_cost_fen, c.serial, c.code_sealed, c.expires_on`,
    [input.sku, input.quantity, input.orderId],
  );
  if (rows.length < input.quantity) {
    const { rows: [left] } = await trx.raw(`SELECT count(*)::int AS n FROM card_codes WHERE sku_code = ? AND status = 'available'`, [input.sku]);
    throw new OutOfStockError(input.sku, input.quantity, Math.max(0, left.n));
  }
  rows.sort((a: { id: number }, b: { id: number }) => a.id - b.id);
  return {
    codeIds: rows.map((r: { id: number }) => r.id),
    costFen: rows.reduce((sum: number, r: { unit_cost_fen: number }) => sum + r.unit_cost_fen, 0),
    sealed: rows,
  };
}

/** The codes delivered for an order, unsealed: only ever for the reseller that owns the order. */
export async function codesForOrder(db: Db | Knex.Transaction, vault: CodeVault, orderId: number): Promise<{ serial: string; code: string; expiresOn: string | null }[]> {
  const rows = await db('card_codes').where({ order_id: orderId }).orderBy('id').select('serial', 'code_sealed', 'expires_on');
  return rows.map((r) => ({ serial: r.serial, code: vault.open(r.code_sealed), expiresOn: r.expires_on }));
}

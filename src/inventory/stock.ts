import type { Knex } from 'knex';
import type { Db } from '../db/knex.ts';
import type { Fen } from '../money.ts';
import type { CodeVault } from './codes.ts';

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

/** A code delivered to an order: its cost comes from its batch. */
export interface TakenCode {
  id: number;
  unit_cost_fen: Fen;
  serial: string;
  code_sealed: Buffer;
  expires_on: string | null;
}

/**
 * The allocation, as CTEs for the statement that also records the order, so that an order costs
 * one round trip. `picked` locks `quantity` available codes of the SKU (binding: sku), or as many
 * as are left, first expiring first, with their cost, if `onlyIf` holds; SKIP LOCKED lets
 * concurrent orders take different codes instead of queueing on the same rows. The quantity is
 * written into the text: with a parameter for LIMIT, the plan PostgreSQL caches for a prepared
 * statement sorts every available code, so it plans the statement again at every order.
 * `delivered` marks them delivered to the order that `order.from` yields (none if it yields no
 * row) and returns them as TakenCode rows; the status change makes a code deliverable at most once.
 */
export const codeAllocation = {
  picked: (quantity: number, onlyIf: string) => `
  picked AS MATERIALIZED (
    SELECT c.id, b.unit_cost_fen FROM card_codes c JOIN card_batches b ON b.id = c.batch_id
     WHERE c.sku_code = ? AND c.status = 'available' AND (c.expires_on IS NULL OR c.expires_on >= current_date) AND ${onlyIf}
     ORDER BY c.expires_on, c.id LIMIT ${limitOf(quantity)} FOR UPDATE OF c SKIP LOCKED)`,
  delivered: (order: { from: string; id: string }) => `
  delivered AS (
    UPDATE card_codes c SET status = 'delivered', order_id = ${order.id}, delivered_at = now()
      FROM ${order.from}, picked
     WHERE c.id = picked.id
    RETURNING c.id, picked.unit_cost_fen, c.serial, c.code_sealed, c.expires_on)`,
};

function limitOf(quantity: number): number {
  if (!Number.isSafeInteger(quantity) || quantity < 1) throw new RangeError(`a card order takes a whole number of codes, not ${quantity}`);
  return quantity;
}

/** How many codes of a SKU can be sold now: what an out-of-stock answer reports. */
export async function availableCodes(db: Db | Knex.Transaction, sku: string): Promise<number> {
  const { rows: [left] } = await db.raw(
    `SELECT count(*)::int AS n FROM card_codes WHERE sku_code = ? AND status = 'available' AND (expires_on IS NULL OR expires_on >= current_date)`, [sku]);
  return left.n;
}

/** The codes delivered for an order, unsealed: only ever for the reseller that owns the order. */
export async function codesForOrder(db: Db | Knex.Transaction, vault: CodeVault, orderId: number): Promise<{ serial: string; code: string; expiresOn: string | null }[]> {
  const rows = await db('card_codes').where({ order_id: orderId }).orderBy('id').select('serial', 'code_sealed', 'expires_on');
  return rows.map((r) => ({ serial: r.serial, code: vault.open(r.code_sealed), expiresOn: r.expires_on }));
}

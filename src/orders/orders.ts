import type { Knex } from 'knex';
import type { Db } from '../db/knex.ts';
import { runPrepared } from '../db/prepared.ts';
import { NotFoundError } from '../errors.ts';
import { codeAllocation, type TakenCode } from '../inventory/stock.ts';
import type { SqlPart } from '../db/sql-part.ts';

type Queryable = Db | Knex.Transaction;

export type OrderStatus = 'delivered' | 'processing' | 'stuck' | 'succeeded' | 'refunded';

export interface Order {
  id: number;
  resellerId: number;
  resellerOrderId: string;
  requestHash: string;
  sku: string;
  kind: 'card_code' | 'direct_topup';
  quantity: number;
  account: string | null;
  unitPriceFen: number;
  amountFen: number;
  priceVersionId: number | null;
  costFen: number | null;
  marginFen: number | null;
  status: OrderStatus;
  supplierId: number | null;
  supplierTxnId: string | null;
  businessDate: string;
  createdAt: Date;
  completedAt: Date | null;
}

export const toOrder = (r: Record<string, any>): Order => ({
  id: r.id, resellerId: r.reseller_id, resellerOrderId: r.reseller_order_id, requestHash: r.request_hash, sku: r.sku_code, kind: r.kind,
  quantity: r.quantity, account: r.account, unitPriceFen: r.unit_price_fen, amountFen: r.amount_fen, priceVersionId: r.price_version_id,
  costFen: r.cost_fen, marginFen: r.margin_fen, status: r.status, supplierId: r.supplier_id, supplierTxnId: r.supplier_txn_id,
  businessDate: r.business_date, createdAt: r.created_at, completedAt: r.completed_at,
});

export type NewOrder = Omit<Order, 'id' | 'costFen' | 'marginFen' | 'supplierId' | 'supplierTxnId' | 'createdAt' | 'completedAt'>;

/** What a card order statement takes from the request: who, what and at which price is SQL's to find. */
export type CardOrderInput = Pick<NewOrder, 'resellerOrderId' | 'requestHash' | 'sku' | 'quantity' | 'businessDate'>;

/** orders: SQL for the table, owned here. */
export const orders = {
  /** Inserts unless the reseller already used this order id; returns the row either way. */
  async insertOnce(trx: Queryable, o: NewOrder): Promise<{ order: Order; created: boolean }> {
    const inserted = await trx('orders').insert({
      reseller_id: o.resellerId, reseller_order_id: o.resellerOrderId, request_hash: o.requestHash, sku_code: o.sku, kind: o.kind,
      quantity: o.quantity, account: o.account, unit_price_fen: o.unitPriceFen, amount_fen: o.amountFen, price_version_id: o.priceVersionId,
      status: o.status, business_date: o.businessDate,
    }).onConflict(['reseller_id', 'reseller_order_id']).ignore().returning('*');
    if (inserted[0]) return { order: toOrder(inserted[0]), created: true };
    return { order: (await orders.byResellerOrderId(trx, o.resellerId, o.resellerOrderId))!, created: false };
  },

  /**
   * A card order in one statement, one round trip: claims the caller (`claim`: CTEs `nonce` and
   * `claimant (id, tier)`), prices the order (`price`: CTE `price (price_id, price_fen)`), picks its
   * codes, records the order with their cost as delivered, delivers the codes to it and posts `sale`,
   * the ledger entry, as SQL over the order's row `p`. No order, and nothing changed but a claimed
   * nonce, if the claim or the price fails, the reseller already used the order id, or too few codes
   * were left; a failed posting fails it all. `nonceFresh` says whether the nonce was unused.
   */
  async placeCardOrder(db: Db, o: CardOrderInput, parts: { claim: SqlPart; price: SqlPart; sale: SqlPart }): Promise<{ nonceFresh: boolean; order?: Order; codes: TakenCode[] }> {
    const { rows } = await runPrepared(db, `
      WITH ${parts.claim.sql},
      ${parts.price.sql},
      ${codeAllocation.picked(o.quantity, 'EXISTS (SELECT 1 FROM price)')},
      placed AS (
        INSERT INTO orders (reseller_id, reseller_order_id, request_hash, sku_code, kind, quantity, unit_price_fen, amount_fen,
                            price_version_id, status, business_date, cost_fen, completed_at)
        SELECT c.id, ?, ?, ?, 'card_code', ?, pr.price_fen, pr.price_fen * ?, pr.price_id, 'delivered', ?, t.cost, now()
          FROM claimant c, price pr, (SELECT count(*) AS n, sum(unit_cost_fen) AS cost FROM picked) t
         WHERE t.n = ?
        ON CONFLICT (reseller_id, reseller_order_id) DO NOTHING
        RETURNING *),
      ${codeAllocation.delivered({ from: 'placed', id: 'placed.id' })},
      posted AS MATERIALIZED (SELECT e.entry_id FROM placed p CROSS JOIN LATERAL ${parts.sale.sql} e)
      SELECT (SELECT count(*) FROM nonce)::int AS nonce_fresh, p.*, d.id AS code_id, d.unit_cost_fen, d.serial, d.code_sealed, d.expires_on
        FROM (SELECT 1) AS one LEFT JOIN (posted CROSS JOIN placed p CROSS JOIN delivered d) ON true
       ORDER BY d.id`,
    [...parts.claim.bindings, ...parts.price.bindings, o.sku,
      o.resellerOrderId, o.requestHash, o.sku, o.quantity, o.quantity, o.businessDate, o.quantity, ...parts.sale.bindings]);
    const placed = rows[0].id !== null;
    return {
      nonceFresh: rows[0].nonce_fresh > 0,
      order: placed ? toOrder(rows[0]) : undefined,
      codes: placed ? rows.map((r: Record<string, any>) => ({ id: r.code_id, unit_cost_fen: r.unit_cost_fen, serial: r.serial, code_sealed: r.code_sealed, expires_on: r.expires_on })) : [],
    };
  },

  async byResellerOrderId(db: Queryable, resellerId: number, resellerOrderId: string): Promise<Order | undefined> {
    const row = await db('orders').where({ reseller_id: resellerId, reseller_order_id: resellerOrderId }).first();
    return row && toOrder(row);
  },

  async byId(db: Queryable, id: number): Promise<Order> {
    const row = await db('orders').where({ id }).first();
    if (!row) throw new NotFoundError('order', id);
    return toOrder(row);
  },

  /** Moves an open top-up to a final status; false if it was already final (a replayed activity). */
  async finish(trx: Queryable, id: number, update: { status: 'succeeded' | 'refunded'; costFen?: number; supplierId?: number; supplierTxnId?: string | null }): Promise<boolean> {
    const n = await trx('orders').where({ id }).whereIn('status', ['processing', 'stuck']).update({
      status: update.status, cost_fen: update.costFen ?? null, supplier_id: update.supplierId ?? null,
      supplier_txn_id: update.supplierTxnId ?? null, completed_at: new Date(),
    });
    // a top-up of a day already rolled up for the dashboard: that day's margins changed
    if (n === 1) await trx.raw('DELETE FROM order_rollup_days WHERE business_date = (SELECT business_date FROM orders WHERE id = ?)', [id]);
    return n === 1;
  },

  async setStatus(db: Queryable, id: number, status: OrderStatus, from: OrderStatus[]): Promise<void> {
    await db('orders').where({ id }).whereIn('status', from).update({ status });
  },

  /**
   * Top-ups charged but perhaps never started: processing for longer than `olderThanMs` with no
   * supplier attempt on record (a started fulfillTopUp records its first one within moments), oldest
   * first, at most `limit`. A row here may still have a workflow (one whose worker has not reached
   * the supplier yet): starting it again is refused by its workflow id, so the caller may try.
   */
  async stranded(db: Queryable, options: { olderThanMs: number; limit: number }): Promise<number[]> {
    const { rows } = await db.raw(`
      SELECT o.id FROM orders o
       WHERE o.status = 'processing' AND o.kind = 'direct_topup' AND o.created_at < now() - make_interval(secs => ?)
         AND NOT EXISTS (SELECT 1 FROM supplier_transactions t WHERE t.order_id = o.id)
       ORDER BY o.created_at, o.id
       LIMIT ?`, [options.olderThanMs / 1000, options.limit]);
    return rows.map((r: { id: number | string }) => Number(r.id));
  },

  /** Open top-ups for ops: stuck ones first, then the oldest processing. */
  async open(db: Queryable, options: { status?: OrderStatus; limit: number; offset: number }) {
    const q = db('orders').whereIn('status', options.status ? [options.status] : ['processing', 'stuck']);
    const [rows, counted] = await Promise.all([
      q.clone().orderByRaw("status = 'stuck' DESC, created_at").limit(options.limit).offset(options.offset),
      q.clone().count('* as n'),
    ]);
    return { rows: rows.map(toOrder), total: Number(counted[0]?.n ?? 0) };
  },
};

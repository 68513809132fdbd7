import type { Knex } from 'knex';
import type { Db } from '../db/knex.ts';
import { runPrepared } from '../db/prepared.ts';
import { NotFoundError } from '../errors.ts';
import { codeAllocation, type TakenCode } from '../inventory/stock.ts';
import type { SqlPart } from '../ledger/ledger.ts';

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
   * A card order in one statement: picks its codes, records the order with their cost as
   * delivered, delivers the codes to it and posts `sale`, the ledger entry (SQL over the order's
   * row, `p`). No order, and nothing changed, if the reseller already used the order id or fewer
   * codes than wanted were left; a failed posting fails it all.
   */
  async placeCardOrder(db: Db, o: NewOrder, sale: SqlPart): Promise<{ order?: Order; codes: TakenCode[] }> {
    const { rows } = await runPrepared(db, `
      WITH ${codeAllocation.picked},
      placed AS (
        INSERT INTO orders (reseller_id, reseller_order_id, request_hash, sku_code, kind, quantity, account, unit_price_fen, amount_fen,
                            price_version_id, status, business_date, cost_fen, completed_at)
        SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, t.cost, now()
          FROM (SELECT count(*) AS n, sum(unit_cost_fen) AS cost FROM picked) t
         WHERE t.n = ?
        ON CONFLICT (reseller_id, reseller_order_id) DO NOTHING
        RETURNING *),
      ${codeAllocation.delivered({ from: 'placed', id: 'placed.id' })},
      posted AS MATERIALIZED (SELECT e.entry_id FROM placed p CROSS JOIN LATERAL ${sale.sql} e)
      SELECT p.*, d.id AS code_id, d.unit_cost_fen, d.serial, d.code_sealed, d.expires_on
        FROM posted, placed p, delivered d
       ORDER BY d.id`,
    [o.sku, o.quantity, o.resellerId, o.resellerOrderId, o.requestHash, o.sku, o.kind, o.quantity, o.account, o.unitPriceFen, o.amountFen,
      o.priceVersionId, o.status, o.businessDate, o.quantity, ...sale.bindings]);
    const codes = rows.map((r: Record<string, any>) => ({ id: r.code_id, unit_cost_fen: r.unit_cost_fen, serial: r.serial, code_sealed: r.code_sealed, expires_on: r.expires_on }));
    return { order: rows[0] ? toOrder(rows[0]) : undefined, codes };
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

  async setCost(trx: Queryable, id: number, costFen: number): Promise<Order> {
    const [row] = await trx('orders').where({ id }).update({ cost_fen: costFen, completed_at: new Date() }).returning('*');
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

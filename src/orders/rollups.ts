import type { Knex } from 'knex';
import { businessDateOf, type BusinessDate } from '../dates.ts';
import type { Db } from '../db/knex.ts';

/** How each margin dimension names its group, from an order joined to its reseller and supplier. */
export const MARGIN_GROUP_SQL = {
  sku: 'o.sku_code',
  // a card order has no supplier of its own: its codes' batch does (the first code's, for an order of several)
  supplier: `coalesce(s.code, (SELECT bs.code FROM card_codes cc JOIN card_batches cb ON cb.id = cc.batch_id JOIN suppliers bs ON bs.id = cb.supplier_id
                                WHERE cc.order_id = o.id ORDER BY cc.id LIMIT 1), '—')`,
  reseller: 'r.code',
} as const;

export type MarginDimension = keyof typeof MARGIN_GROUP_SQL;

/** The orders a margin counts: completed, with a known cost. */
const COMPLETED_WITH_MARGIN = "o.status IN ('delivered', 'succeeded') AND o.margin_fen IS NOT NULL";

/**
 * Per business date and group of one dimension, the completed orders `where` picks (over orders o,
 * their reseller r and supplier s): date, name, orders, gross and margin. What the nightly roll,
 * today's partial roll and the live reads all count, written once.
 */
export function marginRowsSql(by: MarginDimension, where: string): string {
  return `SELECT o.business_date, ${MARGIN_GROUP_SQL[by]} AS name, count(*)::int AS orders, sum(o.amount_fen)::bigint AS gross, sum(o.margin_fen)::bigint AS margin
            FROM orders o JOIN resellers r ON r.id = o.reseller_id LEFT JOIN suppliers s ON s.id = o.supplier_id
           WHERE (${where}) AND ${COMPLETED_WITH_MARGIN}
           GROUP BY o.business_date, ${MARGIN_GROUP_SQL[by]}`;
}

/**
 * Per reseller, business date and SKU over [?, ?]: orders placed, spend (all but refunded) and
 * refunded orders; what the portal's analysis shows, and what order_reseller_sku_days keeps.
 */
export const RESELLER_SKU_DAYS_SQL = `
  SELECT reseller_id, business_date, sku_code, count(*)::int, coalesce(sum(amount_fen) FILTER (WHERE status <> 'refunded'), 0)::bigint,
         count(*) FILTER (WHERE status = 'refunded')::int
    FROM orders WHERE business_date BETWEEN ?::date AND ?::date GROUP BY 1, 2, 3`;

/** The rollup state of a range: which days are read live, and a stamp of how the others were rolled. */
export interface RollupState {
  /**
   * The days not rolled up (today, a day a late completion unrolled), as a PostgreSQL date[]
   * literal: a report reads these live and every other day from its rollup, both by this one list.
   */
  live: string;
  /** Changes whenever a day of the range is rolled, unrolled or rolled again (each day's rolled_at). */
  stamp: string;
}

export async function rollupState(db: Db, from: BusinessDate, to: BusinessDate): Promise<RollupState> {
  const { rows: [s] } = await db.raw(
    `SELECT coalesce(string_agg(d::date::text, ',' ORDER BY d) FILTER (WHERE r.business_date IS NULL), '') AS live,
            coalesce(string_agg(d::date::text || '@' || r.rolled_at::text, ',' ORDER BY d) FILTER (WHERE r.business_date IS NOT NULL), '') AS stamp
       FROM generate_series(?::date, ?::date, interval '1 day') d LEFT JOIN order_rollup_days r ON r.business_date = d::date`,
    [from, to],
  );
  return { live: `{${s.live}}`, stamp: s.stamp };
}

/**
 * Rolls up every business date before today that has orders and is not rolled yet (or was
 * unrolled by a late completion): per SKU, supplier and reseller, completed orders, gross and
 * margin; per reseller and SKU, the portal's orders, spend and refunds. Each day in a transaction of its own; safe to run again or concurrently.
 */
export async function rollUpOrderDays(db: Db, now = new Date()): Promise<{ days: BusinessDate[] }> {
  const today = businessDateOf(now);
  const { rows } = await db.raw(
    `SELECT d.business_date::text AS date FROM (SELECT DISTINCT business_date FROM orders WHERE business_date < ?::date) d
      WHERE NOT EXISTS (SELECT FROM order_rollup_days r WHERE r.business_date = d.business_date) ORDER BY 1`,
    [today],
  );
  const days = (rows as { date: string }[]).map((r) => r.date);
  for (const day of days) await db.transaction((trx) => rollUpDay(trx, day));
  return { days };
}

async function rollUpDay(trx: Knex.Transaction, day: BusinessDate): Promise<void> {
  // the marker first: a concurrent roll of the same day waits here, then finds it done
  const { rowCount } = await trx.raw('INSERT INTO order_rollup_days (business_date) VALUES (?) ON CONFLICT DO NOTHING', [day]);
  if (rowCount === 0) return;
  await trx.raw('DELETE FROM order_day_margins WHERE business_date = ?', [day]);
  // the day's partial roll (intraday.ts) is done with
  await trx.raw('DELETE FROM order_partial_margins WHERE business_date = ?', [day]);
  await trx.raw('DELETE FROM order_partial_days WHERE business_date = ?', [day]);
  await trx.raw('DELETE FROM order_reseller_sku_days WHERE business_date = ?', [day]);
  await trx.raw(`INSERT INTO order_reseller_sku_days (reseller_id, business_date, sku_code, orders, spend_fen, refunded) ${RESELLER_SKU_DAYS_SQL}`, [day, day]);
  for (const dimension of Object.keys(MARGIN_GROUP_SQL) as MarginDimension[]) {
    await trx.raw(
      `INSERT INTO order_day_margins (dimension, business_date, name, orders, gross_fen, margin_fen)
       SELECT ?, m.* FROM (${marginRowsSql(dimension, 'o.business_date = ?')}) m`,
      [dimension, day],
    );
  }
}

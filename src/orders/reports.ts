import type { BusinessDate } from '../dates.ts';
import type { Db } from '../db/knex.ts';

import { rollupState, type MarginDimension } from './rollups.ts';

export type { MarginDimension };

export interface DayFigures {
  orders: number;
  grossFen: number;
  marginFen: number;
  /** Refunded top-ups over all top-ups placed that day, 0..1. */
  refundRate: number;
  stuck: number;
  openDiscrepancies: number;
}

/** Read side of orders for the dashboard: a day's figures (margins: margin-table.ts). */
export class OrderReports {
  constructor(private readonly db: Db) {}

  async day(date: BusinessDate): Promise<DayFigures> {
    const { rows: [d] } = await this.db.raw(
      `SELECT count(*) FILTER (WHERE status IN ('delivered', 'succeeded'))::int AS orders,
              coalesce(sum(amount_fen) FILTER (WHERE status IN ('delivered', 'succeeded')), 0)::bigint AS gross,
              coalesce(sum(margin_fen) FILTER (WHERE status IN ('delivered', 'succeeded')), 0)::bigint AS margin,
              count(*) FILTER (WHERE kind = 'direct_topup')::int AS topups,
              count(*) FILTER (WHERE kind = 'direct_topup' AND status = 'refunded')::int AS refunded,
              (SELECT count(*) FROM orders WHERE status = 'stuck')::int AS stuck,
              (SELECT count(*) FROM recon_cases WHERE state <> 'resolved')::int AS open_cases
         FROM orders WHERE business_date = ?::date`,
      [date],
    );
    return {
      orders: d.orders, grossFen: d.gross, marginFen: d.margin, refundRate: d.topups ? d.refunded / d.topups : 0, stuck: d.stuck, openDiscrepancies: d.open_cases,
    };
  }
}

export interface ResellerSkuDay {
  day: BusinessDate;
  sku: string;
  orders: number;
  spendFen: number;
  refunded: number;
}

/**
 * One reseller's orders, spend (all but refunded) and refunds per day and SKU over [from, to]:
 * rolled-up days from order_reseller_sku_days, the others (today, a day a late refund unrolled)
 * from its orders.
 */
export async function resellerSkuDays(db: Db, resellerId: number, from: BusinessDate, to: BusinessDate): Promise<ResellerSkuDay[]> {
  const { live } = await rollupState(db, from, to);
  const { rows } = await db.raw(
    `WITH g AS (
       SELECT business_date, sku_code, orders, spend_fen, refunded FROM order_reseller_sku_days m
        WHERE m.reseller_id = ? AND m.business_date BETWEEN ?::date AND ?::date
          AND NOT (m.business_date = ANY (?::date[]))
       UNION ALL
       SELECT business_date, sku_code, count(*), coalesce(sum(amount_fen) FILTER (WHERE status <> 'refunded'), 0), count(*) FILTER (WHERE status = 'refunded')
         FROM orders
        WHERE reseller_id = ?
          -- the days not rolled up, as a constant: the planner reads only those from the (reseller_id, business_date) index, and knows how many rows that is
          AND business_date = ANY (?::date[])
        GROUP BY 1, 2)
     SELECT business_date::text AS day, sku_code AS sku, sum(orders)::int AS orders, sum(spend_fen)::bigint AS spend_fen, sum(refunded)::int AS refunded
       FROM g GROUP BY 1, 2 ORDER BY 1, 2`,
    [resellerId, from, to, live, resellerId, live],
  );
  return (rows as Record<string, any>[]).map((r) => ({ day: r.day, sku: r.sku, orders: r.orders, spendFen: Number(r.spend_fen), refunded: r.refunded }));
}

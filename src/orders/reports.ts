import type { BusinessDate } from '../dates.ts';
import type { Db } from '../db/knex.ts';

import { COMPLETED_WITH_MARGIN, MARGIN_GROUP_SQL, unrolledDays, type MarginDimension } from './rollups.ts';

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

/** Read side of orders for the dashboard: a day's figures and daily margins by SKU, supplier or reseller. */
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

  /** Daily margin of the top `top` groups over a range (the rest as one "other" series). */
  async dailyMargin(from: BusinessDate, to: BusinessDate, by: MarginDimension, top = 6): Promise<{ dates: BusinessDate[]; series: { name: string; fen: number[] }[] }> {
    // rolled-up days from order_day_margins, the others (today, late completions) from the orders
    const live = await unrolledDays(this.db, from, to);
    const { rows } = await this.db.raw(
      `WITH g AS (
         SELECT business_date AS date, name, margin_fen AS fen FROM order_day_margins m
          WHERE m.dimension = ? AND m.business_date BETWEEN ?::date AND ?::date
            AND NOT (m.business_date = ANY (?::date[]))
         UNION ALL
         SELECT o.business_date, ${MARGIN_GROUP_SQL[by]}, sum(o.margin_fen)::bigint
           FROM orders o
           JOIN resellers r ON r.id = o.reseller_id
           LEFT JOIN suppliers s ON s.id = o.supplier_id
          -- the days not rolled up, as a constant: the planner reads only those from the business_date index, and knows how many rows that is
          WHERE o.business_date = ANY (?::date[])
            AND ${COMPLETED_WITH_MARGIN}
          GROUP BY 1, 2
       ), ranked AS (
         SELECT name, rank() OVER (ORDER BY sum(fen) DESC, name) AS rk FROM g GROUP BY name
       )
       SELECT g.date, CASE WHEN ranked.rk <= ? THEN g.name ELSE 'other' END AS name, sum(g.fen)::bigint AS fen
         FROM g JOIN ranked USING (name) GROUP BY 1, 2 ORDER BY 1`,
      [by, from, to, live, live, top],
    );
    const dates: BusinessDate[] = [];
    for (let d = from; d <= to; d = new Date(Date.parse(`${d}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)) dates.push(d);
    const index = new Map(dates.map((d, i) => [d, i]));
    const series = new Map<string, number[]>();
    for (const r of rows as { date: string; name: string; fen: number }[]) {
      if (!series.has(r.name)) series.set(r.name, dates.map(() => 0));
      series.get(r.name)![index.get(r.date)!] = r.fen;
    }
    return { dates, series: [...series].map(([name, fen]) => ({ name, fen })) };
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
  const live = await unrolledDays(db, from, to);
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

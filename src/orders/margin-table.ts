import type { Writable } from 'node:stream';
import { addDays, type BusinessDate } from '../dates.ts';
import type { Db } from '../db/knex.ts';
import { streamingWorkbook, XlsxSection, type ExportColumn } from '../files/export-sheet.ts';
import { COMPLETED_WITH_MARGIN, MARGIN_GROUP_SQL, unrolledDays, type MarginDimension } from './rollups.ts';

export interface MarginRow {
  name: string;
  orders: number;
  grossFen: number;
  marginFen: number;
}

export interface MarginChart {
  dates: BusinessDate[];
  series: { name: string; fen: number[] }[];
}

/**
 * The margin chart's figures as a table: per SKU, supplier or reseller over a range, completed
 * orders, gross and margin (rolled-up days from order_day_margins, the others from the orders),
 * largest margin first. A card order's supplier is its codes' batch's.
 */
export async function marginTable(db: Db, from: BusinessDate, to: BusinessDate, by: MarginDimension): Promise<MarginRow[]> {
  return (await marginReport(db, from, to, by)).table;
}

/**
 * The overview's margins in one statement: the table above, and the chart, the daily margin of the
 * `top` groups with the largest margin over the range (the rest as one "other" series). Both come
 * from one reading of the rollups and of the days not rolled up (today's orders are read live).
 */
export async function marginReport(db: Db, from: BusinessDate, to: BusinessDate, by: MarginDimension, top = 6): Promise<{ table: MarginRow[]; chart: MarginChart }> {
  const live = await unrolledDays(db, from, to);
  const { rows } = await db.raw(
    `WITH g AS MATERIALIZED (
       SELECT business_date AS date, name, orders::bigint AS orders, gross_fen AS gross, margin_fen AS margin FROM order_day_margins m
        WHERE m.dimension = ? AND m.business_date BETWEEN ?::date AND ?::date
          AND NOT (m.business_date = ANY (?::date[]))
       UNION ALL
       SELECT o.business_date, ${MARGIN_GROUP_SQL[by]}, count(*), sum(o.amount_fen), sum(o.margin_fen)
         FROM orders o
         JOIN resellers r ON r.id = o.reseller_id
         LEFT JOIN suppliers s ON s.id = o.supplier_id
        -- the days not rolled up, as a constant: the planner reads only those from the business_date index, and knows how many rows that is
        WHERE o.business_date = ANY (?::date[])
          AND ${COMPLETED_WITH_MARGIN}
        GROUP BY 1, 2
     ), t AS MATERIALIZED (
       SELECT name, sum(orders)::int AS orders, sum(gross)::bigint AS gross, sum(margin)::bigint AS margin,
              rank() OVER (ORDER BY sum(margin) DESC, name) AS rk
         FROM g GROUP BY name
     )
     -- the table; the top groups' days; each day's total (the chart's "other" is the total less the top)
     SELECT 'table' AS part, NULL::text AS date, name, orders, gross, margin, rk FROM t
     UNION ALL
     SELECT 'top', g.date::text, g.name, NULL, NULL, g.margin, NULL FROM g WHERE g.name IN (SELECT name FROM t WHERE rk <= ?)
     UNION ALL
     SELECT 'day', g.date::text, NULL, NULL, NULL, sum(g.margin)::bigint, NULL FROM g GROUP BY g.date`,
    [by, from, to, live, live, top],
  );
  const all = rows as Record<string, any>[];
  const table: MarginRow[] = all.filter((r) => r.part === 'table').sort((a, b) => Number(a.rk) - Number(b.rk))
    .map((r) => ({ name: r.name, orders: r.orders, grossFen: Number(r.gross), marginFen: Number(r.margin) }));
  const dates: BusinessDate[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) dates.push(d);
  const index = new Map(dates.map((d, i) => [d, i]));
  // series in the order of their rank, then "other" when there are more groups than shown
  const series = new Map<string, number[]>(table.slice(0, top).map((r) => [r.name, dates.map(() => 0)]));
  const other = dates.map(() => 0);
  for (const r of all) {
    const i = index.get(r.date)!;
    if (r.part === 'top') {
      series.get(r.name)![i] = Number(r.margin);
      other[i] = other[i]! - Number(r.margin);
    } else if (r.part === 'day') other[i] = other[i]! + Number(r.margin);
  }
  if (table.length > top) series.set('other', other);
  return { table, chart: { dates, series: [...series].map(([name, fen]) => ({ name, fen })) } };
}

const DIMENSION_HEADERS: Record<MarginDimension, string> = { sku: '商品 SKU', supplier: '供应商 Supplier', reseller: '分销商 Reseller' };

/** The margin table as an XLSX workbook, with its range in the sheet's name and a totals row. */
export async function exportMarginTable(rows: MarginRow[], request: { from: BusinessDate; to: BusinessDate; by: MarginDimension }, out: Writable): Promise<void> {
  const columns: ExportColumn<MarginRow>[] = [
    { header: DIMENSION_HEADERS[request.by], width: 22, value: (r) => r.name },
    { header: '订单数 Orders', width: 12, value: (r) => r.orders },
    { header: '销售额(元) Gross (¥)', width: 18, fen: (r) => r.grossFen },
    { header: '毛利(元) Margin (¥)', width: 18, fen: (r) => r.marginFen },
    { header: '毛利率 Margin rate', width: 14, value: (r) => (r.grossFen ? Math.round((r.marginFen / r.grossFen) * 10_000) / 10_000 : null) },
  ];
  const workbook = streamingWorkbook(out);
  const sheet = new XlsxSection(workbook, `毛利 Margins ${request.from}~${request.to}`.slice(0, 31), columns);
  for (const r of rows) sheet.add(r);
  sheet.finish();
  await workbook.commit();
}

import type { Writable } from 'node:stream';
import type { BusinessDate } from '../dates.ts';
import type { Db } from '../db/knex.ts';
import { streamingWorkbook, XlsxSection, type ExportColumn } from '../files/export-sheet.ts';
import { COMPLETED_WITH_MARGIN, MARGIN_GROUP_SQL, unrolledDays, type MarginDimension } from './rollups.ts';

export interface MarginRow {
  name: string;
  orders: number;
  grossFen: number;
  marginFen: number;
}

/**
 * The margin chart's figures as a table: per SKU, supplier or reseller over a range, completed
 * orders, gross and margin (rolled-up days from order_day_margins, the others from the orders),
 * largest margin first. A card order's supplier is its codes' batch's.
 */
export async function marginTable(db: Db, from: BusinessDate, to: BusinessDate, by: MarginDimension): Promise<MarginRow[]> {
  const live = await unrolledDays(db, from, to);
  const { rows } = await db.raw(
    `WITH g AS (
       SELECT name, orders::bigint AS orders, gross_fen AS gross, margin_fen AS margin FROM order_day_margins m
        WHERE m.dimension = ? AND m.business_date BETWEEN ?::date AND ?::date
          AND NOT (m.business_date = ANY (?::date[]))
       UNION ALL
       SELECT ${MARGIN_GROUP_SQL[by]}, count(*), sum(o.amount_fen), sum(o.margin_fen)
         FROM orders o
         JOIN resellers r ON r.id = o.reseller_id
         LEFT JOIN suppliers s ON s.id = o.supplier_id
        -- the days not rolled up, as a constant: the planner reads only those from the business_date index, and knows how many rows that is
        WHERE o.business_date = ANY (?::date[])
          AND ${COMPLETED_WITH_MARGIN}
        GROUP BY 1)
     SELECT name, sum(orders)::int AS orders, sum(gross)::bigint AS gross, sum(margin)::bigint AS margin
       FROM g GROUP BY name ORDER BY sum(margin) DESC, name`,
    [by, from, to, live, live],
  );
  return (rows as Record<string, any>[]).map((r) => ({ name: r.name, orders: r.orders, grossFen: Number(r.gross), marginFen: Number(r.margin) }));
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

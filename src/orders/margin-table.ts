import type { Writable } from 'node:stream';
import { addDays, type BusinessDate } from '../dates.ts';
import type { Db } from '../db/knex.ts';
import { streamingWorkbook, XlsxSection, type ExportColumn } from '../files/export-sheet.ts';
import { closedMargins } from './closed-margins.ts';
import { partialDays } from './intraday.ts';
import { marginRowsSql, rollupState, type MarginDimension } from './rollups.ts';

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
 * The overview's margins: the table above, and the chart, the daily margin of the `top` groups with
 * the largest margin over the range (the rest as one "other" series). The closed days come from
 * their rollups, read once per state of the rollups (closed-margins.ts); the days not rolled up
 * (today, a day a late completion unrolled) are read from the orders at every call.
 */
export async function marginReport(db: Db, from: BusinessDate, to: BusinessDate, by: MarginDimension, top = 6): Promise<{ table: MarginRow[]; chart: MarginChart }> {
  const dates: BusinessDate[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) dates.push(d);
  const state = await rollupState(db, from, to);
  const [closed, live] = await Promise.all([closedMargins(db, by, from, to, dates, state), liveMargins(db, by, state.live)]);
  const index = new Map(dates.map((d, i) => [d, i]));
  // the closed figures are shared: the live days go into copies
  const totals = new Map<string, MarginRow>();
  for (const [name, g] of closed.groups) totals.set(name, { name, orders: g.orders, grossFen: g.grossFen, marginFen: g.marginFen });
  const liveDays = new Map<string, number[]>();
  const dayTotals = [...closed.dayTotals];
  for (const r of live) {
    const t = totals.get(r.name) ?? { name: r.name, orders: 0, grossFen: 0, marginFen: 0 };
    totals.set(r.name, { name: r.name, orders: t.orders + r.orders, grossFen: t.grossFen + r.grossFen, marginFen: t.marginFen + r.marginFen });
    const days = liveDays.get(r.name) ?? dates.map(() => 0);
    const i = index.get(r.date)!;
    days[i] = days[i]! + r.marginFen;
    dayTotals[i] = dayTotals[i]! + r.marginFen;
    liveDays.set(r.name, days);
  }
  const table = [...totals.values()].sort((a, b) => b.marginFen - a.marginFen || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // series in the order of their rank, then "other" (every group's day less the shown ones) when there are more groups
  const series = table.slice(0, top).map((r) => {
    const closedDays = closed.groups.get(r.name)?.days;
    const liveOf = liveDays.get(r.name);
    return { name: r.name, fen: dates.map((_, i) => (closedDays?.[i] ?? 0) + (liveOf?.[i] ?? 0)) };
  });
  if (table.length > top) series.push({ name: 'other', fen: dayTotals.map((total, i) => series.reduce((rest, s) => rest - s.fen[i]!, total)) });
  return { table, chart: { dates, series } };
}

/**
 * The days not rolled up: per day and group, completed orders, gross and margin. A day rolled up to
 * minutes ago (intraday.ts) is its part plus its orders placed since and those open at the roll;
 * every other such day is read from its orders.
 */
async function liveMargins(db: Db, by: MarginDimension, live: string): Promise<{ date: BusinessDate; name: string; orders: number; grossFen: number; marginFen: number }[]> {
  if (live === '{}') return [];
  const days = live.slice(1, -1).split(',');
  const partial = await partialDays(db, days);
  const whole = days.filter((d) => !partial.has(d));
  // each partial day's tail by id (the primary key), so only those orders are read
  const tails = [...partial].map(([day, p]) => ({ sql: '(o.business_date = ?::date AND (o.id > ? OR o.id = ANY (?::bigint[])))', bindings: [day, p.untilId, p.openIds] }));
  const { rows } = await db.raw(
    `SELECT business_date::text AS date, name, orders, gross_fen AS gross, margin_fen AS margin FROM order_partial_margins
      WHERE dimension = ? AND business_date = ANY (?::date[])
     UNION ALL
     -- the days read whole, as a constant: the planner reads only those from the business_date index, and knows how many rows that is
     SELECT business_date::text, name, orders, gross, margin
       FROM (${marginRowsSql(by, `o.business_date = ANY (?::date[])${tails.map((t) => ` OR ${t.sql}`).join('')}`)}) m`,
    [by, `{${[...partial.keys()].join(',')}}`, `{${whole.join(',')}}`, ...tails.flatMap((t) => t.bindings)],
  );
  return (rows as Record<string, any>[]).map((r) => ({ date: r.date, name: r.name, orders: r.orders, grossFen: Number(r.gross), marginFen: Number(r.margin) }));
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

import type { BusinessDate } from '../dates.ts';
import type { Db } from '../db/knex.ts';
import type { MarginDimension, RollupState } from './rollups.ts';

/** One group's figures over the closed days of a range, and its margin on each of them. */
export interface ClosedGroup {
  orders: number;
  grossFen: number;
  marginFen: number;
  /** Margin per day of the range (index 0 = `from`), 0 where the group had none. */
  days: number[];
}

/** What the rolled-up days of a range hold, per group: read once for each state of the rollups. */
export interface ClosedMargins {
  groups: Map<string, ClosedGroup>;
  /** Every group's margin per day of the range. */
  dayTotals: number[];
}

// A rolled day's rows never change under the same roll (a new roll is a new rolled_at, so a new
// stamp): per database, the last few ranges asked for are kept, so the overview reads the closed
// days once a roll instead of at every view.
const KEPT_RANGES = 6;
const kept = new WeakMap<Db, Map<string, Promise<ClosedMargins>>>();

/**
 * The closed (rolled-up) days of [from, to] for one dimension, per group: from the process's copy
 * when the rollups are as they were when it was read, else from order_day_margins.
 */
export function closedMargins(db: Db, by: MarginDimension, from: BusinessDate, to: BusinessDate, dates: BusinessDate[], state: RollupState): Promise<ClosedMargins> {
  const ranges = kept.get(db) ?? new Map<string, Promise<ClosedMargins>>();
  kept.set(db, ranges);
  const key = `${by}|${from}|${to}|${state.live}|${state.stamp}`;
  const hit = ranges.get(key);
  if (hit) {
    // most recently used last
    ranges.delete(key);
    ranges.set(key, hit);
    return hit;
  }
  const read = readClosed(db, by, from, to, dates, state.live);
  ranges.set(key, read);
  // a failed read is not kept
  read.catch(() => ranges.get(key) === read && ranges.delete(key));
  while (ranges.size > KEPT_RANGES) ranges.delete(ranges.keys().next().value!);
  return read;
}

async function readClosed(db: Db, by: MarginDimension, from: BusinessDate, to: BusinessDate, dates: BusinessDate[], live: string): Promise<ClosedMargins> {
  const { rows } = await db.raw(
    `SELECT business_date::text AS date, name, orders, gross_fen AS gross, margin_fen AS margin FROM order_day_margins m
      WHERE m.dimension = ? AND m.business_date BETWEEN ?::date AND ?::date AND NOT (m.business_date = ANY (?::date[]))`,
    [by, from, to, live],
  );
  const index = new Map(dates.map((d, i) => [d, i]));
  const groups = new Map<string, ClosedGroup>();
  const dayTotals = dates.map(() => 0);
  for (const r of rows as { date: string; name: string; orders: number; gross: number; margin: number }[]) {
    let g = groups.get(r.name);
    if (!g) groups.set(r.name, (g = { orders: 0, grossFen: 0, marginFen: 0, days: dates.map(() => 0) }));
    const day = index.get(r.date)!;
    const margin = Number(r.margin);
    g.orders += r.orders;
    g.grossFen += Number(r.gross);
    g.marginFen += margin;
    g.days[day] = margin;
    dayTotals[day] = dayTotals[day]! + margin;
  }
  return { groups, dayTotals };
}

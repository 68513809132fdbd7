import { businessDateOf, type BusinessDate } from '../dates.ts';
import type { Db } from '../db/knex.ts';
import { INTRADAY_ROLL_EVERY_MS, ROLL_AFTER_DAY_END_MS } from '../ledger/rollups.ts';
import { MARGIN_GROUP_SQL, marginRowsSql, type MarginDimension } from './rollups.ts';

/**
 * Today's margins rolled up to minutes ago (order_partial_days, order_partial_margins), as the
 * ledger is (src/ledger/rollups.ts): the overview then reads the orders placed since, not the day.
 *
 * A partial roll covers the day's orders up to an id, those placed more than ROLL_AFTER_DAY_END_MS
 * ago (no order's transaction runs for minutes, so none below it commits later). The ones of them
 * still open then (a top-up processing or stuck) are left out and listed: they are read live, so
 * their completion counts whenever it comes, with nothing to invalidate. A completed order never
 * changes again (orders.finish moves only open ones).
 */
export async function keepTodayRolledUp(db: Db, now = new Date()): Promise<void> {
  const { rows: [fresh] } = await db.raw(
    'SELECT 1 FROM order_partial_days WHERE business_date = ? AND until_id IS NOT NULL AND rolled_at >= ?',
    [businessDateOf(now), new Date(now.getTime() - INTRADAY_ROLL_EVERY_MS)],
  );
  if (!fresh) await rollUpToday(db, now);
}

/** More open orders than this in the part: not rolled (reading them by id would cost what the roll saves). */
const MAX_OPEN = 5_000;

/** Rolls today's orders placed before ROLL_AFTER_DAY_END_MS ago; a roll already under way elsewhere is left to finish. */
export async function rollUpToday(db: Db, now = new Date()): Promise<{ untilId: number | null; open: number }> {
  const day = businessDateOf(now);
  const settled = new Date(now.getTime() - ROLL_AFTER_DAY_END_MS);
  await db.raw('INSERT INTO order_partial_days (business_date) VALUES (?) ON CONFLICT DO NOTHING', [day]);
  return db.transaction(async (trx) => {
    const { rows: [marker] } = await trx.raw('SELECT until_id FROM order_partial_days WHERE business_date = ? FOR UPDATE SKIP LOCKED', [day]);
    if (!marker) return { untilId: null, open: 0 };
    const { rows: [part] } = await trx.raw(
      `SELECT coalesce(max(id), 0) AS until_id, coalesce(array_agg(id ORDER BY id) FILTER (WHERE status IN ('processing', 'stuck')), '{}') AS open_ids
         FROM orders WHERE business_date = ? AND created_at < ?`,
      [day, settled],
    );
    const openIds = part.open_ids as (number | string)[];
    if (openIds.length > MAX_OPEN) return { untilId: marker.until_id, open: openIds.length };
    await trx.raw('DELETE FROM order_partial_margins WHERE business_date = ?', [day]);
    for (const dimension of Object.keys(MARGIN_GROUP_SQL) as MarginDimension[]) {
      await trx.raw(
        `INSERT INTO order_partial_margins (dimension, business_date, name, orders, gross_fen, margin_fen)
         SELECT ?, m.* FROM (${marginRowsSql(dimension, 'o.business_date = ? AND o.id <= ?')}) m`,
        [dimension, day, part.until_id],
      );
    }
    // rolled as of the clock it was asked with (the next keepTodayRolledUp compares with the same clock)
    await trx.raw('UPDATE order_partial_days SET until_id = ?, open_ids = ?::bigint[], rolled_at = ? WHERE business_date = ?', [part.until_id, `{${openIds.join(',')}}`, now, day]);
    return { untilId: Number(part.until_id), open: openIds.length };
  });
}

export interface PartialDay {
  /** The last order id the part covers. */
  untilId: number;
  /** Ids up to it that were open at the roll: read live. */
  openIds: string;
}

/** The partial rolls of some days: day → what its part covers. */
export async function partialDays(db: Db, days: BusinessDate[]): Promise<Map<BusinessDate, PartialDay>> {
  if (days.length === 0) return new Map();
  const { rows } = await db.raw(
    'SELECT business_date::text AS day, until_id, open_ids::text AS open_ids FROM order_partial_days WHERE business_date = ANY (?::date[]) AND until_id IS NOT NULL',
    [`{${days.join(',')}}`],
  );
  return new Map((rows as { day: string; until_id: number; open_ids: string }[]).map((r) => [r.day, { untilId: Number(r.until_id), openIds: r.open_ids }]));
}

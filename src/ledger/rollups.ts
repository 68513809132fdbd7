import { businessDateOf, businessDayRange } from '../dates.ts';
import type { Db } from '../db/knex.ts';

/**
 * A day is rolled only once it ended this long ago: a posting's time is its transaction's start,
 * so a transaction still open at midnight could otherwise commit a posting into a rolled day. No
 * ledger transaction runs for minutes.
 */
export const ROLL_AFTER_DAY_END_MS = 10 * 60_000;

export interface LedgerRollup {
  /** Every posting before this instant is in ledger_account_days. */
  rolledUntil: Date;
  /** Postings rolled by this call. */
  postings: number;
}

/**
 * Rolls every posting up to the start of the latest Asia/Shanghai day that began at least
 * ROLL_AFTER_DAY_END_MS ago into per-account daily totals. Catches up any number of days in one
 * pass; idempotent (a second call finds nothing new); two calls at once take turns.
 */
export async function rollUpLedger(db: Db, now = new Date()): Promise<LedgerRollup> {
  const target = businessDayRange(businessDateOf(new Date(now.getTime() - ROLL_AFTER_DAY_END_MS))).start;
  return db.transaction(async (trx) => {
    await trx.raw(`INSERT INTO ledger_rollup_state (rolled_until) VALUES ('-infinity') ON CONFLICT DO NOTHING`);
    // compared in SQL: the first roll starts from -infinity, which is no Date
    const { rows: [state] } = await trx.raw('SELECT rolled_until, rolled_until >= ? AS done FROM ledger_rollup_state FOR UPDATE', [target]);
    if (state.done) return { rolledUntil: state.rolled_until, postings: 0 };
    const { rows: [rolled] } = await trx.raw(
      `WITH days AS (
         INSERT INTO ledger_account_days (account_id, day, net, debits, postings)
         SELECT account_id, (posted_at AT TIME ZONE 'Asia/Shanghai')::date, sum(amount), coalesce(sum(amount) FILTER (WHERE amount > 0), 0), count(*)
           FROM ledger_postings WHERE posted_at >= (SELECT rolled_until FROM ledger_rollup_state) AND posted_at < ?
          GROUP BY 1, 2
         RETURNING net, postings
       )
       SELECT coalesce(sum(net), 0)::bigint AS net, coalesce(sum(postings), 0)::int AS postings FROM days`,
      [target],
    );
    await trx.raw('UPDATE ledger_rollup_state SET rolled_until = ?, rolled_net = rolled_net + ?, rolled_at = now()', [target, rolled.net]);
    return { rolledUntil: target, postings: rolled.postings };
  });
}

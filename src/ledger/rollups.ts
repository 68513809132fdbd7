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
 * ROLL_AFTER_DAY_END_MS ago (intraday: up to ROLL_AFTER_DAY_END_MS ago) into per-account daily totals. Catches up any number of days in one
 * pass; idempotent (a second call finds nothing new); two calls at once take turns.
 */
export async function rollUpLedger(db: Db, now = new Date(), options: { intraday?: boolean } = {}): Promise<LedgerRollup> {
  const settled = new Date(now.getTime() - ROLL_AFTER_DAY_END_MS);
  // intraday: up to that instant, today's postings too (a day's row then grows by later rolls)
  const target = options.intraday ? settled : businessDayRange(businessDateOf(settled)).start;
  return db.transaction(async (trx) => {
    await trx.raw(`INSERT INTO ledger_rollup_state (rolled_until) VALUES ('-infinity') ON CONFLICT DO NOTHING`);
    // compared in SQL: the first roll starts from -infinity, which is no Date
    const { rows: [state] } = await trx.raw('SELECT rolled_until, rolled_until >= ? AS done FROM ledger_rollup_state FOR UPDATE', [target]);
    if (state.done) return { rolledUntil: state.rolled_until, postings: 0 };
    // the totals the dashboard reads (per account, per day) move with the days rolled, in one statement
    const { rows: [rolled] } = await trx.raw(
      `WITH days AS (
         SELECT account_id, (posted_at AT TIME ZONE 'Asia/Shanghai')::date AS day, sum(amount) AS net, coalesce(sum(amount) FILTER (WHERE amount > 0), 0) AS debits, count(*) AS postings
           FROM ledger_postings WHERE posted_at >= (SELECT rolled_until FROM ledger_rollup_state) AND posted_at < ?
          GROUP BY 1, 2
       ), account_days AS (
         INSERT INTO ledger_account_days AS t (account_id, day, net, debits, postings) SELECT account_id, day, net, debits, postings FROM days
         ON CONFLICT (account_id, day) DO UPDATE SET net = t.net + excluded.net, debits = t.debits + excluded.debits, postings = t.postings + excluded.postings
       ), accounts AS (
         INSERT INTO ledger_rolled_accounts AS t (account_id, net) SELECT account_id, sum(net) FROM days GROUP BY account_id
         ON CONFLICT (account_id) DO UPDATE SET net = t.net + excluded.net
       ), totals AS (
         INSERT INTO ledger_rolled_days AS t (day, debits, net) SELECT day, sum(debits), sum(net) FROM days GROUP BY day
         ON CONFLICT (day) DO UPDATE SET debits = t.debits + excluded.debits, net = t.net + excluded.net
       )
       SELECT coalesce(sum(net), 0)::bigint AS net, coalesce(sum(postings), 0)::int AS postings FROM days`,
      [target],
    );
    await trx.raw('UPDATE ledger_rollup_state SET rolled_until = ?, rolled_net = rolled_net + ?, rolled_at = now()', [target, rolled.net]);
    return { rolledUntil: target, postings: rolled.postings };
  });
}

/** How stale the dashboard lets today's rolled ledger get before its next read rolls it on. */
export const INTRADAY_ROLL_EVERY_MS = 5 * 60_000;

/**
 * Keeps the live tail short for the dashboard: today's postings are otherwise read live until the
 * nightly roll (100,000 by evening on a busy day, read by every overview). When the ledger was
 * rolled more than INTRADAY_ROLL_EVERY_MS ago, rolls it up to ROLL_AFTER_DAY_END_MS ago; else one read.
 */
export async function keepLedgerRolledUp(db: Db, now = new Date()): Promise<void> {
  const { rows: [state] } = await db.raw('SELECT rolled_until FROM ledger_rollup_state WHERE rolled_until >= ?', [new Date(now.getTime() - ROLL_AFTER_DAY_END_MS - INTRADAY_ROLL_EVERY_MS)]);
  if (!state) await rollUpLedger(db, now, { intraday: true });
}

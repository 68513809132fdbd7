import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import { addDays, assertBusinessDate, businessDateOf, type BusinessDate } from '../dates.ts';
import { sqlState, type Db } from '../db/knex.ts';
import { actorColumns, assertMay, isSchedule, type Actor, type Schedule } from '../users/actor.ts';
import { DayNotOverError, SettlementFrozenError, SettlementIdentityError } from './errors.ts';
import { sectionSql } from './sections.ts';
import type { SettledDay } from './types.ts';

/**
 * A late posting (dated on a settled day) is looked for among postings made since shortly before
 * the previous settlement began: a transaction that started before it and committed after it
 * carries a posted_at a little earlier than its start.
 */
const LATE_POSTING_MARGIN = '1 hour';

/**
 * Settles one business day: every wallet posting dated on or before it and not yet settled goes
 * on that day's statement of its reseller, in one repeatable-read transaction, and the statements
 * are checked against the ledger before anything commits. A day already settled is returned as it
 * was (frozen); a day before the last settled one is refused.
 */
export async function settleDay(db: Db, date: BusinessDate, options: { actor: Actor | Schedule; now?: Date }): Promise<SettledDay> {
  assertBusinessDate(date, 'settlement date');
  if (!isSchedule(options.actor)) assertMay(options.actor, 'settlement');
  const today = businessDateOf(options.now ?? new Date());
  if (date >= today) throw new DayNotOverError(date, today);
  try {
    return await db.transaction((trx) => settleIn(trx, date, options.actor), { isolationLevel: 'repeatable read' });
  } catch (err) {
    // Another settlement of the same day committed after our snapshot was taken: it stands.
    if (sqlState(err) === '23505' || sqlState(err) === '40001') {
      const settled = await settledDay(db, date);
      if (settled) return settled;
    }
    throw err;
  }
}

/** Every unsettled day up to and including `date`, oldest first (just `date` if none is settled yet). */
export async function daysToSettle(db: Db, date: BusinessDate): Promise<BusinessDate[]> {
  assertBusinessDate(date, 'settlement date');
  const last = await lastSettledDay(db);
  if (!last) return [date];
  if (date <= last) return (await settledDay(db, date)) ? [] : [date];
  const days: BusinessDate[] = [];
  for (let d = addDays(last, 1); d <= date; d = addDays(d, 1)) days.push(d);
  return days;
}

export async function settledDay(db: Db | Knex.Transaction, date: BusinessDate): Promise<SettledDay | undefined> {
  const row = await db('settlement_days').where({ business_date: date }).first();
  return row && {
    date: row.business_date, statements: row.statements, lines: row.lines, lateLines: row.late_lines,
    settledAt: new Date(row.settled_at).toISOString(), settledBy: row.settled_by, created: false,
  };
}

export async function lastSettledDay(db: Db | Knex.Transaction): Promise<BusinessDate | undefined> {
  const row = await db('settlement_days').max('business_date as last').first();
  return row?.last ?? undefined;
}

async function settleIn(trx: Knex.Transaction, date: BusinessDate, actor: Actor | Schedule): Promise<SettledDay> {
  await trx.raw("SELECT pg_advisory_xact_lock(hashtext('kameng:settlement'))");
  const existing = await settledDay(trx, date);
  if (existing) return existing;
  const previous = await trx('settlement_days').where('business_date', '<', date).orderBy('business_date', 'desc').first();
  const last = await lastSettledDay(trx);
  if (last && last > date) throw new SettlementFrozenError(date, last);

  // The day row first: statements refer to it. Its counts are filled in once they are known.
  await trx('settlement_days').insert({ business_date: date, statements: 0, lines: 0, late_lines: 0, started_at: trx.raw('now()'),
    settled_by: actorColumns(actor).name, settled_by_user_id: actorColumns(actor).id });
  await collectUnsettledPostings(trx, date, previous?.started_at ?? null);
  await writeStatements(trx, date, previous?.business_date ?? null);
  await assertStatementsMatchLedger(trx, date);
  await trx.raw(
    `UPDATE settlement_days d SET statements = t.statements, lines = t.lines, late_lines = t.late_lines
       FROM (SELECT count(*)::int AS statements, coalesce(sum(lines), 0)::int AS lines, coalesce(sum(late_lines), 0)::int AS late_lines
               FROM reseller_statements WHERE business_date = ?::date) t
      WHERE d.business_date = ?::date`,
    [date, date],
  );
  const settled = (await settledDay(trx, date))!;
  await recordAudit(trx, {
    actor, action: 'settlement.settle', subjectType: 'settlement_day', subjectId: date, reason: `${settled.statements} statements, ${settled.lines} lines`,
    details: { statements: settled.statements, lines: settled.lines, lateLines: settled.lateLines },
  });
  return { ...settled, created: true };
}

/** The wallet postings this settlement takes: dated on or before the day, not settled before. */
async function collectUnsettledPostings(trx: Knex.Transaction, date: BusinessDate, previousStartedAt: Date | null): Promise<void> {
  const select = `
    SELECT p.id AS posting_id, a.owner_id AS reseller_id, a.currency, p.entry_id, ${sectionSql('e.kind')} AS section,
           -p.amount AS amount_fen, e.business_date AS entry_date, p.posted_at
      FROM ledger_postings p
      JOIN ledger_entries e ON e.id = p.entry_id
      JOIN ledger_accounts a ON a.id = p.account_id AND a.kind = 'reseller_wallet'`;
  const unsettled = 'NOT EXISTS (SELECT 1 FROM reseller_statement_lines l WHERE l.posting_id = p.id)';
  if (previousStartedAt === null) {
    // The first settlement ever takes everything up to its day.
    await trx.raw(`CREATE TEMP TABLE settle_new ON COMMIT DROP AS ${select} WHERE e.business_date <= ?::date AND ${unsettled}`, [date]);
  } else {
    await trx.raw(
      `CREATE TEMP TABLE settle_new ON COMMIT DROP AS
         ${select} WHERE e.business_date = ?::date AND ${unsettled}
       UNION
         ${select} WHERE e.business_date < ?::date AND p.posted_at >= ?::timestamptz - interval '${LATE_POSTING_MARGIN}' AND ${unsettled}`,
      [date, date, previousStartedAt],
    );
  }
  await trx.raw('ANALYZE settle_new');
}

/**
 * One statement per reseller wallet with postings today or a balance carried from the previous
 * settled day; opening is that day's closing.
 */
async function writeStatements(trx: Knex.Transaction, date: BusinessDate, previousDate: BusinessDate | null): Promise<void> {
  await trx.raw(
    `WITH prev AS (
       SELECT reseller_id, currency, closing_fen FROM reseller_statements WHERE business_date = ?::date
     ), agg AS (
       SELECT reseller_id, currency,
              coalesce(sum(amount_fen) FILTER (WHERE section = 'topup'), 0) AS topups,
              count(*) FILTER (WHERE section = 'order' AND amount_fen < 0) AS orders_count,
              coalesce(-sum(amount_fen) FILTER (WHERE section = 'order'), 0) AS orders_gross,
              coalesce(sum(amount_fen) FILTER (WHERE section = 'refund'), 0) AS refunds,
              coalesce(sum(amount_fen) FILTER (WHERE section = 'adjustment'), 0) AS adjustments,
              coalesce(sum(amount_fen) FILTER (WHERE section = 'rebate'), 0) AS rebates,
              coalesce(sum(amount_fen) FILTER (WHERE section = 'other'), 0) AS other,
              coalesce(sum(amount_fen) FILTER (WHERE amount_fen > 0), 0) AS credits,
              coalesce(-sum(amount_fen) FILTER (WHERE amount_fen < 0), 0) AS debits,
              count(*) AS lines,
              count(*) FILTER (WHERE entry_date < ?::date) AS late_lines
         FROM settle_new GROUP BY reseller_id, currency
     ), who AS (
       SELECT reseller_id, currency FROM agg
       UNION SELECT reseller_id, currency FROM prev WHERE closing_fen <> 0
     )
     INSERT INTO reseller_statements (reseller_id, business_date, currency, opening_fen, topups_fen, orders_count, orders_gross_fen,
                                      refunds_fen, adjustments_fen, rebates_fen, other_fen, credits_fen, debits_fen, closing_fen, lines, late_lines)
     SELECT w.reseller_id, ?::date, w.currency, coalesce(prev.closing_fen, 0),
            coalesce(agg.topups, 0), coalesce(agg.orders_count, 0), coalesce(agg.orders_gross, 0), coalesce(agg.refunds, 0),
            coalesce(agg.adjustments, 0), coalesce(agg.rebates, 0), coalesce(agg.other, 0), coalesce(agg.credits, 0), coalesce(agg.debits, 0),
            coalesce(prev.closing_fen, 0) + coalesce(agg.credits, 0) - coalesce(agg.debits, 0),
            coalesce(agg.lines, 0), coalesce(agg.late_lines, 0)
       FROM who w
       LEFT JOIN agg ON agg.reseller_id = w.reseller_id AND agg.currency = w.currency
       LEFT JOIN prev ON prev.reseller_id = w.reseller_id AND prev.currency = w.currency`,
    [previousDate, date, date],
  );
  await trx.raw(
    `INSERT INTO reseller_statement_lines (posting_id, statement_id, entry_id, section, amount_fen, entry_date, posted_at)
     SELECT n.posting_id, s.id, n.entry_id, n.section, n.amount_fen, n.entry_date, n.posted_at
       FROM settle_new n
       JOIN reseller_statements s ON s.business_date = ?::date AND s.reseller_id = n.reseller_id AND s.currency = n.currency`,
    [date],
  );
}

/**
 * Every wallet's closing must equal its ledger balance without the postings dated after the day
 * (all others are settled by now, today or before). The wallet's guarded balance is the sum of all
 * its postings, kept by ledger_post.
 */
async function assertStatementsMatchLedger(trx: Knex.Transaction, date: BusinessDate): Promise<void> {
  const { rows } = await trx.raw(
    `WITH later AS (
       SELECT p.account_id, sum(p.amount) AS amount
         FROM ledger_entries e JOIN ledger_postings p ON p.entry_id = e.id
        WHERE e.business_date > ?::date GROUP BY p.account_id
     )
     SELECT a.code AS wallet, (-(a.guarded_balance - coalesce(later.amount, 0)))::bigint AS ledger_fen, coalesce(s.closing_fen, 0)::bigint AS statement_fen
       FROM ledger_accounts a
       LEFT JOIN later ON later.account_id = a.id
       LEFT JOIN reseller_statements s ON s.business_date = ?::date AND s.reseller_id = a.owner_id AND s.currency = a.currency
      WHERE a.kind = 'reseller_wallet' AND -(a.guarded_balance - coalesce(later.amount, 0)) <> coalesce(s.closing_fen, 0)`,
    [date, date],
  );
  if (rows.length > 0) {
    throw new SettlementIdentityError(date, rows.map((r: Record<string, any>) => ({ wallet: r.wallet, ledgerFen: r.ledger_fen, statementFen: r.statement_fen })));
  }
}

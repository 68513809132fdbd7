import { recordAudit } from '../audit/audit-log.ts';
import { addDays, type BusinessDate } from '../dates.ts';
import type { Db } from '../db/knex.ts';
import { KamengError, ValidationError } from '../errors.ts';
import { accountCode } from '../ledger/accounts.ts';
import { credit, debit, type Ledger } from '../ledger/ledger.ts';
import { assertMay, isSchedule, type Actor, type Schedule } from '../users/actor.ts';

export interface RebateBracket {
  /** Net gross (fen) from which this rate applies, up to the next bracket's threshold. */
  thresholdFen: number;
  /** Basis points: 100 = 1%. */
  rateBp: number;
}

export interface RebateAward {
  month: string;
  resellerId: number;
  resellerCode: string;
  tier: string;
  netGrossFen: number;
  rebateFen: number;
  entryId: number | null;
}

export class MonthNotSettledError extends KamengError {
  constructor(month: string, lastDay: BusinessDate) {
    super('MONTH_NOT_SETTLED', `rebates for ${month} are computed once the month is settled; ${lastDay} is not settled yet (kameng settle --date ${lastDay})`, { details: { month, lastDay } });
  }
}

/** Last calendar day of a "YYYY-MM" month. */
export function lastDayOfMonth(month: string): BusinessDate {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) throw new ValidationError(`month: "${month}" is not in YYYY-MM form`);
  const [y, m] = month.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
}

/**
 * Volume rebates: each price tier has marginal brackets over a reseller's net gross for the month
 * (orders less refunds, from its settled statements). Awarded once per reseller and month, posted
 * as a credit to the wallet dated the first day of the next month, so it shows on that statement.
 */
export class Rebates {
  constructor(private readonly db: Db, private readonly ledger: Ledger) {}

  /** Replaces a tier's brackets. */
  async setRules(tier: string, brackets: RebateBracket[]): Promise<void> {
    for (const b of brackets) {
      if (!Number.isSafeInteger(b.thresholdFen) || b.thresholdFen < 0) throw new ValidationError(`rebate threshold ${b.thresholdFen} is not a whole number of fen >= 0`);
      if (!Number.isInteger(b.rateBp) || b.rateBp < 0 || b.rateBp > 10_000) throw new ValidationError(`rebate rate ${b.rateBp} bp is not between 0 and 10000`);
    }
    await this.db.transaction(async (trx) => {
      await trx('rebate_rules').where({ tier }).delete();
      if (brackets.length) await trx('rebate_rules').insert(brackets.map((b) => ({ tier, threshold_fen: b.thresholdFen, rate_bp: b.rateBp })));
    });
  }

  async rules(): Promise<{ tier: string; thresholdFen: number; rateBp: number }[]> {
    const rows = await this.db('rebate_rules').orderBy(['tier', 'threshold_fen']);
    return rows.map((r) => ({ tier: r.tier, thresholdFen: r.threshold_fen, rateBp: r.rate_bp }));
  }

  /** Computes and posts a month's rebates; running it again posts nothing more. */
  async awardMonth(month: string, actor: Actor | Schedule): Promise<RebateAward[]> {
    if (!isSchedule(actor)) assertMay(actor, 'settlement');
    const lastDay = lastDayOfMonth(month);
    const settled = await this.db('settlement_days').where({ business_date: lastDay }).first('business_date');
    if (!settled) throw new MonthNotSettledError(month, lastDay);
    const postedOn = addDays(lastDay, 1);
    await this.db.transaction(async (trx) => {
      await trx.raw(
        `WITH net AS (
           SELECT s.reseller_id, r.tier, sum(s.orders_gross_fen - s.refunds_fen) AS net_gross
             FROM reseller_statements s JOIN resellers r ON r.id = s.reseller_id
            WHERE s.business_date BETWEEN ?::date AND ?::date AND s.currency = 'CNY'
            GROUP BY s.reseller_id, r.tier
         ), brackets AS (
           SELECT tier, threshold_fen, rate_bp, lead(threshold_fen) OVER (PARTITION BY tier ORDER BY threshold_fen) AS next_fen
             FROM rebate_rules
         )
         INSERT INTO rebate_awards (month, reseller_id, tier, net_gross_fen, rebate_fen)
         SELECT ?, n.reseller_id, n.tier, n.net_gross,
                coalesce(sum(floor(b.rate_bp * greatest(0, least(n.net_gross, coalesce(b.next_fen, n.net_gross)) - b.threshold_fen) / 10000.0)), 0)::bigint
           FROM net n LEFT JOIN brackets b ON b.tier = n.tier
          GROUP BY n.reseller_id, n.tier, n.net_gross
         ON CONFLICT (month, reseller_id) DO NOTHING`,
        [`${month}-01`, lastDay, month],
      );
      const pending = await trx('rebate_awards').where({ month }).whereNull('entry_id').where('rebate_fen', '>', 0).forUpdate();
      for (const a of pending) {
        const entry = await this.ledger.post({
          idempotencyKey: `rebate:${a.reseller_id}:${month}`, kind: 'rebate', businessDate: postedOn,
          description: `${month} 月度返利 monthly volume rebate (${a.tier})`,
          metadata: { resellerId: a.reseller_id, month, netGrossFen: a.net_gross_fen },
          postings: [debit(accountCode.platform('rebates'), a.rebate_fen), credit(accountCode.resellerWallet(a.reseller_id), a.rebate_fen)],
        }, trx);
        await trx('rebate_awards').where({ month, reseller_id: a.reseller_id }).update({ entry_id: entry.id });
      }
      if (pending.length) await recordAudit(trx, { actor, action: 'rebate.award', subjectType: 'rebate_month', subjectId: month, reason: 'month-end volume rebates', details: { awards: pending.length } });
    });
    return this.awards(month);
  }

  async awards(month: string): Promise<RebateAward[]> {
    const rows = await this.db('rebate_awards as a').join('resellers as r', 'r.id', 'a.reseller_id').where('a.month', month).orderBy('r.code')
      .select('a.*', 'r.code as reseller_code');
    return rows.map((r) => ({
      month: r.month, resellerId: r.reseller_id, resellerCode: r.reseller_code, tier: r.tier, netGrossFen: r.net_gross_fen, rebateFen: r.rebate_fen, entryId: r.entry_id,
    }));
  }
}

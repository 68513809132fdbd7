import type { BusinessDate } from '../dates.ts';
import type { Db } from '../db/knex.ts';

export interface AccountBalanceRow {
  code: string;
  name: string;
  kind: string;
  labelZh: string;
  labelEn: string;
  currency: string;
  /** In the account's normal direction. */
  balance: number;
}

/** Read-side queries over the ledger for reports and the dashboard. */
export class LedgerReports {
  constructor(private readonly db: Db) {}

  /** Accounts with balances, platform accounts first, paginated. */
  async trialBalance(options: { limit: number; offset: number }): Promise<{ rows: AccountBalanceRow[]; total: number }> {
    const { rows } = await this.db.raw(
      `SELECT a.code, a.name, a.kind, k.label_zh, k.label_en, a.currency, a.normal_side,
              coalesce((SELECT sum(p.amount) FROM ledger_postings p WHERE p.account_id = a.id), 0)::bigint AS total,
              count(*) OVER ()::int AS total_rows
         FROM ledger_accounts a JOIN ledger_account_kinds k ON k.kind = a.kind
        ORDER BY (a.owner_type IS NOT NULL), a.code
        LIMIT ? OFFSET ?`,
      [options.limit, options.offset],
    );
    return {
      total: rows[0]?.total_rows ?? 0,
      rows: rows.map((r: Record<string, any>) => ({
        code: r.code, name: r.name, kind: r.kind, labelZh: r.label_zh, labelEn: r.label_en, currency: r.currency,
        balance: r.normal_side === 'credit' ? 0 - r.total : r.total,
      })),
    };
  }

  /** Sum of debits per business day: how much money moved. */
  async dailyDebits(from: BusinessDate, to: BusinessDate): Promise<{ date: BusinessDate; debitsFen: number; entries: number }[]> {
    const { rows } = await this.db.raw(
      `SELECT e.business_date AS date, sum(p.amount) FILTER (WHERE p.amount > 0)::bigint AS debits, count(DISTINCT e.id)::int AS entries
         FROM ledger_entries e JOIN ledger_postings p ON p.entry_id = e.id
        WHERE e.business_date BETWEEN ?::date AND ?::date
        GROUP BY e.business_date ORDER BY e.business_date`,
      [from, to],
    );
    return rows.map((r: Record<string, any>) => ({ date: r.date, debitsFen: r.debits ?? 0, entries: r.entries }));
  }

  /** Sum of all postings per currency: zero when the books balance. */
  async imbalance(): Promise<number> {
    const { rows } = await this.db.raw('SELECT coalesce(sum(amount), 0)::bigint AS total FROM ledger_postings');
    return rows[0].total;
  }
}

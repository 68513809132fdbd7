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
  /** The balance as a trial balance shows it: on the debit side (debits exceed credits) or the credit side; the other is 0. */
  debitFen: number;
  creditFen: number;
}

/** Read-side queries over the ledger for reports and the dashboard. */
export class LedgerReports {
  constructor(private readonly db: Db) {}

  /**
   * Accounts with balances, platform accounts first, paginated. A balance is its rolled-up total
   * (ledger_rolled_accounts) plus the postings since, read from the (account_id, posted_at) index:
   * a page costs the same over a thousand postings or ten million.
   */
  async trialBalance(options: { limit: number; offset: number }): Promise<{ rows: AccountBalanceRow[]; total: number }> {
    const { since } = await this.rolled();
    const { rows } = await this.db.raw(
      `WITH page AS (
         SELECT a.id, a.code, a.name, a.kind, k.label_zh, k.label_en, a.currency, a.normal_side, a.owner_type,
                count(*) OVER ()::int AS total_rows
           FROM ledger_accounts a JOIN ledger_account_kinds k ON k.kind = a.kind
          ORDER BY (a.owner_type IS NOT NULL), a.code
          LIMIT ? OFFSET ?
       )
       SELECT page.*,
              (coalesce((SELECT d.net FROM ledger_rolled_accounts d WHERE d.account_id = page.id), 0)
               + coalesce((SELECT sum(p.amount) FROM ledger_postings p WHERE p.account_id = page.id AND p.posted_at >= ?::timestamptz), 0))::bigint AS total
         FROM page ORDER BY (page.owner_type IS NOT NULL), page.code`,
      [options.limit, options.offset, since],
    );
    return {
      total: rows[0]?.total_rows ?? 0,
      rows: rows.map((r: Record<string, any>) => ({
        code: r.code, name: r.name, kind: r.kind, labelZh: r.label_zh, labelEn: r.label_en, currency: r.currency,
        balance: r.normal_side === 'credit' ? 0 - r.total : r.total,
        debitFen: r.total > 0 ? r.total : 0, creditFen: r.total < 0 ? 0 - r.total : 0,
      })),
    };
  }

  /** The trial balance's totals over every account (not a page): debit balances and credit balances, equal when the books balance. */
  async trialBalanceTotals(): Promise<{ debitFen: number; creditFen: number; accounts: number }> {
    const { since } = await this.rolled();
    const { rows: [t] } = await this.db.raw(
      `WITH net AS (
         SELECT (coalesce((SELECT d.net FROM ledger_rolled_accounts d WHERE d.account_id = a.id), 0)
                 + coalesce((SELECT sum(p.amount) FROM ledger_postings p WHERE p.account_id = a.id AND p.posted_at >= ?::timestamptz), 0))::bigint AS total
           FROM ledger_accounts a)
       SELECT coalesce(sum(total) FILTER (WHERE total > 0), 0)::bigint AS debit, coalesce(0 - sum(total) FILTER (WHERE total < 0), 0)::bigint AS credit, count(*)::int AS accounts FROM net`,
      [since],
    );
    return { debitFen: Number(t.debit), creditFen: Number(t.credit), accounts: t.accounts };
  }

  /**
   * How far the ledger is rolled up. Passed to the queries as a value, not read inside them: the
   * planner then sees how few postings come after it and reads them from the index.
   */
  private async rolled(): Promise<{ since: Date | string; net: number }> {
    const { rows: [state] } = await this.db.raw(
      `SELECT CASE WHEN isfinite(rolled_until) THEN rolled_until END AS until, rolled_net AS net FROM ledger_rollup_state`);
    return { since: state?.until ?? '-infinity', net: state?.net ?? 0 };
  }

  /**
   * Money moved per Asia/Shanghai day of posting (the sum of debits), and the books' imbalance (the
   * sum of every posting, 0 when they balance): rolled-up days (ledger_rolled_days), plus the postings since, per account.
   */
  async movement(from: BusinessDate, to: BusinessDate): Promise<{ days: { date: BusinessDate; debitsFen: number }[]; imbalanceFen: number }> {
    const { since, net } = await this.rolled();
    const { rows } = await this.db.raw(
      `WITH live AS (
         SELECT (p.posted_at AT TIME ZONE 'Asia/Shanghai')::date AS day, sum(p.amount) FILTER (WHERE p.amount > 0) AS debits, sum(p.amount) AS net
           FROM ledger_accounts a
           CROSS JOIN LATERAL (SELECT posted_at, amount FROM ledger_postings p WHERE p.account_id = a.id AND p.posted_at >= ?::timestamptz) p
          GROUP BY 1
       ), days AS (
         SELECT day, debits FROM ledger_rolled_days WHERE day BETWEEN ?::date AND ?::date
         UNION ALL
         SELECT day, debits FROM live WHERE day BETWEEN ?::date AND ?::date
       )
       SELECT day::text AS date, sum(debits)::bigint AS debits, NULL::bigint AS imbalance FROM days GROUP BY day
       UNION ALL
       SELECT NULL, NULL, (?::bigint + coalesce((SELECT sum(net) FROM live), 0))::bigint
       ORDER BY 1`,
      [since, from, to, from, to, net],
    );
    const imbalance = rows.find((r: Record<string, any>) => r.date === null);
    return {
      days: rows.filter((r: Record<string, any>) => r.date !== null).map((r: Record<string, any>) => ({ date: r.date, debitsFen: r.debits ?? 0 })),
      imbalanceFen: imbalance?.imbalance ?? 0,
    };
  }
}

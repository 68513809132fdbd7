import type { BusinessDate } from '../dates.ts';
import type { Db } from '../db/knex.ts';
import { NotFoundError } from '../errors.ts';
import { DayNotSettledError } from './errors.ts';
import type { Section } from './sections.ts';
import type { ResellerStatement } from './types.ts';

/** A statement line as finance reads it: the wallet posting with its order, if any. */
export interface StatementLine {
  postingId: number;
  statementDate: BusinessDate;
  resellerCode: string;
  entryDate: BusinessDate;
  postedAt: Date;
  section: Section;
  amountFen: number;
  entryKey: string;
  description: string;
  orderId: number | null;
  resellerOrderId: string | null;
  sku: string | null;
  quantity: number | null;
}

const STATEMENT_COLUMNS = `s.id, s.reseller_id, r.code AS reseller_code, r.name AS reseller_name, s.business_date, s.currency, s.opening_fen, s.topups_fen,
  s.orders_count, s.orders_gross_fen, s.refunds_fen, s.adjustments_fen, s.rebates_fen, s.other_fen, s.credits_fen, s.debits_fen,
  s.closing_fen, s.lines, s.late_lines`;

const toStatement = (r: Record<string, any>): ResellerStatement => ({
  id: r.id, resellerId: r.reseller_id, resellerCode: r.reseller_code, resellerName: r.reseller_name, businessDate: r.business_date,
  currency: r.currency, openingFen: r.opening_fen, topupsFen: r.topups_fen, ordersCount: r.orders_count, ordersGrossFen: r.orders_gross_fen,
  refundsFen: r.refunds_fen, adjustmentsFen: r.adjustments_fen, rebatesFen: r.rebates_fen, otherFen: r.other_fen,
  creditsFen: r.credits_fen, debitsFen: r.debits_fen, closingFen: r.closing_fen, lines: r.lines, lateLines: r.late_lines,
});

/** Read side of settlement: statements and their lines, paginated or streamed. */
export class Statements {
  constructor(private readonly db: Db) {}

  /** Refuses a day that is not settled: it has no statements yet, which is not the same as none. */
  async assertSettled(date: BusinessDate): Promise<void> {
    if (!(await this.db('settlement_days').where({ business_date: date }).first('business_date'))) throw new DayNotSettledError(date);
  }

  /** Every statement of a settled day, by reseller code. */
  async forDay(date: BusinessDate, page: { limit: number; offset: number }): Promise<{ rows: ResellerStatement[]; total: number }> {
    const { rows } = await this.db.raw(
      `SELECT ${STATEMENT_COLUMNS}, count(*) OVER ()::int AS total_rows
         FROM reseller_statements s JOIN resellers r ON r.id = s.reseller_id
        WHERE s.business_date = ?::date ORDER BY r.code, s.currency LIMIT ? OFFSET ?`,
      [date, page.limit, page.offset],
    );
    return { rows: rows.map(toStatement), total: rows[0]?.total_rows ?? 0 };
  }

  /** One reseller's daily statements over a range of settled days, oldest first. */
  async forReseller(resellerCode: string, from: BusinessDate, to: BusinessDate): Promise<ResellerStatement[]> {
    const reseller = await this.db('resellers').where({ code: resellerCode }).first('id');
    if (!reseller) throw new NotFoundError('reseller', resellerCode);
    const { rows } = await this.db.raw(
      `SELECT ${STATEMENT_COLUMNS} FROM reseller_statements s JOIN resellers r ON r.id = s.reseller_id
        WHERE s.reseller_id = ? AND s.business_date BETWEEN ?::date AND ?::date ORDER BY s.business_date, s.currency`,
      [reseller.id, from, to],
    );
    return rows.map(toStatement);
  }

  /**
   * The lines of some statements in one section, statement by statement and a page at a time by
   * posting id (keyset, so a million lines never sit in memory); the next page is fetched while the
   * caller writes this one.
   */
  async *lines(statementIds: number[], section: Section, pageSize = 2_000): AsyncGenerator<StatementLine[]> {
    for (const statementId of statementIds) {
      let next = this.linesPage(statementId, section, 0, pageSize);
      for (;;) {
        const page = await next;
        if (page.length === 0) break;
        next = page.length < pageSize ? Promise.resolve([]) : this.linesPage(statementId, section, page[page.length - 1]!.postingId, pageSize);
        yield page;
      }
    }
  }

  private async linesPage(statementId: number, section: Section, after: number, limit: number): Promise<StatementLine[]> {
    const { rows } = await this.db.raw(
      `SELECT l.posting_id, s.business_date AS statement_date, r.code AS reseller_code, l.entry_date, l.posted_at, l.section, l.amount_fen,
              e.idempotency_key, e.description, o.id AS order_id, o.reseller_order_id, o.sku_code, o.quantity
         FROM reseller_statement_lines l
         JOIN reseller_statements s ON s.id = l.statement_id
         JOIN resellers r ON r.id = s.reseller_id
         JOIN ledger_entries e ON e.id = l.entry_id
         LEFT JOIN orders o ON o.id = (e.metadata ->> 'orderId')::bigint
        WHERE l.statement_id = ? AND l.section = ? AND l.posting_id > ?
        ORDER BY l.posting_id LIMIT ?`,
      [statementId, section, after, limit],
    );
    return rows.map((r: Record<string, any>) => ({
      postingId: r.posting_id, statementDate: r.statement_date, resellerCode: r.reseller_code, entryDate: r.entry_date, postedAt: r.posted_at, section: r.section,
      amountFen: r.amount_fen, entryKey: r.idempotency_key, description: r.description, orderId: r.order_id,
      resellerOrderId: r.reseller_order_id, sku: r.sku_code, quantity: r.quantity,
    }));
  }
}

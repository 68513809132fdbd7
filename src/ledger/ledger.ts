import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { businessDateOf, assertBusinessDate, type BusinessDate } from '../dates.ts';
import type { Db } from '../db/knex.ts';
import type { SqlPart } from '../db/sql-part.ts';
import { ValidationError } from '../errors.ts';
import { assertFen, type Fen } from '../money.ts';
import { accountCode, DEFAULT_CURRENCY, PLATFORM_ACCOUNTS, type AccountKind } from './accounts.ts';
import { CurrencyMismatchError, ledgerErrorFrom, UnbalancedEntryError } from './errors.ts';

/** One line of a journal entry. Debit is positive, credit negative; use debit()/credit(). */
export interface Posting {
  account: string;
  amount: Fen;
  currency?: string;
}

export const debit = (account: string, amount: Fen, currency?: string): Posting => ({ account, amount, currency });
export const credit = (account: string, amount: Fen, currency?: string): Posting => ({ account, amount: -amount, currency });

export interface EntryInput {
  /** The same key with the same content returns the same entry; with other content it is refused. */
  idempotencyKey: string;
  kind: string;
  postings: Posting[];
  description?: string;
  /** Asia/Shanghai day the entry belongs to; defaults to today there. Part of the content if given. */
  businessDate?: BusinessDate;
  metadata?: Record<string, unknown>;
}

export interface PostedEntry {
  id: number;
  /** false when this was an idempotent replay of an entry that already existed. */
  created: boolean;
}

export interface AccountSpec {
  code: string;
  kind: AccountKind;
  name: string;
  currency?: string;
  ownerType?: string;
  ownerId?: number;
}

export interface Account {
  id: number;
  code: string;
  kind: AccountKind;
  normalSide: 'debit' | 'credit';
  noOverdraft: boolean;
  currency: string;
  name: string;
}

type Queryable = Db | Knex.Transaction;

/** An entry as one account saw it (Ledger.accountEntries). */
export interface AccountEntry {
  id: number;
  key: string;
  kind: string;
  description: string;
  businessDate: string;
  metadata: Record<string, unknown>;
  postedAt: Date;
  /** As the account reads it: positive raises its balance. */
  amountFen: number;
}

/** An entry whose key, metadata and amounts are SQL over the rows of the statement that posts it. */
export interface EntryInStatement {
  key: SqlPart;
  kind: string;
  description: string;
  businessDate: BusinessDate;
  metadata: SqlPart;
  postings: { account: string; amount: SqlPart; currency?: string }[];
}

/**
 * The one place that moves money. Every write is a balanced journal entry posted through
 * ledger_post(), in a single round trip, inside the caller's transaction when one is given.
 */
export class Ledger {
  constructor(private readonly db: Db) {}

  /** Opens an account, or returns it if it exists with the same kind and currency. */
  async openAccount(spec: AccountSpec, trx: Queryable = this.db): Promise<Account> {
    const currency = spec.currency ?? DEFAULT_CURRENCY;
    await trx.raw(
      `INSERT INTO ledger_accounts (code, kind, normal_side, no_overdraft, currency, name, owner_type, owner_id)
       SELECT ?, k.kind, k.normal_side, k.no_overdraft, ?, ?, ?, ? FROM ledger_account_kinds k WHERE k.kind = ?
       ON CONFLICT (code) DO NOTHING`,
      [spec.code, currency, spec.name, spec.ownerType ?? null, spec.ownerId ?? null, spec.kind],
    );
    const account = await this.account(spec.code, trx);
    if (!account) throw new ValidationError(`unknown account kind "${spec.kind}" for account ${spec.code}`);
    if (account.kind !== spec.kind || account.currency !== currency) {
      throw new CurrencyMismatchError(
        `account ${spec.code} already exists as ${account.kind} in ${account.currency}, not ${spec.kind} in ${currency}`,
        spec.code,
      );
    }
    return account;
  }

  /** The platform's own accounts (cash, inventory, revenue, ...) for a currency. */
  async openPlatformAccounts(currency = DEFAULT_CURRENCY): Promise<void> {
    for (const { kind, name } of PLATFORM_ACCOUNTS) {
      await this.openAccount({ code: accountCode.platform(kind, currency), kind, name, currency });
    }
  }

  async account(code: string, trx: Queryable = this.db): Promise<Account | undefined> {
    const row = await trx('ledger_accounts')
      .where({ code })
      .first('id', 'code', 'kind', 'normal_side', 'no_overdraft', 'currency', 'name');
    return row && {
      id: row.id, code: row.code, kind: row.kind, normalSide: row.normal_side,
      noOverdraft: row.no_overdraft, currency: row.currency, name: row.name,
    };
  }

  /** Posts a journal entry; idempotent by key. Throws the ledger's typed errors. */
  async post(input: EntryInput, trx: Queryable = this.db): Promise<PostedEntry> {
    const lines = validateEntry(input);
    const businessDate = input.businessDate ?? businessDateOf(new Date());
    try {
      const result = await trx.raw(
        'SELECT entry_id, created FROM ledger_post(?, ?, ?, ?, ?::date, ?::jsonb, ?::text[], ?::bigint[], ?::text[])',
        [
          input.idempotencyKey,
          contentHash(input, lines),
          input.kind,
          input.description ?? '',
          businessDate,
          JSON.stringify(input.metadata ?? {}),
          lines.map((l) => l.account),
          lines.map((l) => l.amount),
          lines.map((l) => l.currency),
        ],
      );
      const row = result.rows[0] as { entry_id: number; created: boolean };
      return { id: row.entry_id, created: row.created };
    } catch (err) {
      throw ledgerErrorFrom(err) ?? err;
    }
  }

  /**
   * ledger_post as a set-returning call inside a larger statement whose own rows decide the entry:
   * a card order takes its codes, is recorded and is posted in one statement, one round trip, with
   * the cost of the codes it took. PostgreSQL hashes the content (ledger_post_hashed); the entry is
   * checked exactly as post() checks it, and a failure fails the whole statement.
   */
  postingCall(entry: EntryInStatement): SqlPart {
    if (entry.postings.length < 2) throw new UnbalancedEntryError('a journal entry needs at least two postings');
    assertBusinessDate(entry.businessDate);
    const amounts = entry.postings.map((p) => p.amount);
    return {
      sql: `ledger_post_hashed(${entry.key.sql}, ?, ?, ?::date, ${entry.metadata.sql}, ?::text[], ARRAY[${amounts.map((a) => a.sql).join(', ')}]::bigint[], ?::text[])`,
      bindings: [
        ...entry.key.bindings, entry.kind, entry.description, entry.businessDate, ...entry.metadata.bindings,
        entry.postings.map((p) => p.account), ...amounts.flatMap((a) => a.bindings), entry.postings.map((p) => p.currency ?? DEFAULT_CURRENCY),
      ],
    };
  }

  /**
   * Balance in the account's normal direction (a wallet's balance is what the reseller may spend),
   * from the postings themselves, optionally as of an instant.
   */
  async balance(code: string, options: { asOf?: Date } = {}, trx: Queryable = this.db): Promise<Fen> {
    const result = await trx.raw(
      `SELECT a.normal_side, coalesce(sum(p.amount), 0)::bigint AS total
         FROM ledger_accounts a
         LEFT JOIN ledger_postings p ON p.account_id = a.id AND (?::timestamptz IS NULL OR p.posted_at <= ?::timestamptz)
        WHERE a.code = ?
        GROUP BY a.id`,
      [options.asOf ?? null, options.asOf ?? null, code],
    );
    const row = result.rows[0] as { normal_side: string; total: number } | undefined;
    if (!row) throw ledgerErrorFrom({ code: 'KM004', message: `unknown ledger account '${code}'`, detail: code })!;
    return row.normal_side === 'credit' ? 0 - row.total : row.total;
  }

  /**
   * The entries of the given kinds that moved one account, newest first: the amount as the account
   * reads it (positive raises its balance), with the entry's description and metadata.
   */
  async accountEntries(code: string, kinds: string[], page: { limit: number; offset: number }): Promise<{ rows: AccountEntry[]; more: boolean }> {
    // the kinds written into the text, so that a partial index on them (migration 036) can serve
    if (!kinds.length || kinds.some((k) => !/^[a-z_]+$/.test(k))) throw new ValidationError(`entry kinds must be names like wallet_adjustment, not ${JSON.stringify(kinds)}`);
    const { rows } = await this.db.raw(
      `SELECT e.id, e.idempotency_key, e.kind, e.description, e.business_date::text AS business_date, e.metadata, e.posted_at,
              (CASE a.normal_side WHEN 'credit' THEN -p.amount ELSE p.amount END)::bigint AS amount
         FROM ledger_entries e JOIN ledger_postings p ON p.entry_id = e.id JOIN ledger_accounts a ON a.id = p.account_id
        WHERE a.code = ? AND e.kind IN (${kinds.map((k) => `'${k}'`).join(', ')})
        ORDER BY e.posted_at DESC, e.id DESC LIMIT ? OFFSET ?`,
      [code, page.limit + 1, page.offset],
    );
    return {
      rows: rows.slice(0, page.limit).map((r: Record<string, any>) => ({
        id: Number(r.id), key: r.idempotency_key as string, kind: r.kind as string, description: r.description as string, businessDate: r.business_date as string,
        metadata: (r.metadata ?? {}) as Record<string, unknown>, postedAt: new Date(r.posted_at), amountFen: Number(r.amount),
      })),
      more: rows.length > page.limit,
    };
  }

  /**
   * The balance now. An account that may not be overdrawn keeps its running balance
   * (guarded_balance, moved by every posting in the posting's transaction): a wallet of a million
   * orders answers from that row instead of summing its postings.
   */
  async currentBalance(code: string, trx: Queryable = this.db): Promise<Fen> {
    const row = await trx('ledger_accounts').where({ code }).first('normal_side', 'no_overdraft', 'guarded_balance');
    if (!row?.no_overdraft) return this.balance(code, {}, trx);
    const total = Number(row.guarded_balance);
    return row.normal_side === 'credit' ? 0 - total : total;
  }

  async entry(idempotencyKey: string, trx: Queryable = this.db) {
    const entry = await trx('ledger_entries').where({ idempotency_key: idempotencyKey }).first();
    if (!entry) return undefined;
    const postings = await trx('ledger_postings as p')
      .join('ledger_accounts as a', 'a.id', 'p.account_id')
      .where('p.entry_id', entry.id)
      .orderBy('p.id')
      .select('a.code as account', 'p.amount', 'p.currency');
    return { id: entry.id as number, kind: entry.kind as string, businessDate: entry.business_date as string, postings };
  }
}

interface Line { account: string; amount: Fen; currency: string }

function validateEntry(input: EntryInput): Line[] {
  if (typeof input.idempotencyKey !== 'string' || input.idempotencyKey.length === 0 || input.idempotencyKey.length > 200) {
    throw new ValidationError('a journal entry needs an idempotency key of 1 to 200 characters');
  }
  if (!input.kind) throw new ValidationError('a journal entry needs a kind');
  if (input.businessDate !== undefined) assertBusinessDate(input.businessDate, 'businessDate');
  if (!Array.isArray(input.postings) || input.postings.length < 2) {
    throw new UnbalancedEntryError(`journal entry ${input.idempotencyKey} needs at least two postings`);
  }
  const lines = input.postings.map((p, i) => {
    assertFen(p.amount, `posting ${i + 1} (${p.account}) amount`);
    if (p.amount === 0) throw new ValidationError(`posting ${i + 1} (${p.account}) has a zero amount`);
    return { account: p.account, amount: p.amount, currency: p.currency ?? DEFAULT_CURRENCY };
  });
  const totals = new Map<string, number>();
  for (const l of lines) totals.set(l.currency, (totals.get(l.currency) ?? 0) + l.amount);
  for (const [currency, total] of totals) {
    if (total !== 0) {
      throw new UnbalancedEntryError(
        `journal entry ${input.idempotencyKey} does not balance: its ${currency} postings sum to ${total} fen, not 0`,
        { currency, total },
      );
    }
  }
  return lines;
}

/** What makes two posts "the same entry": kind, lines, and the business date when given. */
function contentHash(input: EntryInput, lines: Line[]): string {
  const canonical = lines
    .map((l) => `${l.account}|${l.currency}|${l.amount}`)
    .sort()
    .join('\n');
  return createHash('sha256')
    .update(`${input.kind}\n${input.businessDate ?? ''}\n${canonical}`)
    .digest('hex');
}

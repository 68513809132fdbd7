import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountCode } from '../src/ledger/accounts.ts';
import {
  AppendOnlyError, IdempotencyConflictError, InsufficientFundsError, UnbalancedEntryError, UnknownAccountError,
} from '../src/ledger/errors.ts';
import { sqlPart } from '../src/db/sql-part.ts';
import { credit, debit } from '../src/ledger/ledger.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';

let h: Harness;
const cash = accountCode.platform('platform_cash');
const revenue = accountCode.platform('revenue');

beforeAll(async () => {
  h = await openHarness({ worker: false });
  await h.ledger.openPlatformAccounts();
});
afterAll(() => h.close());

async function walletWith(fen: number): Promise<string> {
  const id = uniq('r');
  const code = accountCode.resellerWallet(id);
  await h.ledger.openAccount({ code, kind: 'reseller_wallet', name: `wallet ${id}` });
  if (fen > 0) {
    await h.ledger.post({ idempotencyKey: uniq('topup'), kind: 'wallet_topup', postings: [debit(cash, fen), credit(code, fen)] });
  }
  return code;
}

describe('journal entries', () => {
  it('refuses an unbalanced entry with a message that says by how much', async () => {
    const wallet = await walletWith(0);
    await expect(
      h.ledger.post({ idempotencyKey: uniq('bad'), kind: 'wallet_topup', postings: [debit(cash, 1000), credit(wallet, 999)] }),
    ).rejects.toThrow(UnbalancedEntryError);
    await expect(
      h.ledger.post({ idempotencyKey: uniq('bad'), kind: 'wallet_topup', postings: [debit(cash, 1000), credit(wallet, 999)] }),
    ).rejects.toThrow(/does not balance: its CNY postings sum to 1 fen, not 0/);
    expect(await h.ledger.balance(wallet)).toBe(0);
  });

  it('refuses an unbalanced entry in the database too, even when written around the ledger module', async () => {
    const wallet = await walletWith(0);
    const attempt = h.db.transaction(async (trx) => {
      const [{ id }] = await trx('ledger_entries')
        .insert({ idempotency_key: uniq('raw'), content_hash: 'x', kind: 'raw', business_date: '2026-11-24' })
        .returning('id');
      const accounts = await trx('ledger_accounts').whereIn('code', [cash, wallet]).select('id', 'code');
      const idOf = (c: string) => accounts.find((a) => a.code === c)!.id;
      await trx('ledger_postings').insert([
        { entry_id: id, account_id: idOf(cash), amount: 500, currency: 'CNY', posted_at: new Date() },
        { entry_id: id, account_id: idOf(wallet), amount: -400, currency: 'CNY', posted_at: new Date() },
      ]);
    });
    await expect(attempt).rejects.toThrow(/does not balance/);
  });

  it('refuses non-integer amounts (money is integer fen)', async () => {
    const wallet = await walletWith(0);
    await expect(
      h.ledger.post({ idempotencyKey: uniq('float'), kind: 'wallet_topup', postings: [debit(cash, 10.5), credit(wallet, 10.5)] }),
    ).rejects.toThrow(/must be an integer number of fen/);
  });

  it('names an unknown account', async () => {
    await expect(
      h.ledger.post({ idempotencyKey: uniq('unknown'), kind: 'x', postings: [debit(cash, 100), credit('reseller:nobody:wallet', 100)] }),
    ).rejects.toThrow(UnknownAccountError);
  });

  it('returns the same entry when the same key is posted again with the same content', async () => {
    const wallet = await walletWith(0);
    const entry = { idempotencyKey: uniq('topup'), kind: 'wallet_topup', postings: [debit(cash, 2500), credit(wallet, 2500)] };
    const first = await h.ledger.post(entry);
    const replay = await h.ledger.post({ ...entry, description: 'retried by a worker' });
    expect(first.created).toBe(true);
    expect(replay).toEqual({ id: first.id, created: false });
    expect(await h.ledger.balance(wallet)).toBe(2500);
  });

  it('refuses the same key with different content, naming the existing entry', async () => {
    const wallet = await walletWith(0);
    const key = uniq('topup');
    const first = await h.ledger.post({ idempotencyKey: key, kind: 'wallet_topup', postings: [debit(cash, 100), credit(wallet, 100)] });
    const conflict = h.ledger.post({ idempotencyKey: key, kind: 'wallet_topup', postings: [debit(cash, 200), credit(wallet, 200)] });
    await expect(conflict).rejects.toThrow(IdempotencyConflictError);
    await expect(
      h.ledger.post({ idempotencyKey: key, kind: 'wallet_topup', postings: [debit(cash, 200), credit(wallet, 200)] }),
    ).rejects.toThrow(`already used for journal entry ${first.id}`);
    expect(await h.ledger.balance(wallet)).toBe(100);
  });
});

describe('entries posted inside a larger statement', () => {
  const inStatement = (key: string, wallet: string, amountSql: string) => h.ledger.postingCall({
    key: sqlPart('?', key), kind: 'wallet_topup', description: 'from SQL', businessDate: '2026-11-27', metadata: sqlPart("'{}'::jsonb"),
    postings: [{ account: cash, amount: sqlPart(amountSql) }, { account: wallet, amount: sqlPart(`-(${amountSql})`) }],
  });

  it('hash their content exactly as post() does: the same entry posted both ways is one entry', async () => {
    const wallet = await walletWith(0);
    const key = uniq('topup');
    const first = await h.ledger.post({ idempotencyKey: key, kind: 'wallet_topup', businessDate: '2026-11-27', postings: [credit(wallet, 1234), debit(cash, 1234)] });
    const call = inStatement(key, wallet, 'n.fen');
    const { rows } = await h.db.raw(`SELECT e.* FROM (SELECT 1234::bigint AS fen) n CROSS JOIN LATERAL ${call.sql} e`, call.bindings);
    expect(rows).toEqual([{ entry_id: first.id, created: false }]);
    expect(await h.ledger.balance(wallet)).toBe(1234);
  });

  it('are checked like any entry: other content under a used key, or an overdraft, fails the statement', async () => {
    const wallet = await walletWith(0);
    const key = uniq('topup');
    await h.ledger.post({ idempotencyKey: key, kind: 'wallet_topup', businessDate: '2026-11-27', postings: [debit(cash, 100), credit(wallet, 100)] });
    const other = inStatement(key, wallet, '101');
    await expect(h.db.raw(`SELECT * FROM ${other.sql}`, other.bindings)).rejects.toThrow(/already used for journal entry/);
    const overdraft = inStatement(uniq('refund'), wallet, '-101');
    await expect(h.db.raw(`SELECT * FROM ${overdraft.sql}`, overdraft.bindings)).rejects.toThrow(/insufficient funds/);
    expect(await h.ledger.balance(wallet)).toBe(100);
  });
});

// The application role has no UPDATE, DELETE or TRUNCATE on these tables at all (test/security-database.test.ts);
// the triggers hold even for the owner of the schema.
describe('append-only storage', () => {
  it.each([
    ['UPDATE ledger_postings SET amount = amount * 2', /append-only: UPDATE on ledger_postings/],
    ['DELETE FROM ledger_postings', /append-only: DELETE on ledger_postings/],
    ['UPDATE ledger_entries SET kind = $$forged$$', /append-only: UPDATE on ledger_entries/],
    ['DELETE FROM ledger_entries', /append-only: DELETE on ledger_entries/],
    ['TRUNCATE ledger_postings CASCADE', /append-only: TRUNCATE/],
  ])('the database refuses %s, even to the owner', async (sql, message) => {
    await walletWith(100);
    const error = await h.ownerDb.raw(sql).catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(message);
    expect(error.code).toBe('KM006');
  });

  it('maps the refusal to a typed error', async () => {
    const { ledgerErrorFrom } = await import('../src/ledger/errors.ts');
    const error = await h.ownerDb.raw('DELETE FROM ledger_postings').catch((e) => e);
    expect(ledgerErrorFrom(error)).toBeInstanceOf(AppendOnlyError);
  });
});

describe('reseller wallets', () => {
  it('refuses a debit larger than the balance and leaves the wallet as it was', async () => {
    const wallet = await walletWith(1000);
    const overdraw = h.ledger.post({ idempotencyKey: uniq('order'), kind: 'order_sale', postings: [debit(wallet, 1001), credit(revenue, 1001)] });
    await expect(overdraw).rejects.toThrow(InsufficientFundsError);
    await expect(
      h.ledger.post({ idempotencyKey: uniq('order'), kind: 'order_sale', postings: [debit(wallet, 1001), credit(revenue, 1001)] }),
    ).rejects.toThrow(`insufficient funds in ${wallet}: available 1000 fen, this entry needs 1001 fen`);
    expect(await h.ledger.balance(wallet)).toBe(1000);
  });

  it('50 concurrent debits racing on one wallet never overdraw it, and its balance is the sum of its postings', async () => {
    const wallet = await walletWith(10_000); // room for 33 debits of 300
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) =>
        h.ledger.post({ idempotencyKey: uniq(`race-${i}`), kind: 'order_sale', postings: [debit(wallet, 300), credit(revenue, 300)] }),
      ),
    );
    const succeeded = results.filter((r) => r.status === 'fulfilled').length;
    const refused = results.filter((r) => r.status === 'rejected');
    expect(succeeded).toBe(33);
    expect(refused).toHaveLength(17);
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(InsufficientFundsError);

    const balance = await h.ledger.balance(wallet);
    expect(balance).toBe(10_000 - 33 * 300);
    const { rows } = await h.db.raw(
      `SELECT a.guarded_balance, (SELECT coalesce(sum(amount), 0) FROM ledger_postings WHERE account_id = a.id)::bigint AS summed
         FROM ledger_accounts a WHERE code = ?`, [wallet]);
    expect(rows[0].guarded_balance).toBe(rows[0].summed);
    expect(-rows[0].summed).toBe(balance);
  });
});

describe('balances as of a time', () => {
  it('reads the balance an account had at any earlier instant', async () => {
    const wallet = await walletWith(700);
    const between = new Date();
    await new Promise((r) => setTimeout(r, 20));
    await h.ledger.post({ idempotencyKey: uniq('topup'), kind: 'wallet_topup', postings: [debit(cash, 300), credit(wallet, 300)] });
    expect(await h.ledger.balance(wallet, { asOf: between })).toBe(700);
    expect(await h.ledger.balance(wallet)).toBe(1000);
    expect(await h.ledger.balance(wallet, { asOf: new Date(0) })).toBe(0);
  });

  it('keeps the whole ledger in balance: all postings sum to zero', async () => {
    const { rows } = await h.db.raw('SELECT coalesce(sum(amount), 0)::bigint AS total FROM ledger_postings');
    expect(rows[0].total).toBe(0);
  });
});

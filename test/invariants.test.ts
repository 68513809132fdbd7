import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountCode } from '../src/ledger/accounts.ts';
import { credit, debit } from '../src/ledger/ledger.ts';
import { checkInvariants } from '../src/invariants/check.ts';
import { settleDay } from '../src/settlement/settle.ts';
import { openHarness, type Harness } from './support/harness.ts';

// A database of its own: violations are planted here, never in the database other tests share.
let h: Harness;
let reseller = 0;

beforeAll(async () => {
  h = await openHarness({ worker: false, freshDatabase: true });
  await h.ledger.openPlatformAccounts();
  ({ reseller: { id: reseller } } = await h.deps.resellers.create({ code: 'inv-shop', name: '检查小店 Check shop' }));
  await h.deps.resellers.topUpWallet(reseller, 50_000, 'opening', { valueDate: '2022-05-01' });
  await h.ledger.post({
    idempotencyKey: 'inv-sale', kind: 'order_sale', businessDate: '2022-05-01',
    postings: [debit(accountCode.resellerWallet(reseller), 9_800), credit(accountCode.platform('revenue'), 9_800)],
  });
  await settleDay(h.db, '2022-05-01', { actor: 'test' });
});
afterAll(() => h.close());

const violationsOf = async (id: string) => (await checkInvariants(h.db)).results.find((r) => r.invariant.id === id)!;

/** Writes what the ledger's own guards would refuse, as a broken migration or a manual fix might. */
async function behindTheLedgersBack(sql: string, bindings: unknown[] = []) {
  await h.db.transaction(async (trx) => {
    await trx.raw('SET LOCAL session_replication_role = replica');
    await trx.raw(sql, bindings as never);
  });
}

describe('the invariant checker', () => {
  it('finds nothing wrong with books kept through the ledger', async () => {
    const report = await checkInvariants(h.db);
    expect(report.results.map((r) => [r.invariant.id, r.violations])).toEqual([
      ['entries_balance', 0], ['guarded_balances', 0], ['wallets_not_negative', 0], ['codes_delivered_once', 0],
      ['orders_settled_once', 0], ['recon_one_class', 0], ['statement_identity', 0],
    ]);
    expect(report.results.find((r) => r.invariant.id === 'entries_balance')!.checked).toBeGreaterThanOrEqual(2);
  });

  it('reports a guarded balance that drifted from its postings', async () => {
    await behindTheLedgersBack('UPDATE ledger_accounts SET guarded_balance = guarded_balance - 1 WHERE code = ?', [accountCode.resellerWallet(reseller)]);
    expect(await violationsOf('guarded_balances')).toMatchObject({ violations: 1, samples: [expect.stringContaining(accountCode.resellerWallet(reseller))] });
    await behindTheLedgersBack('UPDATE ledger_accounts SET guarded_balance = guarded_balance + 1 WHERE code = ?', [accountCode.resellerWallet(reseller)]);
  });

  it('reports an unbalanced entry and a wallet below zero', async () => {
    const entry = await h.ledger.entry('inv-sale');
    await behindTheLedgersBack(
      `INSERT INTO ledger_postings (entry_id, account_id, amount, currency, posted_at)
       SELECT ?, id, 100000, 'CNY', now() FROM ledger_accounts WHERE code = ?`, [entry!.id, accountCode.resellerWallet(reseller)],
    );
    expect((await violationsOf('entries_balance')).violations).toBe(1);
    expect((await violationsOf('wallets_not_negative')).violations).toBe(1);
  });

  it("reports a statement that does not match its lines", async () => {
    await behindTheLedgersBack('UPDATE reseller_statement_lines SET amount_fen = amount_fen + 1 WHERE posting_id = (SELECT min(posting_id) FROM reseller_statement_lines)');
    expect((await violationsOf('statement_identity')).violations).toBe(1);
  });

  it('reports a card order without its codes and a top-up both completed and refunded', async () => {
    await behindTheLedgersBack(
      `INSERT INTO orders (reseller_id, reseller_order_id, request_hash, sku_code, kind, quantity, unit_price_fen, amount_fen, status, business_date)
       VALUES (?, 'inv-card', 'h', 'X', 'card_code', 2, 1, 2, 'delivered', '2022-05-02'), (?, 'inv-topup', 'h', 'Y', 'direct_topup', 1, 1, 1, 'succeeded', '2022-05-02')`,
      [reseller, reseller],
    );
    expect((await violationsOf('codes_delivered_once')).violations).toBe(1);
    expect((await violationsOf('orders_settled_once')).violations).toBe(2);
  });
});

import { describe, expect, it } from 'vitest';
import { topUpBooks, type TopUpOrder } from '../src/fulfillment/postings.ts';
import { accountCode } from '../src/ledger/accounts.ts';

/**
 * README "Top-up money", cell by cell: for each event, the accounts, the sign (debit +, credit −) and
 * the amount, and what it does to the reseller's wallet and the supplier's payable. The real flows
 * (test/orders.test.ts, test/topup-edges.test.ts) post these same entries through the ledger.
 */
const order: TopUpOrder = { id: 7, resellerId: 3, sku: 'CM50', account: '13800138000', amountFen: 4_950 };
const wallet = accountCode.resellerWallet(3);
const holds = accountCode.platform('order_holds');
const payable = accountCode.supplierPayable(9);
const sum = (entry: { postings: { account: string; amount: number }[] }, account: string) =>
  entry.postings.filter((p) => p.account === account).reduce((s, p) => s + p.amount, 0);

describe('top-up money table', () => {
  const hold = topUpBooks.hold(order, '2026-12-01');
  const sale = topUpBooks.sale(order, { supplierId: 9, costFen: 4_880, requestId: 'kameng-7-1', markedBy: null });
  const refund = topUpBooks.refund(order, 'every qualified supplier failed');

  it.each([
    ['hold', hold, [[wallet, 4_950], [holds, -4_950]]],
    ['sale', sale, [[holds, 4_950], [accountCode.platform('revenue'), -4_950], [accountCode.platform('cost_of_goods'), 4_880], [payable, -4_880]]],
    ['refund', refund, [[holds, 4_950], [wallet, -4_950]]],
  ] as const)('%s posts exactly its accounts, signs and amounts, and balances', (_event, entry, expected) => {
    expect(entry.postings.map((p) => [p.account, p.amount])).toEqual(expected);
    expect(entry.postings.reduce((s, p) => s + p.amount, 0)).toBe(0);
  });

  // wallet is a liability: a debit (+) lowers what the reseller can spend; payable: a credit (−) is more owed
  const change = (entry: Parameters<typeof sum>[0], account: string) => -sum(entry, account) + 0;
  it.each([
    { event: 'hold', entry: hold, walletChange: -4_950, owedChange: 0 },
    { event: 'sale', entry: sale, walletChange: 0, owedChange: 4_880 },
    { event: 'refund', entry: refund, walletChange: 4_950, owedChange: 0 },
  ])('$event changes the wallet by $walletChange fen and the supplier payable by $owedChange fen', ({ entry, walletChange, owedChange }) => {
    expect(change(entry, wallet)).toBe(walletChange);
    expect(change(entry, payable)).toBe(owedChange);
  });

  it('leaves order_holds at zero after a hold and either outcome, and keys each event once per order', () => {
    expect(sum(hold, holds) + sum(sale, holds)).toBe(0);
    expect(sum(hold, holds) + sum(refund, holds)).toBe(0);
    expect([hold.idempotencyKey, sale.idempotencyKey, refund.idempotencyKey]).toEqual(['order-hold:7', 'order-complete:7', 'order-refund:7']);
  });
});

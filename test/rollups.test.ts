import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, businessDateOf } from '../src/dates.ts';
import { accountCode } from '../src/ledger/accounts.ts';
import { credit, debit } from '../src/ledger/ledger.ts';
import { LedgerReports } from '../src/ledger/reports.ts';
import { rollUpLedger } from '../src/ledger/rollups.ts';
import { orders } from '../src/orders/orders.ts';
import { OrderReports } from '../src/orders/reports.ts';
import { rollUpOrderDays } from '../src/orders/rollups.ts';
import { openHarness, type Harness } from './support/harness.ts';
import { cardSku } from './support/world.ts';

// A database of this file's own: how far the ledger is rolled up is global state.
let h: Harness;
let reports: LedgerReports;
let resellerId: number;
const today = businessDateOf(new Date());
/** A clock a day ahead: today has ended, so it may be rolled up. */
const tomorrowNoon = new Date(Date.now() + 36 * 3600_000);

beforeAll(async () => {
  h = await openHarness({ worker: false, freshDatabase: true });
  await h.ledger.openPlatformAccounts();
  reports = new LedgerReports(h.db);
  ({ reseller: { id: resellerId } } = await h.deps.resellers.create({ code: 'rollup-shop', name: '汇总测试店 Rollup shop' }));
});
afterAll(async () => h?.close());

async function sale(n: number, fen: number) {
  await h.ledger.post({
    idempotencyKey: `rollup-sale:${n}`, kind: 'order_sale', businessDate: today, description: `sale ${n}`,
    postings: [debit(accountCode.resellerWallet(resellerId), fen), credit(accountCode.platform('revenue'), fen)],
  });
}

const balances = async () => Object.fromEntries((await reports.trialBalance({ limit: 500, offset: 0 })).rows.map((r) => [r.code, r.balance]));

/**
 * Yesterday's postings, made now: the ledger is append-only and stamps postings with the time they
 * are made, so a test moves them back by hand (in its own database, triggers off).
 */
async function moveAllPostingsBack(days: number) {
  await h.ownerDb.transaction(async (trx) => {
    await trx.raw('SET LOCAL session_replication_role = replica');
    await trx.raw(`UPDATE ledger_postings SET posted_at = posted_at - make_interval(days => ?)`, [days]);
  });
}

describe('ledger rollups', () => {
  const range = () => reports.movement(addDays(today, -3), today);

  it('leave every balance, the daily movement and the imbalance as the postings say, before, after and across a roll', async () => {
    await h.deps.resellers.topUpWallet(resellerId, 100_000, 'rollup-opening');
    for (let i = 1; i <= 5; i++) await sale(i, 1_000 * i);
    await moveAllPostingsBack(2);
    const before = await balances();
    const movedBefore = await range();
    expect(before[accountCode.resellerWallet(resellerId)]).toBe(100_000 - 15_000);
    expect(before[accountCode.platform('revenue')]).toBe(15_000);
    expect(movedBefore.days).toEqual([{ date: addDays(today, -2), debitsFen: 100_000 + 15_000 }]);

    const first = await rollUpLedger(h.db);
    expect(first.postings).toBe(12);
    expect(await balances()).toEqual(before);
    expect(await range()).toEqual(movedBefore);

    // after the roll: new postings are read live, on top of the rolled days
    await sale(6, 6_000);
    const after = await balances();
    expect(after[accountCode.resellerWallet(resellerId)]).toBe(100_000 - 21_000);
    expect(after[accountCode.platform('revenue')]).toBe(21_000);
    expect(await range()).toEqual({
      days: [{ date: addDays(today, -2), debitsFen: 115_000 }, { date: today, debitsFen: 6_000 }],
      imbalanceFen: 0,
    });
  });

  it('rolls nothing twice, and not today: it has not ended (plus a margin for transactions open at midnight)', async () => {
    const again = await rollUpLedger(h.db);
    expect(again.postings).toBe(0);
    const { rows: [sums] } = await h.db.raw(
      `SELECT (SELECT sum(postings) FROM ledger_account_days)::int AS rolled,
              (SELECT count(*) FROM ledger_postings WHERE posted_at < (SELECT rolled_until FROM ledger_rollup_state))::int AS before,
              (SELECT count(*) FROM ledger_postings)::int AS total`);
    expect(sums).toEqual({ rolled: 12, before: 12, total: 14 });
  });
});

describe('order margin rollups', () => {
  it('give the same daily margins as the orders, and a top-up of a rolled day completing late is counted', async () => {
    const sku = await cardSku(h, '汇总');
    const common = { resellerId, requestHash: 'h', sku: sku.code, quantity: 1, account: null, unitPriceFen: 9_800, amountFen: 9_800, priceVersionId: null, businessDate: today };
    for (let i = 0; i < 3; i++) {
      const { order } = await orders.insertOnce(h.db, { ...common, resellerOrderId: `card-${i}`, kind: 'card_code', status: 'delivered' });
      await h.db('orders').where({ id: order.id }).update({ cost_fen: 9_400, completed_at: new Date() });
    }
    const { order: late } = await orders.insertOnce(h.db, { ...common, resellerOrderId: 'topup-late', kind: 'direct_topup', account: '13800000000', status: 'processing' });
    const margins = new OrderReports(h.db);
    const live = await margins.dailyMargin(addDays(today, -2), today, 'sku');
    expect(live.series).toEqual([{ name: sku.code, fen: [0, 0, 1_200] }]);

    const rolled = await rollUpOrderDays(h.db, tomorrowNoon);
    expect(rolled.days).toEqual([today]);
    expect(await margins.dailyMargin(addDays(today, -2), today, 'sku')).toEqual(live);
    expect((await rollUpOrderDays(h.db, tomorrowNoon)).days).toEqual([]);

    // the top-up completes after its day was rolled: the day is read live again, then rolled again
    await h.db.transaction((trx) => orders.finish(trx, late.id, { status: 'succeeded', costFen: 9_500 }));
    const withLate = await margins.dailyMargin(addDays(today, -2), today, 'sku');
    expect(withLate.series).toEqual([{ name: sku.code, fen: [0, 0, 1_500] }]);
    expect((await rollUpOrderDays(h.db, tomorrowNoon)).days).toEqual([today]);
    expect(await margins.dailyMargin(addDays(today, -2), today, 'sku')).toEqual(withLate);
  });
});

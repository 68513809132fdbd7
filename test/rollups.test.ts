import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, businessDateOf } from '../src/dates.ts';
import { accountCode } from '../src/ledger/accounts.ts';
import { credit, debit } from '../src/ledger/ledger.ts';
import { LedgerReports } from '../src/ledger/reports.ts';
import { keepLedgerRolledUp, rollUpLedger, ROLL_AFTER_DAY_END_MS } from '../src/ledger/rollups.ts';
import { orders } from '../src/orders/orders.ts';
import { resellerSkuDays } from '../src/orders/reports.ts';
import { rollUpOrderDays } from '../src/orders/rollups.ts';
import { marginReport, marginTable } from '../src/orders/margin-table.ts';
import { keepTodayRolledUp, rollUpToday } from '../src/orders/intraday.ts';
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

const range = () => reports.movement(addDays(today, -3), today);
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

  it('keep per-account and per-day totals equal to the rolled postings, and a wallet\'s running balance equal to its postings', async () => {
    const { rows } = await h.db.raw(
      `WITH rolled AS (SELECT * FROM ledger_postings WHERE posted_at < (SELECT rolled_until FROM ledger_rollup_state))
       SELECT (SELECT json_agg(json_build_object('account', account_id, 'net', net) ORDER BY account_id) FROM ledger_rolled_accounts) AS accounts,
              (SELECT json_agg(json_build_object('account', account_id, 'net', net) ORDER BY account_id)
                 FROM (SELECT account_id, sum(amount)::bigint AS net FROM rolled GROUP BY 1) x) AS accounts_live,
              (SELECT json_agg(json_build_object('day', day, 'debits', debits, 'net', net) ORDER BY day) FROM ledger_rolled_days) AS days,
              (SELECT json_agg(json_build_object('day', day, 'debits', debits, 'net', net) ORDER BY day)
                 FROM (SELECT (posted_at AT TIME ZONE 'Asia/Shanghai')::date AS day, coalesce(sum(amount) FILTER (WHERE amount > 0), 0)::bigint AS debits, sum(amount)::bigint AS net
                         FROM rolled GROUP BY 1) x) AS days_live`);
    expect(rows[0].accounts).toHaveLength(3);
    expect(rows[0].accounts).toEqual(rows[0].accounts_live);
    expect(rows[0].days).toEqual(rows[0].days_live);
    const wallet = accountCode.resellerWallet(resellerId);
    expect(await h.ledger.currentBalance(wallet)).toBe(100_000 - 21_000);
    expect(await h.ledger.currentBalance(accountCode.platform('revenue'))).toBe(await h.ledger.balance(accountCode.platform('revenue')));
  });
});

describe('intraday ledger rollups', () => {
  it('roll today up to minutes ago on top of the closed days, leaving every balance and the movement as the postings say', async () => {
    await sale(7, 7_000);
    const before = await balances();
    const moved = await range();
    // a clock 20 minutes ahead: the sale is older than the margin for open transactions
    const soon = new Date(Date.now() + 20 * 60_000);
    await keepLedgerRolledUp(h.db, soon);
    const { rows: [state] } = await h.db.raw('SELECT rolled_until FROM ledger_rollup_state');
    expect(new Date(state.rolled_until).getTime()).toBe(soon.getTime() - ROLL_AFTER_DAY_END_MS);
    expect(await balances()).toEqual(before);
    expect(await range()).toEqual(moved);
    // fresh enough: the next read rolls nothing; the nightly roll finds today already rolled
    await keepLedgerRolledUp(h.db, new Date(soon.getTime() + 60_000));
    const { rows: [again] } = await h.db.raw('SELECT rolled_until FROM ledger_rollup_state');
    expect(again.rolled_until).toEqual(state.rolled_until);
    expect((await rollUpLedger(h.db, soon)).postings).toBe(0);
    const { rows: [todayRow] } = await h.db.raw(
      `SELECT d.postings FROM ledger_account_days d JOIN ledger_accounts a ON a.id = d.account_id WHERE a.code = ? AND d.day = ?::date`, [accountCode.platform('revenue'), today]);
    expect(todayRow.postings).toBe(2);
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
    const dailyMargin = async () => (await marginReport(h.db, addDays(today, -2), today, 'sku')).chart;
    const live = await dailyMargin();
    expect(live.series).toEqual([{ name: sku.code, fen: [0, 0, 1_200] }]);

    const rolled = await rollUpOrderDays(h.db, tomorrowNoon);
    expect(rolled.days).toEqual([today]);
    expect(await dailyMargin()).toEqual(live);
    expect((await rollUpOrderDays(h.db, tomorrowNoon)).days).toEqual([]);

    // the top-up completes after its day was rolled: the day is read live again, then rolled again
    await h.db.transaction((trx) => orders.finish(trx, late.id, { status: 'succeeded', costFen: 9_500 }));
    const withLate = await dailyMargin();
    expect(withLate.series).toEqual([{ name: sku.code, fen: [0, 0, 1_500] }]);
    expect((await rollUpOrderDays(h.db, tomorrowNoon)).days).toEqual([today]);
    expect(await dailyMargin()).toEqual(withLate);
  });
});

describe('portal rollups', () => {
  /** The definition: the reseller's orders grouped live. */
  const live = async (from: string, to: string) => {
    const { rows } = await h.db.raw(
      `SELECT business_date::text AS day, sku_code AS sku, count(*)::int AS orders, coalesce(sum(amount_fen) FILTER (WHERE status <> 'refunded'), 0)::bigint AS spend,
              count(*) FILTER (WHERE status = 'refunded')::int AS refunded
         FROM orders WHERE reseller_id = ? AND business_date BETWEEN ?::date AND ?::date GROUP BY 1, 2 ORDER BY 1, 2`, [resellerId, from, to]);
    return (rows as Record<string, any>[]).map((r) => ({ day: r.day, sku: r.sku, orders: r.orders, spendFen: Number(r.spend), refunded: r.refunded }));
  };

  it('give the same orders, spend and refunds per day and SKU as the orders, before and after a roll, and after a late refund', async () => {
    const sku = await cardSku(h, '门户汇总');
    const day = addDays(today, -1);
    const common = { resellerId, requestHash: 'h', sku: sku.code, quantity: 1, account: null, unitPriceFen: 9_800, amountFen: 9_800, priceVersionId: null, businessDate: day };
    for (let i = 0; i < 2; i++) await orders.insertOnce(h.db, { ...common, resellerOrderId: `portal-card-${i}`, kind: 'card_code', status: 'delivered' });
    const { order: topup } = await orders.insertOnce(h.db, { ...common, resellerOrderId: 'portal-topup', kind: 'direct_topup', account: '13800000001', status: 'processing' });
    const from = addDays(today, -3);
    const before = await resellerSkuDays(h.db, resellerId, from, today);
    expect(before.filter((r) => r.sku === sku.code)).toEqual([{ day, sku: sku.code, orders: 3, spendFen: 3 * 9_800, refunded: 0 }]);
    expect(before).toEqual(await live(from, today));

    expect((await rollUpOrderDays(h.db)).days).toEqual([day]);
    const { rows: [kept] } = await h.db.raw('SELECT count(*)::int AS n FROM order_reseller_sku_days WHERE business_date = ? AND reseller_id = ?', [day, resellerId]);
    expect(kept.n).toBe(1);
    expect(await resellerSkuDays(h.db, resellerId, from, today)).toEqual(before);

    // refunded after its day was rolled: read live again, then rolled again
    await h.db.transaction((trx) => orders.finish(trx, topup.id, { status: 'refunded' }));
    const refunded = await resellerSkuDays(h.db, resellerId, from, today);
    expect(refunded.filter((r) => r.sku === sku.code)).toEqual([{ day, sku: sku.code, orders: 3, spendFen: 2 * 9_800, refunded: 1 }]);
    expect(refunded).toEqual(await live(from, today));
    expect((await rollUpOrderDays(h.db)).days).toEqual([day]);
    expect(await resellerSkuDays(h.db, resellerId, from, today)).toEqual(refunded);
  });
});

describe('intraday order rollups', () => {
  it("roll today's completed orders up to minutes ago; orders placed since and top-ups open at the roll are read live, so every figure stays as the orders say", async () => {
    // a clock two days ahead: a day of its own that no other test rolls
    const later = new Date(Date.now() + 2 * 86_400_000);
    const day = businessDateOf(later);
    const sku = await cardSku(h, '当日');
    const common = { resellerId, requestHash: 'h', sku: sku.code, quantity: 1, account: null, unitPriceFen: 9_800, amountFen: 9_800, priceVersionId: null, businessDate: day };
    const card = async (n: string) => {
      const { order } = await orders.insertOnce(h.db, { ...common, resellerOrderId: `intraday-card-${n}`, kind: 'card_code', status: 'delivered' });
      await h.db('orders').where({ id: order.id }).update({ cost_fen: 9_400, completed_at: new Date() });
    };
    for (const n of ['a', 'b', 'c']) await card(n);
    const { order: open } = await orders.insertOnce(h.db, { ...common, resellerOrderId: 'intraday-topup', kind: 'direct_topup', account: '13800000000', status: 'processing' });
    const truth = async () => {
      const rows = await h.db('orders').where({ business_date: day }).whereIn('status', ['delivered', 'succeeded']).whereNotNull('margin_fen')
        .select('sku_code as name').count('* as n').sum('amount_fen as gross').sum('margin_fen as margin').groupBy('sku_code');
      return rows.map((r) => ({ name: r.name, orders: Number(r.n), grossFen: Number(r.gross), marginFen: Number(r.margin) }));
    };
    const report = () => marginReport(h.db, day, day, 'sku');
    expect((await report()).table).toEqual(await truth());

    expect(await rollUpToday(h.db, later)).toEqual({ untilId: open.id, open: 1 });
    const part = await h.db('order_partial_margins').where({ business_date: day, dimension: 'sku', name: sku.code }).first();
    expect(part).toMatchObject({ orders: 3, margin_fen: 1_200 });
    expect((await report()).table).toEqual([{ name: sku.code, orders: 3, grossFen: 29_400, marginFen: 1_200 }]);

    // placed after the roll: read live on top of the part
    for (const n of ['d', 'e']) await card(n);
    expect((await report()).table).toEqual([{ name: sku.code, orders: 5, grossFen: 49_000, marginFen: 2_000 }]);
    // the top-up open at the roll completes: counted, though its id is inside the part
    await h.db.transaction((trx) => orders.finish(trx, open.id, { status: 'succeeded', costFen: 9_500 }));
    expect((await report()).table).toEqual([{ name: sku.code, orders: 6, grossFen: 58_800, marginFen: 2_300 }]);
    expect((await report()).table).toEqual(await truth());
    expect((await report()).chart.series).toEqual([{ name: sku.code, fen: [2_300] }]);

    // rolled again: everything in the part now, the same figures; a fresh roll is not repeated
    expect((await rollUpToday(h.db, later)).open).toBe(0);
    expect((await report()).table).toEqual(await truth());
    const before = await h.db('order_partial_days').where({ business_date: day }).first();
    await keepTodayRolledUp(h.db, later);
    expect((await h.db('order_partial_days').where({ business_date: day }).first()).rolled_at).toEqual(before.rolled_at);
  });
});

describe('the overview\'s margins', () => {
  it('chart the six largest groups and the rest as "other", and table every group, largest margin first: the same live and rolled up', async () => {
    // a reseller of its own: the portal rollups below count the other one's orders
    const { reseller: { id: shop } } = await h.deps.resellers.create({ code: 'margin-shop', name: '毛利测试店 Margin shop' });
    const skus: Awaited<ReturnType<typeof cardSku>>[] = [];
    for (let i = 0; i < 8; i++) skus.push(await cardSku(h, `毛利${i}`));
    // days of their own, ahead, that no other test has orders on or rolls: the range is [first, last]
    const [first, middle, last] = [addDays(today, 4), addDays(today, 5), addDays(today, 6)];
    // SKU i: one order on the middle day and i + 1 on the last, each with a margin of 100 fen
    for (const [i, sku] of skus.entries()) {
      for (let n = 0; n < i + 2; n++) {
        const { order } = await orders.insertOnce(h.db, {
          resellerId: shop, requestHash: 'h', sku: sku.code, quantity: 1, account: null, unitPriceFen: 9_800, amountFen: 9_800, priceVersionId: null,
          businessDate: n === 0 ? middle : last, resellerOrderId: `margin-${i}-${n}`, kind: 'card_code', status: 'delivered',
        });
        await h.db('orders').where({ id: order.id }).update({ cost_fen: 9_700, completed_at: new Date() });
      }
    }
    // the truth, straight from the orders: every completed order of the range, per SKU and day
    const truth = await h.db('orders').whereIn('status', ['delivered', 'succeeded']).whereNotNull('margin_fen')
      .whereBetween('business_date', [first, last]).select('sku_code', 'business_date').count('* as n').sum('amount_fen as gross').sum('margin_fen as margin')
      .groupBy('sku_code', 'business_date');
    const bySku = new Map<string, { orders: number; grossFen: number; marginFen: number; days: number[] }>();
    const days = [first, middle, last];
    for (const r of truth) {
      const t = bySku.get(r.sku_code) ?? { orders: 0, grossFen: 0, marginFen: 0, days: [0, 0, 0] };
      t.orders += Number(r.n); t.grossFen += Number(r.gross); t.marginFen += Number(r.margin);
      t.days[days.indexOf(r.business_date)] = Number(r.margin);
      bySku.set(r.sku_code, t);
    }
    const table = [...bySku].map(([name, t]) => ({ name, orders: t.orders, grossFen: t.grossFen, marginFen: t.marginFen }))
      .sort((a, b) => b.marginFen - a.marginFen || (a.name < b.name ? -1 : 1));
    const shown = table.slice(0, 6).map((r) => ({ name: r.name, fen: bySku.get(r.name)!.days }));
    const other = days.map((_, d) => table.slice(6).reduce((sum, r) => sum + bySku.get(r.name)!.days[d]!, 0));
    const expected = { table, chart: { dates: days, series: [...shown, { name: 'other', fen: other }] } };
    expect(table.length).toBeGreaterThan(6);
    expect(table.find((r) => r.name === skus[7]!.code)).toEqual({ name: skus[7]!.code, orders: 9, grossFen: 9 * 9_800, marginFen: 900 });

    expect(await marginReport(h.db, first, last, 'sku')).toEqual(expected);
    // a clock past the last day: every day rolled up (this file's last test, as nothing after it expects today live)
    const rolled = await rollUpOrderDays(h.db, new Date(Date.now() + 8 * 86_400_000));
    expect(rolled.days).toEqual(expect.arrayContaining([middle, last]));
    expect(await marginReport(h.db, first, last, 'sku')).toEqual(expected);
    expect(await marginTable(h.db, first, last, 'sku')).toEqual(table);
  });
});

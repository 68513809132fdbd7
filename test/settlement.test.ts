import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import JSZip from 'jszip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays } from '../src/dates.ts';
import { accountCode } from '../src/ledger/accounts.ts';
import { credit, debit } from '../src/ledger/ledger.ts';
import { exportPayoutBatch } from '../src/payouts/export.ts';
import { Payouts, PayoutStateError, SelfApprovalError } from '../src/payouts/payouts.ts';
import { ReconCases } from '../src/reconciliation/cases.ts';
import { DayNotOverError, SettlementFrozenError } from '../src/settlement/errors.ts';
import { AMOUNT_HEADER, exportDaySummary, exportResellerStatement } from '../src/settlement/export.ts';
import { Rebates } from '../src/settlement/rebates.ts';
import { settleDay } from '../src/settlement/settle.ts';
import { Statements } from '../src/settlement/statements.ts';
import type { ResellerStatement } from '../src/settlement/types.ts';
import type { Actor } from '../src/users/actor.ts';
import { userActor } from './support/actors.ts';
import { loginAs } from './support/dashboard-session.ts';
import { openHarness, type Harness } from './support/harness.ts';

// A database of this file's own: settled days are global state, and these tests choose the dates.
let h: Harness;
let statements: Statements;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kameng-settlement-'));

const WEEK = ['2021-02-22', '2021-02-23', '2021-02-24', '2021-02-25', '2021-02-26', '2021-02-27', '2021-02-28'];
const resellers: Record<'a' | 'b' | 'c', number> = { a: 0, b: 0, c: 0 };
let orderNo = 0;
// two finance users: four eyes need two people
let amy: Actor;
let bob: Actor;

beforeAll(async () => {
  h = await openHarness({ worker: false, freshDatabase: true });
  await h.ledger.openPlatformAccounts();
  statements = new Statements(h.db);
  amy = await userActor(h.db, 'finance', 'finance-amy');
  bob = await userActor(h.db, 'finance', 'finance-bob');
  for (const [key, tier] of [['a', 'default'], ['b', 'silver'], ['c', 'gold']] as const) {
    const { reseller } = await h.deps.resellers.create({ code: `shop-${key}`, name: `小店${key.toUpperCase()} Shop ${key.toUpperCase()}`, tier });
    resellers[key] = reseller.id;
  }
});
afterAll(async () => {
  await h.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The wallet side of what the order service posts for a card sale, dated as the simulation says. */
async function cardSale(reseller: number, date: string, fen: number) {
  const id = ++orderNo;
  await h.ledger.post({
    idempotencyKey: `sim-order:${id}`, kind: 'order_sale', businessDate: date, description: `card sale #${id}`,
    postings: [debit(accountCode.resellerWallet(reseller), fen), credit(accountCode.platform('revenue'), fen)],
  });
  return id;
}
async function topUpHold(reseller: number, date: string, fen: number) {
  const id = ++orderNo;
  await h.ledger.post({
    idempotencyKey: `sim-hold:${id}`, kind: 'order_hold', businessDate: date, description: `top-up hold #${id}`,
    postings: [debit(accountCode.resellerWallet(reseller), fen), credit(accountCode.platform('order_holds'), fen)],
  });
  return id;
}
/** A refund is dated when it happens, like the fulfillment activity's: possibly after its order's day was settled. */
async function refund(reseller: number, order: number, date: string, fen: number) {
  await h.ledger.post({
    idempotencyKey: `sim-refund:${order}`, kind: 'order_refund', businessDate: date, description: `refund of #${order}`,
    postings: [debit(accountCode.platform('order_holds'), fen), credit(accountCode.resellerWallet(reseller), fen)],
  });
}
const topUp = (reseller: number, date: string, fen: number, ref: string) => h.deps.resellers.topUpWallet(reseller, fen, ref, { valueDate: date });
const adjust = (reseller: number, date: string, fen: number, ref: string) =>
  h.deps.resellers.adjustWallet({ resellerId: reseller, amountFen: fen, reference: ref, reason: 'complaint settled 投诉补偿', actor: amy, businessDate: date });

async function allStatements(): Promise<ResellerStatement[]> {
  const out: ResellerStatement[] = [];
  for (const d of [...WEEK, '2021-03-01']) out.push(...(await statements.forDay(d, { limit: 100, offset: 0 })).rows);
  return out;
}

describe('daily reseller settlement over a simulated week', () => {
  let lateHold = 0;

  it('settles each day with statements whose identity holds and whose closing is the next opening', async () => {
    const { a, b, c } = resellers;
    for (const [i, day] of WEEK.entries()) {
      await topUp(a, day, 50_000, `bank-a-${i}`);
      await cardSale(a, day, 9_800);
      await cardSale(a, day, 4_900);
      if (i % 2 === 0) await topUp(b, day, 20_000, `bank-b-${i}`);
      const hold = await topUpHold(b, day, 4_950);
      if (i === 1) lateHold = hold;
      else if (i % 3 === 0) await refund(b, hold, day, 4_950);
      if (i === 2) await topUp(c, day, 300_000, 'bank-c');
      if (i >= 2) await cardSale(c, day, 19_600);
      if (i === 4) await adjust(c, day, 1_234, 'comp-1');
      if (i === 5) await adjust(a, day, -500, 'fee-1');
      // Something already dated tomorrow must wait for tomorrow's statement.
      if (i < WEEK.length - 1) await topUp(a, WEEK[i + 1]!, 100, `early-${i}`);
      // The refund of day 2's hold arrives after day 2 was settled, dated when it happens.
      if (i === 3) await refund(b, lateHold, WEEK[1]!, 4_950);

      const settled = await settleDay(h.db, day, { actor: amy });
      expect(settled).toMatchObject({ date: day, created: true });
    }

    const all = await allStatements();
    const byReseller = new Map<number, ResellerStatement[]>();
    for (const s of all) byReseller.set(s.resellerId, [...(byReseller.get(s.resellerId) ?? []), s]);
    expect([...byReseller.keys()].sort()).toEqual([a, b, c].sort());
    for (const [reseller, days] of byReseller) {
      let opening = 0;
      for (const s of days) {
        expect(s.closingFen).toBe(s.openingFen + s.creditsFen - s.debitsFen);
        expect(s.creditsFen - s.debitsFen).toBe(s.topupsFen - s.ordersGrossFen + s.refundsFen + s.adjustmentsFen + s.rebatesFen + s.otherFen);
        expect(s.openingFen).toBe(opening);
        opening = s.closingFen;
      }
      expect(opening).toBe(await h.ledger.balance(accountCode.resellerWallet(reseller)));
    }
  });

  it('puts a late event on the next open day, flagged with its own date, and leaves the settled day as it was', async () => {
    const day2 = (await statements.forDay(WEEK[1]!, { limit: 10, offset: 0 })).rows.find((s) => s.resellerId === resellers.b)!;
    expect(day2.refundsFen).toBe(0);
    const day4 = (await statements.forDay(WEEK[3]!, { limit: 10, offset: 0 })).rows.find((s) => s.resellerId === resellers.b)!;
    expect(day4.lateLines).toBe(1);
    expect(day4.refundsFen).toBe(2 * 4_950);
    const lines = [];
    for await (const page of statements.lines([day4.id], 'refund')) lines.push(...page);
    expect(lines.find((l) => l.entryKey === `sim-refund:${lateHold}`)).toMatchObject({ entryDate: WEEK[1], statementDate: WEEK[3], amountFen: 4_950 });
  });

  it('changes nothing when a settled day is settled again', async () => {
    const before = await allStatements();
    const lineCount = await h.db('reseller_statement_lines').count<{ count: string }[]>('* as count');
    const again = await settleDay(h.db, WEEK[3]!, { actor: bob });
    expect(again).toMatchObject({ date: WEEK[3], created: false, settledBy: 'finance-amy' });
    expect(await allStatements()).toEqual(before);
    expect(await h.db('reseller_statement_lines').count('* as count')).toEqual(lineCount);
  });

  it('refuses a day that has not ended and a day before the settled ones', async () => {
    await expect(settleDay(h.db, '2099-01-01', { actor: amy })).rejects.toBeInstanceOf(DayNotOverError);
    await expect(settleDay(h.db, '2021-02-01', { actor: amy })).rejects.toBeInstanceOf(SettlementFrozenError);
  });

  it('exports a reseller statement to XLSX whose totals equal the ledger', async () => {
    const file = path.join(tmp, 'shop-a.xlsx');
    const result = await exportResellerStatement(statements, { resellerCode: 'shop-a', from: WEEK[0]!, to: WEEK[6]!, format: 'xlsx' }, fs.createWriteStream(file));
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(file);
    expect(book.worksheets.map((w) => w.name)).toEqual(['汇总 Summary', '充值 Top-ups', '订单 Orders', '调整 Adjustments']);

    const summary = book.getWorksheet('汇总 Summary')!;
    expect(summary.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
    const header = summary.getRow(1).values as string[];
    const col = (name: string) => header.indexOf(name);
    const totals = summary.getRow(summary.rowCount);
    expect(totals.getCell(1).value).toBe('合计 Total');
    const walletFen = await h.ledger.balance(accountCode.resellerWallet(resellers.a));
    expect(Math.round(Number(totals.getCell(col('期末余额(元) Closing (¥)')).value) * 100)).toBe(walletFen);
    expect(totals.getCell(col('期末余额(元) Closing (¥)')).numFmt).toBe('#,##0.00');
    expect(result.closingFen).toBe(walletFen);

    // Every section's totals row is the sum of the wallet's postings in that section.
    const { rows } = await h.db.raw(
      `SELECT e.kind, sum(-p.amount)::bigint AS fen FROM ledger_postings p JOIN ledger_entries e ON e.id = p.entry_id
        JOIN ledger_accounts a ON a.id = p.account_id WHERE a.code = ? AND e.business_date <= ?::date GROUP BY e.kind`,
      [accountCode.resellerWallet(resellers.a), WEEK[6]!],
    );
    const ledgerBy = Object.fromEntries(rows.map((r: { kind: string; fen: number }) => [r.kind, r.fen]));
    for (const [sheetName, kind] of [['充值 Top-ups', 'wallet_topup'], ['订单 Orders', 'order_sale'], ['调整 Adjustments', 'wallet_adjustment']] as const) {
      const sheet = book.getWorksheet(sheetName)!;
      const amountCol = (sheet.getRow(1).values as string[]).indexOf(AMOUNT_HEADER);
      const last = sheet.getRow(sheet.rowCount);
      expect(last.getCell(1).value).toBe('合计 Total');
      expect(Math.round(Number(last.getCell(amountCol).value) * 100)).toBe(ledgerBy[kind]);
    }
  });

  it('exports the same statement as CSV with Chinese and English headers, yuan amounts and section totals', async () => {
    const file = path.join(tmp, 'shop-b.zip');
    const result = await exportResellerStatement(statements, { resellerCode: 'shop-b', from: WEEK[0]!, to: WEEK[6]!, format: 'csv' }, fs.createWriteStream(file));
    // a zip of CSV files, one table each
    const zip = await JSZip.loadAsync(fs.readFileSync(file));
    const texts = await Promise.all(Object.values(zip.files).map((f) => f.async('string')));
    for (const text of texts) expect(text.startsWith('\uFEFF结算日 Settlement date,')).toBe(true);
    const records: string[][] = texts.flatMap((text) => parse(text.slice(1), { relax_column_count: true, skip_empty_lines: true }));
    // Each section's totals row against the ledger, not against the exporter's own sum.
    const { rows } = await h.db.raw(
      `SELECT e.kind, sum(-p.amount)::bigint AS fen FROM ledger_postings p JOIN ledger_entries e ON e.id = p.entry_id
        JOIN ledger_accounts a ON a.id = p.account_id WHERE a.code = ? AND e.business_date <= ?::date GROUP BY e.kind`,
      [accountCode.resellerWallet(resellers.b), WEEK[6]!],
    );
    const ledgerBy: Record<string, number> = Object.fromEntries(rows.map((r: { kind: string; fen: number }) => [r.kind, Number(r.fen)]));
    const amountCol = records.find((r) => r[0] === '结算日 Settlement date' && r.includes(AMOUNT_HEADER))!.indexOf(AMOUNT_HEADER);
    for (const [label, kind] of [['退款 Refunds', 'order_refund'], ['订单 Orders', 'order_hold'], ['充值 Top-ups', 'wallet_topup']] as const) {
      const total = records.find((r) => r[0] === `${label} 合计 Total`);
      expect(total, label).toBeDefined();
      expect(Math.round(Number(total![amountCol]) * 100), label).toBe(ledgerBy[kind]);
    }
    expect(ledgerBy.order_refund).toBe(4 * 4_950);
    expect(result.closingFen).toBe(await h.ledger.balance(accountCode.resellerWallet(resellers.b)));
  });

  it("writes the day's summary workbook with a row per reseller", async () => {
    const file = path.join(tmp, 'day.xlsx');
    const result = await exportDaySummary(statements, WEEK[4]!, fs.createWriteStream(file));
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(file);
    expect(book.getWorksheet('汇总 Summary')!.rowCount).toBe(1 + 3 + 1);
    expect(result.statements).toBe(3);
  });
});

describe('monthly volume rebates', () => {
  it('awards marginal brackets on the month net gross once, on the first statement of the next month', async () => {
    const rebates = new Rebates(h.db, h.ledger);
    await rebates.setRules('gold', [{ thresholdFen: 0, rateBp: 100 }, { thresholdFen: 50_000, rateBp: 300 }]);
    const awards = await rebates.awardMonth('2021-02', amy);
    const gold = awards.find((x) => x.resellerId === resellers.c)!;
    // shop-c: five sales of 196.00 = 980.00 net; 1% of the first 500.00 + 3% of the next 480.00 = 5.00 + 14.40
    expect(gold).toMatchObject({ netGrossFen: 98_000, rebateFen: 500 + 1_440, tier: 'gold' });
    expect(awards.find((x) => x.resellerId === resellers.a)).toMatchObject({ rebateFen: 0 });

    const again = await rebates.awardMonth('2021-02', bob);
    expect(again).toEqual(awards);
    const entries = await h.db('ledger_entries').where({ kind: 'rebate' }).count<{ count: number }[]>('* as count');
    expect(Number(entries[0]!.count)).toBe(1);

    await settleDay(h.db, '2021-03-01', { actor: amy });
    const march = (await statements.forDay('2021-03-01', { limit: 10, offset: 0 })).rows.find((s) => s.resellerId === resellers.c)!;
    expect(march.rebatesFen).toBe(1_940);
    expect(march.closingFen).toBe(await h.ledger.balance(accountCode.resellerWallet(resellers.c)));
  });
});

describe('supplier payouts', () => {
  let supplierId = 0;
  const payables = () => h.ledger.balance(accountCode.supplierPayable(supplierId));

  beforeAll(async () => {
    const supplier = await h.deps.suppliers.upsert({ code: 'payee', name: '收款供应商 Payee', apiBaseUrl: 'http://127.0.0.1:1', apiKey: 'k' });
    supplierId = supplier.id;
    for (const [i, day] of WEEK.entries()) {
      await h.ledger.post({
        idempotencyKey: `sim-procure:${i}`, kind: 'procurement', businessDate: day,
        postings: [debit(accountCode.platform('cost_of_goods'), 10_000), credit(accountCode.supplierPayable(supplierId), 10_000)],
      });
    }
    // Accrued after the period: stays for the next batch.
    await h.ledger.post({
      idempotencyKey: 'sim-procure:late', kind: 'procurement', businessDate: '2021-03-02',
      postings: [debit(accountCode.platform('cost_of_goods'), 7_000), credit(accountCode.supplierPayable(supplierId), 7_000)],
    });
    // The supplier bills 30.00 less than our books and finance accepts its figure: a 30.00 claim netted off the payout.
    const [c] = await h.db('recon_cases').insert({
      supplier_id: supplierId, business_date: WEEK[2], subject_key: 'txn:T-1', class: 'amount_mismatch', our_fen: 13_000, their_fen: 10_000,
      delta_fen: -3_000, first_run_id: 0, last_run_id: 0,
    }).returning('id');
    await new ReconCases(h.db, h.ledger).resolve(c.id, { resolution: 'accept_supplier', actor: await userActor(h.db, 'finance'), reason: 'their discount applies' });
  });

  it('drafts what we owe through the period, net of claims, and refuses approval by its creator', async () => {
    const payouts = new Payouts(h.db, h.ledger);
    const batch = await payouts.draft({ from: WEEK[0]!, to: WEEK[6]!, actor: amy, suppliers: ['payee'] });
    expect(batch.lines).toEqual([expect.objectContaining({ supplierCode: 'payee', payableFen: 70_000, claimsFen: 3_000, amountFen: 67_000 })]);
    expect(batch).toMatchObject({ status: 'draft', totalFen: 67_000 });
    await expect(payouts.approve(batch.id, amy)).rejects.toBeInstanceOf(SelfApprovalError);
    expect((await payouts.get(batch.id)).status).toBe('draft');
    expect(await payables()).toBe(77_000);
  });

  it('moves the money through the ledger at approval and payment, once each', async () => {
    const payouts = new Payouts(h.db, h.ledger);
    const [draft] = (await payouts.list({ limit: 1, offset: 0 })).rows;
    const approved = await payouts.approve(draft!.id, bob);
    expect(approved).toMatchObject({ status: 'approved', approvedBy: 'finance-bob' });
    await payouts.approve(draft!.id, bob);
    expect(await payables()).toBe(7_000);
    expect(await h.ledger.balance(accountCode.platform('payouts_in_transit'))).toBe(67_000);
    expect(await h.db('supplier_claims').where({ supplier_id: supplierId }).first()).toMatchObject({ status: 'netted' });

    const cashBefore = await h.ledger.balance(accountCode.platform('platform_cash'));
    await payouts.markPaid(draft!.id, bob, 'ICBC-20210301-0001');
    await payouts.markPaid(draft!.id, bob, 'ICBC-20210301-0001');
    expect(await h.ledger.balance(accountCode.platform('platform_cash'))).toBe(cashBefore - 67_000);
    expect(await h.ledger.balance(accountCode.platform('payouts_in_transit'))).toBe(0);
    await expect(payouts.markFailed(draft!.id, bob, 'bounced')).rejects.toBeInstanceOf(PayoutStateError);

    const file = path.join(tmp, 'payout.xlsx');
    await exportPayoutBatch(await payouts.get(draft!.id), 'xlsx', fs.createWriteStream(file));
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(file);
    const sheet = book.worksheets[0]!;
    expect(sheet.getRow(2).getCell(1).value).toBe('payee');
    expect(sheet.getRow(3).getCell(5).value).toBe(670);
  });

  it('returns a failed payout to the payable', async () => {
    const payouts = new Payouts(h.db, h.ledger);
    const batch = await payouts.draft({ from: addDays(WEEK[6]!, 1), to: '2021-03-02', actor: amy, suppliers: ['payee'] });
    expect(batch.totalFen).toBe(7_000);
    await payouts.approve(batch.id, bob);
    expect(await payables()).toBe(0);
    await payouts.markFailed(batch.id, bob, 'account closed 账户已销户');
    expect(await payables()).toBe(7_000);
    expect(await h.ledger.balance(accountCode.platform('payouts_in_transit'))).toBe(0);
    expect((await payouts.get(batch.id)).status).toBe('failed');
  });
});

describe('settlement on the dashboard', () => {
  it('lists the settled days and statements, and downloads a statement that reads back', async () => {
    const { createDashboardApp } = await import('../dashboard/app.ts');
    const { loadConfig } = await import('../src/config.ts');
    const app = createDashboardApp({
      db: h.db, ledger: h.ledger, client: h.client, config: loadConfig(), infrastructure: ['test'],
      health: { postgres: '18', migrations: 6, accounts: 1, entries: 0, ledgerImbalanceFen: 0, checkedAt: new Date().toISOString() },
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
    try {
      const finance = await loginAs(base, h.db, 'finance');
      const page = await (await finance.get(`/settlement?date=${WEEK[6]}&lang=en`)).text();
      expect(page).toContain('Settled days');
      expect(page).toContain('shop-a');

      const res = await finance.get(`/settlement/statement?reseller=shop-a&from=${WEEK[0]}&to=${WEEK[6]}&format=xlsx`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-disposition')).toContain('statement-shop-a-');
      const book = new ExcelJS.Workbook();
      await book.xlsx.load(Buffer.from(await res.arrayBuffer()) as never);
      const summary = book.getWorksheet('汇总 Summary')!;
      expect(summary.rowCount).toBe(1 + 7 + 1);

      const missing = await finance.get(`/settlement/statement?reseller=nobody&from=${WEEK[0]}&format=xlsx`);
      expect(missing.status).toBe(404);
    } finally {
      server.close();
    }
  });
});

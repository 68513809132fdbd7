import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { businessDateOf } from '../src/dates.ts';
import { INVARIANTS } from '../src/invariants/invariants.ts';
import { accountCode } from '../src/ledger/accounts.ts';
import { sectionSql } from '../src/settlement/sections.ts';
import type { Actor } from '../src/users/actor.ts';
import { importRechargeFile, RechargeImportRejectedError } from '../src/wallet/bank-import.ts';
import { RECHARGE_TABLE, Recharges } from '../src/wallet/recharges.ts';
import { userActor } from './support/actors.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';

let h: Harness;
let recharges: Recharges;
let finance: Actor;
let secondFinance: Actor;
let ops: Actor;
let tmp: string;
const today = businessDateOf(new Date());
const THRESHOLD = 5_000_000;

beforeAll(async () => {
  h = await openHarness({ worker: false });
  await h.ledger.openPlatformAccounts();
  recharges = new Recharges(h.db, h.ledger, { rechargeApprovalFen: THRESHOLD });
  finance = await userActor(h.db, 'finance');
  secondFinance = await userActor(h.db, 'finance');
  ops = await userActor(h.db, 'ops');
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-recharges-'));
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
  await h.close();
});

async function newReseller() {
  const { reseller } = await h.deps.resellers.create({ code: uniq('shop'), name: '充值测试店 Recharge shop' });
  return reseller;
}

/** The wallet postings of an entry, with the statement section they land in. */
async function walletLines(resellerId: number, key: string) {
  const { rows } = await h.db.raw(
    `SELECT p.amount::bigint AS amount, ${sectionSql('e.kind')} AS section FROM ledger_entries e JOIN ledger_postings p ON p.entry_id = e.id
       JOIN ledger_accounts a ON a.id = p.account_id WHERE e.idempotency_key = ? AND a.code = ?`,
    [key, accountCode.resellerWallet(resellerId)],
  );
  return rows.map((r: any) => ({ amount: Number(r.amount), section: r.section }));
}

const entryCount = async (key: string) => Number((await h.db('ledger_entries').where({ idempotency_key: key }).count<{ n: string }[]>('* as n'))[0]!.n);

async function invariantViolations() {
  const invariant = INVARIANTS.find((i) => i.id === 'recharges_posted')!;
  const { rows: [row] } = await h.db.raw(invariant.sql);
  return { violations: row.violations as number, samples: row.samples as string[] | null };
}

describe('the recharge money table: each step, its posting, the wallet and the statement', () => {
  it('record below the threshold: credited at once, platform cash to the wallet, 充值 on the statement', async () => {
    const reseller = await newReseller();
    const r = await recharges.record(finance, { resellerCode: reseller.code, channel: 'bank', payer: '张三', amountFen: 500_000, reference: uniq('BK'), valueDate: today });
    expect(r.status).toBe('credited');
    expect(await h.deps.resellers.walletBalance(reseller.id)).toBe(500_000);
    expect(await walletLines(reseller.id, RECHARGE_TABLE.creditKey(r.id))).toEqual([{ amount: -500_000, section: 'topup' }]);
  });

  it('record at or above the threshold: pending, nothing posted, the wallet unchanged', async () => {
    const reseller = await newReseller();
    const r = await recharges.record(finance, { resellerCode: reseller.code, channel: 'alipay', payer: '李四', amountFen: THRESHOLD, reference: uniq('ALI'), valueDate: today });
    expect(r.status).toBe('pending');
    expect(await entryCount(RECHARGE_TABLE.creditKey(r.id))).toBe(0);
    expect(await h.deps.resellers.walletBalance(reseller.id)).toBe(0);
  });

  it('approve by a second finance user: credited then, platform cash to the wallet, 充值', async () => {
    const reseller = await newReseller();
    const r = await recharges.record(finance, { resellerCode: reseller.code, channel: 'wechat', payer: '王五', amountFen: 6_000_000, reference: uniq('WX'), valueDate: today });
    const approved = await recharges.approve(secondFinance, r.id);
    expect(approved).toMatchObject({ status: 'credited', approvedBy: secondFinance.username, recordedBy: finance.username });
    expect(await h.deps.resellers.walletBalance(reseller.id)).toBe(6_000_000);
    expect(await walletLines(reseller.id, RECHARGE_TABLE.creditKey(r.id))).toEqual([{ amount: -6_000_000, section: 'topup' }]);
  });

  it('reject a pending one: nothing posted, ever', async () => {
    const reseller = await newReseller();
    const r = await recharges.record(finance, { resellerCode: reseller.code, channel: 'bank', payer: '赵六', amountFen: 7_000_000, reference: uniq('BK'), valueDate: today });
    const rejected = await recharges.reject(secondFinance, r.id, 'money never arrived');
    expect(rejected.status).toBe('rejected');
    expect(await entryCount(RECHARGE_TABLE.creditKey(r.id))).toBe(0);
    await expect(recharges.approve(secondFinance, r.id)).rejects.toMatchObject({ code: 'RECHARGE_STATE' });
  });

  it('reverse a credited one: a reversing entry with the reason, wallet back, 充值 negative; the record is kept, not edited', async () => {
    const reseller = await newReseller();
    const r = await recharges.record(finance, { resellerCode: reseller.code, channel: 'bank', payer: '错付人', amountFen: 123_456, reference: uniq('BK'), valueDate: today });
    const reversed = await recharges.reverse(secondFinance, r.id, 'paid to the wrong reseller');
    expect(reversed).toMatchObject({ status: 'reversed', amountFen: 123_456, closeReason: 'paid to the wrong reseller' });
    expect(await h.deps.resellers.walletBalance(reseller.id)).toBe(0);
    expect(await walletLines(reseller.id, RECHARGE_TABLE.reversalKey(r.id))).toEqual([{ amount: 123_456, section: 'topup' }]);
    const entry = await h.db('ledger_entries').where({ idempotency_key: RECHARGE_TABLE.reversalKey(r.id) }).first('description');
    expect(entry.description).toContain('paid to the wrong reseller');
    const audit = await h.db('audit_log').where({ action: 'recharge.reverse', subject_id: String(r.id) }).first();
    expect(audit).toMatchObject({ actor_user_id: secondFinance.userId, reason: 'paid to the wrong reseller' });
    await expect(recharges.reverse(secondFinance, r.id, 'again')).rejects.toMatchObject({ code: 'RECHARGE_STATE' });
    await expect(h.db('wallet_recharges').where({ id: r.id }).update({ amount_fen: 1 })).rejects.toThrow(/never edited/);
  });

  it('the invariant holds over all of these, and sees a pending recharge posted behind its back', async () => {
    expect(await invariantViolations()).toMatchObject({ violations: 0 });
    const reseller = await newReseller();
    const r = await recharges.record(finance, { resellerCode: reseller.code, channel: 'bank', payer: '某人', amountFen: 9_000_000, reference: uniq('BK'), valueDate: today });
    const planted = await h.ledger.post({ idempotencyKey: RECHARGE_TABLE.creditKey(r.id), kind: 'wallet_topup', businessDate: today, postings: RECHARGE_TABLE.credit(reseller.id, 9_000_000) });
    const seen = await invariantViolations();
    expect(seen.violations).toBe(1);
    expect(seen.samples).toEqual([`recharge ${r.id}: pending yet posted`]);
    // put the books right again for the rest of the suite: approve (the entry is the one it would post)
    await recharges.approve(secondFinance, r.id);
    expect((await h.ledger.entry(RECHARGE_TABLE.creditKey(r.id)))?.id).toBe(planted.id);
    expect(await invariantViolations()).toMatchObject({ violations: 0 });
  });

  it('the invariant sees a recharge entry with no recharge behind it (planted in a transaction rolled back)', async () => {
    const reseller = await newReseller();
    const key = `wallet-recharge-reversal:${9_000_000_000 + reseller.id}`;
    const invariant = INVARIANTS.find((i) => i.id === 'recharges_posted')!;
    const rollback = new Error('rollback');
    await h.db.transaction(async (trx) => {
      const planted = await h.ledger.post({ idempotencyKey: key, kind: 'wallet_recharge_reversal', postings: RECHARGE_TABLE.credit(reseller.id, 100) }, trx);
      const { rows: [row] } = await trx.raw(invariant.sql);
      expect(row.samples).toEqual([`entry ${planted.id} (${key}): no such recharge`]);
      throw rollback;
    }).catch((err) => { if (err !== rollback) throw err; });
    expect(await invariantViolations()).toMatchObject({ violations: 0 });
  });
});

describe('refusals', () => {
  it('a duplicate reference on the same channel is refused and changes nothing (another channel may reuse it)', async () => {
    const reseller = await newReseller();
    const reference = uniq('DUP');
    await recharges.record(finance, { resellerCode: reseller.code, channel: 'bank', payer: '张三', amountFen: 10_000, reference, valueDate: today });
    await expect(recharges.record(secondFinance, { resellerCode: reseller.code, channel: 'bank', payer: '张三', amountFen: 10_000, reference, valueDate: today }))
      .rejects.toMatchObject({ code: 'DUPLICATE_RECHARGE' });
    expect(await h.deps.resellers.walletBalance(reseller.id)).toBe(10_000);
    await recharges.record(finance, { resellerCode: reseller.code, channel: 'alipay', payer: '张三', amountFen: 10_000, reference, valueDate: today });
    expect(await h.deps.resellers.walletBalance(reseller.id)).toBe(20_000);
  });

  it('self-approval is refused, in the code and in the database', async () => {
    const reseller = await newReseller();
    const r = await recharges.record(finance, { resellerCode: reseller.code, channel: 'bank', payer: '张三', amountFen: 8_000_000, reference: uniq('BK'), valueDate: today });
    await expect(recharges.approve(finance, r.id)).rejects.toMatchObject({ code: 'FOUR_EYES' });
    expect((await recharges.byId(r.id)).status).toBe('pending');
    await expect(h.db('wallet_recharges').where({ id: r.id }).update({ approved_by_user_id: finance.userId })).rejects.toThrow(/wallet_recharges_four_eyes/);
  });

  it('bad fields are refused with every field named, and nothing recorded', async () => {
    const before = await h.db('wallet_recharges').count<{ n: string }[]>('* as n');
    const err = await recharges.record(finance, { resellerCode: '', channel: 'cash', payer: '', amountFen: -5, reference: '', valueDate: '2999-01-01' }).catch((e) => e);
    expect(err.code).toBe('VALIDATION_ERROR');
    expect(Object.keys(err.details.fields).sort()).toEqual(['amount', 'channel', 'payer', 'reference', 'resellerCode', 'valueDate']);
    expect(await h.db('wallet_recharges').count<{ n: string }[]>('* as n')).toEqual(before);
  });

  it('only finance (or an admin) records a recharge', async () => {
    const reseller = await newReseller();
    await expect(recharges.record(ops, { resellerCode: reseller.code, channel: 'bank', payer: 'x', amountFen: 100, reference: uniq('BK'), valueDate: today }))
      .rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('a reversal needs a reason', async () => {
    const reseller = await newReseller();
    const r = await recharges.record(finance, { resellerCode: reseller.code, channel: 'bank', payer: 'x', amountFen: 100, reference: uniq('BK'), valueDate: today });
    await expect(recharges.reverse(secondFinance, r.id, '')).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
  });
});

describe('a bank statement file of recharges', () => {
  it('records every line matched by the reseller code in its memo, all at once; a second import records nothing twice', async () => {
    const a = await newReseller();
    const b = await newReseller();
    const [r1, r2] = [uniq('LS'), uniq('LS')];
    const file = path.join(tmp, 'bank.csv');
    await fs.writeFile(file, `交易日期,对方户名,金额,摘要,流水号\n${today},张三,"1,000.00",充值 ${a.code},${r1}\n${today.replaceAll('-', '/')},李四,250.5,货款 ${b.code} 谢谢,${r2}\n`);
    const first = await importRechargeFile(h.db, recharges, finance, { file });
    expect(first.recorded.map((r) => [r.resellerCode, r.amountFen, r.status, r.source])).toEqual([
      [a.code, 100_000, 'credited', 'bank.csv:2'], [b.code, 25_050, 'credited', 'bank.csv:3'],
    ]);
    const again = await importRechargeFile(h.db, recharges, finance, { file });
    expect(again.recorded).toEqual([]);
    expect(again.alreadyRecorded.map((l) => l.line)).toEqual([2, 3]);
    expect(await h.deps.resellers.walletBalance(a.id)).toBe(100_000);
  });

  it('reads an XLSX with English headers', async () => {
    const a = await newReseller();
    const workbook = new ExcelJS.Workbook();
    const sheet = workbook.addWorksheet('statement');
    sheet.addRow(['Date', 'Payer', 'Amount', 'Memo', 'Reference']);
    sheet.addRow([new Date(`${today}T00:00:00Z`), 'Zhang San', 88.8, `topup ${a.code}`, uniq('X')]);
    const file = path.join(tmp, 'bank.xlsx');
    await workbook.xlsx.writeFile(file);
    const outcome = await importRechargeFile(h.db, recharges, finance, { file });
    expect(outcome.recorded.map((r) => r.amountFen)).toEqual([8_880]);
  });

  it('refuses the whole file with file:line:column errors, recording none of its good lines', async () => {
    const a = await newReseller();
    const good = uniq('LS');
    const file = path.join(tmp, 'bad.csv');
    await fs.writeFile(file, [
      '交易日期,对方户名,金额,摘要,流水号',
      `${today},张三,100.00,充值 ${a.code},${good}`,
      `${today},李四,abc,充值 ${a.code},${uniq('LS')}`,
      `${today},王五,10.00,no code here,${uniq('LS')}`,
      `2026-02-30,赵六,10.00,充值 ${a.code},${good}`,
    ].join('\n'));
    const err = await importRechargeFile(h.db, recharges, finance, { file }).catch((e) => e);
    expect(err).toBeInstanceOf(RechargeImportRejectedError);
    const messages = err.problems.map((p: any) => `${p.file}:${p.line}:${p.column}`);
    expect(messages).toEqual(['bad.csv:3:C(金额)', 'bad.csv:4:D(摘要)', 'bad.csv:5:A(交易日期)', 'bad.csv:5:E(流水号)']);
    expect(await h.db('wallet_recharges').where({ reference: good }).first()).toBeUndefined();
  });
});

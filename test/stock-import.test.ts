import fs from 'node:fs/promises';
import { SYSTEM } from '../src/users/actor.ts';
import { userActor } from './support/actors.ts';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { businessDateOf } from '../src/dates.ts';
import { ValidationError } from '../src/errors.ts';
import { accountCode } from '../src/ledger/accounts.ts';
import { parseYuan } from '../src/money.ts';
import { Payouts } from '../src/payouts/payouts.ts';
import { ensureReceiptBooked, importStockFile, receiveDelivery } from '../src/procurement/receipt.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';
import { cardSku } from './support/world.ts';

// The money table of stock coming in (README "Stock receipts: the money table"), a test per row.
let h: Harness;
let dir: string;
beforeAll(async () => {
  h = await openHarness({ worker: false });
  await h.ledger.openPlatformAccounts();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-stock-import-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
  await h.close();
});

const supplier = () => h.deps.suppliers.upsert({ code: uniq('yunka').toLowerCase(), name: '云卡 Yunka', apiBaseUrl: 'http://127.0.0.1:1', apiKey: 'k' });
async function codeFile(sku: string, n: number) {
  const file = path.join(dir, `${uniq('codes')}.csv`);
  await fs.writeFile(file, ['sku,serial,code,expires_at', ...Array.from({ length: n }, (_, i) => `${sku},SN${i},${uniq('CODE')},2030-12-31`)].join('\n'));
  return file;
}
const deps = () => ({ ...h.deps, db: h.db });
const stocked = async (sku: string) => Number((await h.db('card_codes').where({ sku_code: sku }).count('* as n'))[0]!.n);
const balance = (code: string) => h.ledger.balance(code);

describe('kameng import-codes books what it stocks', () => {
  it('with --supplier yunka --unit-cost 16.50: inventory up, what we owe yunka up, once per batch', async () => {
    const yunka = await supplier();
    const sku = (await cardSku(h, '网易')).code;
    const file = await codeFile(sku, 4);
    const payable = await balance(accountCode.supplierPayable(yunka.id));
    const options = { sku, file, unitCostFen: parseYuan('16.50', '--unit-cost'), supplier: yunka.code, batchKey: uniq('batch') };

    const result = await importStockFile(deps(), options);
    expect(result).toMatchObject({ imported: 4, created: true });
    expect((await h.ledger.entry(`card-import:${options.batchKey}`))!.postings).toEqual([
      { account: accountCode.platform('inventory'), amount: 4 * 1_650, currency: 'CNY' },
      { account: accountCode.supplierPayable(yunka.id), amount: -4 * 1_650, currency: 'CNY' },
    ]);
    expect(await balance(accountCode.supplierPayable(yunka.id))).toBe(payable + 4 * 1_650);

    // the same batch again adds nothing and posts nothing
    expect(await importStockFile(deps(), options)).toMatchObject({ created: false, imported: 4 });
    expect(await balance(accountCode.supplierPayable(yunka.id))).toBe(payable + 4 * 1_650);
    expect(await stocked(sku)).toBe(4);
  });

  it('without a supplier: refused, with nothing stocked, unless it names a counter-account, a reason and an actor', async () => {
    const sku = (await cardSku(h, '网易')).code;
    const file = await codeFile(sku, 2);
    const base = { sku, file, unitCostFen: 1_650, batchKey: uniq('batch') };
    for (const missing of [{}, { counterAccount: 'adjustments', reason: 'opening stock' }, { counterAccount: 'revenue', reason: 'opening stock', actor: SYSTEM }, { counterAccount: 'adjustments', actor: SYSTEM }]) {
      const error = await importStockFile(deps(), { ...base, ...missing }).catch((e) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect(error.message).toMatch(/^stock without a supplier must be booked against an account: it needs /);
    }
    expect(await stocked(sku)).toBe(0);
  });

  it('against an account: inventory up, the counter-account down, the reason and the actor in the entry and the audit log', async () => {
    const sku = (await cardSku(h, '网易')).code;
    const file = await codeFile(sku, 3);
    const batchKey = uniq('batch');
    const cash = await balance(accountCode.platform('platform_cash'));
    const result = await importStockFile(deps(), { sku, file, unitCostFen: 2_000, batchKey, counterAccount: 'platform_cash', reason: 'bought at the counter', actor: SYSTEM });
    const postings = (await h.ledger.entry(`card-import:${batchKey}`))!.postings;
    expect(postings).toHaveLength(2);
    expect(postings).toEqual(expect.arrayContaining([
      { account: accountCode.platform('inventory'), amount: 6_000, currency: 'CNY' },
      { account: accountCode.platform('platform_cash'), amount: -6_000, currency: 'CNY' },
    ]));
    expect(await balance(accountCode.platform('platform_cash'))).toBe(cash - 6_000);
    expect(await h.db('audit_log').where({ action: 'stock.import', subject_id: String(result.batchId) }).first())
      .toMatchObject({ actor: SYSTEM.username, reason: 'bought at the counter' });
  });

  it('a zero unit cost stocks the codes and posts nothing', async () => {
    const sku = (await cardSku(h, '网易')).code;
    const batchKey = uniq('batch');
    await importStockFile(deps(), { sku, file: await codeFile(sku, 2), unitCostFen: 0, batchKey, counterAccount: 'adjustments', reason: 'free samples', actor: SYSTEM });
    expect(await stocked(sku)).toBe(2);
    expect(await h.ledger.entry(`card-import:${batchKey}`)).toBeUndefined();
  });
});

describe('a quarantined delivery on the supplier payout', () => {
  it('is owed in full, claimed back, and the next payout pays the delivery less the claim', async () => {
    const s = await supplier();
    const sku = (await cardSku(h, '网易')).code;
    const good = (i: number) => ({ serial: `S${i}`, code: uniq('Q'), expiresAt: '2030-12-31' });
    const codes = [good(1), { serial: 'S2', code: uniq('Q'), expiresAt: '2020-01-31' }, good(3), good(4)];
    const result = await receiveDelivery(deps(), { requestId: uniq('req'), supplierId: s.id, supplierCode: s.code, supplierOrderId: 'O1', sku, unitCostFen: 1_000, codes });
    expect(result).toMatchObject({ imported: 3, quarantined: 1 });
    expect(await balance(accountCode.supplierPayable(s.id))).toBe(4_000);

    const payouts = new Payouts(h.db, h.ledger);
    const today = businessDateOf(new Date());
    const adjustments = await balance(accountCode.platform('adjustments'));
    const financeA = await userActor(h.db, 'finance');
    const draft = await payouts.draft({ from: today, to: today, actor: financeA, suppliers: [s.code] });
    expect(draft.lines).toEqual([expect.objectContaining({ supplierId: s.id, payableFen: 4_000, claimsFen: 1_000, amountFen: 3_000 })]);
    await payouts.approve(draft.id, await userActor(h.db, 'finance'));
    expect(await balance(accountCode.supplierPayable(s.id))).toBe(0);
    // the claim's cost, debited to adjustments at receipt, is recovered by paying less
    expect(await balance(accountCode.platform('adjustments'))).toBe(adjustments - 1_000);
    expect(await h.db('supplier_claims').where({ card_batch_id: result.batchId }).first()).toMatchObject({ status: 'netted' });
  });
});

describe('postProcurementPayable, kept for procurements started before patch procurement-receipt', () => {
  it('finds the entry a receipt posted, and posts none twice', async () => {
    const s = await supplier();
    const sku = (await cardSku(h, '网易')).code;
    const requestId = uniq('req');
    const codes = [{ serial: 'S1', code: uniq('Q'), expiresAt: '2030-12-31' }, { serial: 'S2', code: uniq('Q'), expiresAt: '2020-01-31' }];
    const r = await receiveDelivery(deps(), { requestId, supplierId: s.id, supplierCode: s.code, supplierOrderId: 'O1', sku, unitCostFen: 1_000, codes });
    const entry = await h.ledger.entry(`procurement:${requestId}`);
    expect(await ensureReceiptBooked(deps(), { requestId, supplierId: s.id, batchId: r.batchId })).toBe(entry!.id);
    expect(await balance(accountCode.supplierPayable(s.id))).toBe(2_000);
  });

  it('posts the receipt of a batch an older worker imported without booking it', async () => {
    const s = await supplier();
    const sku = (await cardSku(h, '网易')).code;
    const requestId = uniq('req');
    // what importCardBatch left before receipts were booked at import: the batch and its codes, no entry
    const [stocked] = await h.db('card_batches').insert({ batch_key: `${s.code}:${requestId}-2`, sku_code: sku, supplier_id: s.id, source: 'supplier_delivery', unit_cost_fen: 1_000, code_count: 2 }).returning('id');
    await h.db('card_codes').insert([1, 2].map((i) => ({ sku_code: sku, batch_id: stocked.id, serial: `L${i}`, code_sealed: Buffer.from('x'), fingerprint: Buffer.from(uniq('fp')) })));
    const id = await ensureReceiptBooked(deps(), { requestId: `${requestId}-2`, supplierId: s.id, batchId: stocked.id });
    expect((await h.ledger.entry(`procurement:${requestId}-2`))!).toMatchObject({ id, postings: expect.arrayContaining([
      { account: accountCode.platform('inventory'), amount: 2_000, currency: 'CNY' },
      { account: accountCode.supplierPayable(s.id), amount: -2_000, currency: 'CNY' },
    ]) });
    expect(await ensureReceiptBooked(deps(), { requestId: `${requestId}-2`, supplierId: s.id, batchId: stocked.id })).toBe(id);
  });
});

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createFulfillmentActivities } from '../activities/fulfillment.ts';
import { testStock } from './support/stock.ts';
import { importCardCodes } from '../src/inventory/import.ts';
import { checkInvariants, type InvariantResult } from '../src/invariants/check.ts';
import { INVARIANTS } from '../src/invariants/invariants.ts';
import { accountCode } from '../src/ledger/accounts.ts';
import { trustedCaller } from '../src/resellers/authenticate.ts';
import { OrderService } from '../src/orders/order-service.ts';
import { reconcileDay } from '../src/reconciliation/reconcile.ts';
import { businessDayRange } from '../src/dates.ts';
import { settleDay } from '../src/settlement/settle.ts';
import { recordPlacement, recordResult } from '../src/supplier-api/transactions.ts';
import { userActor } from './support/actors.ts';
import { openHarness, TEST_RECON_SETTINGS, uniq, type Harness } from './support/harness.ts';
import { cardSku } from './support/world.ts';
import { topUpWorkflowId } from '../workflows/fulfill-topup.ts';
import { CatalogAdmin } from '../src/catalog/admin.ts';
import { ComplianceDocuments } from '../src/compliance/documents.ts';
import { SupplierAdmin } from '../src/suppliers/admin.ts';

// A database of its own (created on the shared server, dropped at the end): violations are planted
// here, never where the other test files and the end-of-suite check look.
let h: Harness;
let dir: string;
const books = {} as {
  wallet: string; cardOrders: number[]; succeeded: number; refunded: number; processing: number;
  saleEntryId: number; runId: number; matchedRef: string; duplicateLine: number; multiLine: number;
  documentId: number; offer: { supplierId: number; sku: string };
};
const SETTLED = '2022-05-01';
const RECONCILED = '2022-05-02';

beforeAll(async () => {
  h = await openHarness({ worker: false, freshDatabase: true });
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-invariants-'));
  // Order ids restart at 1 here: move them far past the shared database's, so the top-up workflows
  // started below (on a task queue nobody polls) cannot take another test file's workflow ids.
  await h.db.raw('SELECT setval(pg_get_serial_sequence(?, ?), ?)', ['orders', 'id', 1_000_000_000 + Math.floor(Math.random() * 1_000_000_000)]);
  await h.ledger.openPlatformAccounts();

  const { reseller } = await h.deps.resellers.create({ code: uniq('inv-shop'), name: '检查小店 Check shop' });
  books.wallet = accountCode.resellerWallet(reseller.id);
  await h.deps.resellers.topUpWallet(reseller.id, 100_000, 'opening', { valueDate: SETTLED });
  await settleDay(h.db, SETTLED, { actor: await userActor(h.db, 'finance') });

  const card = await cardSku(h, '腾讯');
  async function* codes() {
    for (let i = 0; i < 5; i++) yield { line: i + 2, sku: card.code, serial: `S${i}`, code: `INV-${card.code}-${i}`, expiresOn: '' };
  }
  await importCardCodes(h.db, h.deps.vault, { booking: testStock(h.ledger), batchKey: uniq('inv'), sku: card.code, unitCostFen: 9_400, source: 'file', fileName: 'inv.csv', rows: codes() });
  const topUp = await h.deps.catalog.createSku({
    code: uniq('INV-CM50').toUpperCase(), nameZh: '移动话费50元', nameEn: 'CMCC 50', brand: '中国移动', kind: 'direct_topup', faceValueFen: 5_000,
    lowStockThreshold: 0, procurementBatch: 0,
  });
  await h.deps.catalog.setPrice({ sku: topUp.code, tier: 'default', priceFen: 4_950 });
  const supplier = await h.deps.suppliers.upsert({ code: uniq('inv-sup').toLowerCase(), name: '检查供应商', apiBaseUrl: 'http://127.0.0.1:1', apiKey: 'k' });

  const service = new OrderService({
    db: h.db, ledger: h.ledger, catalog: h.deps.catalog, vault: h.deps.vault, temporal: h.client,
    taskQueues: { fulfillment: h.taskQueue, procurement: h.taskQueue },
  });
  const place = async (resellerOrderId: string, body: object) => {
    await service.placeOrder(trustedCaller(h.db, reseller), { resellerOrderId, ...body });
    return (await h.db('orders').where({ reseller_id: reseller.id, reseller_order_id: resellerOrderId }).first('id')).id as number;
  };
  books.cardOrders = [await place('card-1', { sku: card.code, quantity: 2 }), await place('card-2', { sku: card.code, quantity: 1 })];
  const topUps: number[] = [];
  for (const n of [1, 2, 3]) topUps.push(await place(`topup-${n}`, { sku: topUp.code, account: '13800000000' }));
  [books.succeeded, books.refunded, books.processing] = topUps as [number, number, number];
  // what the fulfillment workflow's activities do at the end; the workflows themselves are not needed
  const fulfillment = createFulfillmentActivities(h.deps);
  await fulfillment.completeTopUp({ orderId: books.succeeded, supplierId: supplier.id, costFen: 4_850, supplierTxnId: 'T-inv', requestId: null, markedBy: null });
  await fulfillment.refundTopUp({ orderId: books.refunded, reason: 'test' });
  for (const id of topUps) await h.client.workflow.getHandle(topUpWorkflowId(id)).terminate('invariant test: finished by hand').catch(() => undefined);
  books.saleEntryId = (await h.ledger.entry(`order:${books.cardOrders[0]}`))!.id;

  // A reconciliation with a line of several references, one of them unknown: its rows are in
  // different classes, yet the line is in one (its first reference's).
  const ref = (id: string) => `${supplier.code}-${id}`;
  const completed = new Date(businessDayRange(RECONCILED).start.getTime() + 12 * 3_600_000);
  for (const id of ['ok', 'dup', 'many', 'omitted']) {
    await recordPlacement(h.db, { requestId: ref(id), supplierId: supplier.id, kind: 'topup', skuCode: topUp.code, supplierSku: 'CM50', quantity: 1, costFen: 4_850 });
    await recordResult(h.db, ref(id), { status: 'success', supplierTxnId: `T-${ref(id)}`, completedAt: completed });
  }
  const at = `${RECONCILED} 12:00:01`;
  const statement = path.join(dir, 'statement.csv');
  await fs.writeFile(statement, [
    'supplier_txn_id,merchant_order_no,sku,quantity,amount,status,completed_at',
    `T-${ref('ok')},${ref('ok')},CM50,1,48.50,SUCCESS,${at}`,
    `T-${ref('dup')},${ref('dup')},CM50,1,48.50,SUCCESS,${at}`,
    `T-${ref('dup')},${ref('dup')},CM50,1,48.50,SUCCESS,${at}`,
    `T-M,${ref('many')}|${ref('unknown')},CM50,2,97.00,SUCCESS,${at}`,
    '',
  ].join('\n'));
  const run = await reconcileDay(h.db, {
    supplier, date: RECONCILED, file: statement, source: 'uploaded', workflowId: 'invariant-test', triggeredBy: 'test',
    archiveDir: TEST_RECON_SETTINGS.archiveDir, windowMinutes: 10,
  });
  Object.assign(books, { runId: run.runId, matchedRef: ref('ok'), duplicateLine: 4, multiLine: 5 });

  // administration (issue 18): an offer with two cost versions, a reviewed 资质 document, a price forced below cost
  const ops = await userActor(h.db, 'ops');
  const admin = new SupplierAdmin(h.db, h.deps.suppliers);
  await admin.setOffer(ops, { supplier: supplier.code, sku: topUp.code, supplierSku: 'CM50', cost: '48.50', from: new Date(Date.now() - 60_000), reason: 'contract' });
  await admin.setOffer(ops, { supplier: supplier.code, sku: topUp.code, supplierSku: 'CM50', cost: '48.60', reason: 'new contract' });
  const documents = new ComplianceDocuments(h.db, { documentDir: path.join(dir, 'documents'), documentMaxBytes: 1 << 20 });
  const licence = await documents.upload(ops, { supplier: supplier.code, kind: 'business_licence', documentNo: 'BL', validFrom: '2020-01-01', expiresOn: '2035-01-01', fileName: 'bl.pdf', bytes: Buffer.from('%PDF-1.4 licence') });
  await documents.review(await userActor(h.db, 'compliance'), licence.id, { decision: 'approve', reason: 'checked' });
  books.documentId = licence.id;
  await new CatalogAdmin(h.db).setPrice(await userActor(h.db, 'finance'), { sku: topUp.code, tier: 'gold', price: '48.00', force: true, reason: 'promotion agreed' });
  books.offer = { supplierId: supplier.id, sku: topUp.code };
});
afterAll(async () => {
  await h?.close();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const verdicts = async () => Object.fromEntries((await checkInvariants(h.db)).results.map((r) => [r.invariant.id, r]));
const NOTHING_WRONG = Object.fromEntries(INVARIANTS.map((i) => [i.id, 0]));

/**
 * As a broken migration or a hand-made fix might: the ledger's triggers are off for the session.
 * Only the owner's connection can (the application role may neither turn them off nor change the ledger).
 */
async function behindTheLedgersBack(statements: [string, unknown[]?][]) {
  await h.ownerDb.transaction(async (trx: Knex.Transaction) => {
    await trx.raw('SET LOCAL session_replication_role = replica');
    for (const [sql, bindings = []] of statements) await trx.raw(sql, bindings as never);
  });
}

/** Plants a violation, takes the checker's verdict on one invariant, and takes the violation out again. */
async function verdictWith(id: string, plant: [string, unknown[]?][], undo: [string, unknown[]?][]): Promise<InvariantResult> {
  await behindTheLedgersBack(plant);
  try {
    return (await verdicts())[id]!;
  } finally {
    await behindTheLedgersBack(undo);
  }
}

// Planted rows carry this posting time (or content hash), so taking them out cannot touch real ones.
const PLANTED_AT = '2000-01-01T00:00:00Z';

describe('the invariant checker', () => {
  // every test leaves the books as it found them
  afterEach(async () => {
    const all = await verdicts();
    expect(Object.fromEntries(Object.entries(all).map(([id, r]) => [id, r.violations]))).toEqual(NOTHING_WRONG);
  });

  it('finds nothing wrong with books kept through the ledger, the order service, fulfillment, reconciliation and settlement', async () => {
    const all = await verdicts();
    // and each invariant had something to check, but those whose subject this scenario does not
    // make: each is run over real rows, and caught planting a violation, in its own test file
    const exercisedElsewhere: Record<string, string> = {
      complaint_one_money_outcome: 'test/aftersales.test.ts',
      complaint_refunds_within_charge: 'test/aftersales.test.ts',
      replaced_code_counted_once: 'test/aftersales.test.ts',
      claims_netted_once: 'test/aftersales.test.ts',
      qualifications_four_eyes: 'test/catalog-admin.test.ts',
      prices_above_cost: 'test/catalog-admin.test.ts',
      recharges_posted: 'test/recharges.test.ts',
    };
    for (const r of Object.values(all)) {
      if (!(r.invariant.id in exercisedElsewhere)) expect(r.checked, r.invariant.id).toBeGreaterThan(0);
    }
  });

  it('reports an unbalanced journal entry (per currency: CNY and USD postings that cancel out do not balance it)', async () => {
    const verdict = await verdictWith('entries_balance', [[
      `INSERT INTO ledger_postings (entry_id, account_id, amount, currency, posted_at)
       SELECT ?, id, v.amount, v.currency, ? FROM ledger_accounts, (VALUES (1, 'CNY'), (-1, 'USD')) v (amount, currency) WHERE code = ?`,
      [books.saleEntryId, PLANTED_AT, accountCode.platform('revenue')],
    ]], [['DELETE FROM ledger_postings WHERE posted_at = ?', [PLANTED_AT]]]);
    expect(verdict).toMatchObject({ violations: 1, samples: [`entry ${books.saleEntryId}`] });
  });

  it("reports a guarded account whose kept balance is not the sum of its postings", async () => {
    const verdict = await verdictWith('guarded_balances',
      [['UPDATE ledger_accounts SET guarded_balance = guarded_balance - 1 WHERE code = ?', [books.wallet]]],
      [['UPDATE ledger_accounts SET guarded_balance = guarded_balance + 1 WHERE code = ?', [books.wallet]]]);
    expect(verdict).toMatchObject({ violations: 1, samples: [expect.stringContaining(books.wallet)] });
  });

  it("reports an account that breaks its kind's rules: a wallet left unguarded, a balance kept where none is", async () => {
    const revenue = accountCode.platform('revenue');
    const verdict = await verdictWith('account_rules', [
      ['UPDATE ledger_accounts SET no_overdraft = false WHERE code = ?', [books.wallet]],
      ['UPDATE ledger_accounts SET guarded_balance = 7 WHERE code = ?', [revenue]],
    ], [
      ['UPDATE ledger_accounts SET no_overdraft = true WHERE code = ?', [books.wallet]],
      ['UPDATE ledger_accounts SET guarded_balance = 0 WHERE code = ?', [revenue]],
    ]);
    expect(verdict.violations).toBe(2);
    expect(verdict.samples).toEqual(expect.arrayContaining([expect.stringContaining(books.wallet), expect.stringContaining(revenue)]));
  });

  it('reports a wallet below zero', async () => {
    const overdraft = (await h.ledger.balance(books.wallet)) + 1;
    const verdict = await verdictWith('wallets_not_negative', [
      [`INSERT INTO ledger_entries (idempotency_key, content_hash, kind, business_date) VALUES ('planted-overdraft', 'planted', 'planted', ?)`, [RECONCILED]],
      [`INSERT INTO ledger_postings (entry_id, account_id, amount, currency, posted_at)
        SELECT e.id, a.id, v.amount, 'CNY', ? FROM ledger_entries e, (VALUES (?::text, ?::bigint), (?, ?)) v (code, amount)
          JOIN ledger_accounts a ON a.code = v.code WHERE e.idempotency_key = 'planted-overdraft'`,
      [PLANTED_AT, books.wallet, overdraft, accountCode.platform('revenue'), -overdraft]],
    ], [
      ['DELETE FROM ledger_postings WHERE posted_at = ?', [PLANTED_AT]],
      [`DELETE FROM ledger_entries WHERE content_hash = 'planted'`],
    ]);
    expect(verdict).toMatchObject({ violations: 1, samples: [`${books.wallet}: -1 fen`] });
  });

  it('reports a card code delivered twice, a card order short of its codes, and a code delivered to a top-up', async () => {
    const [first, second] = books.cardOrders;
    const verdict = await verdictWith('codes_delivered_once', [
      // the unique index would refuse a second copy of a code: a database that lost it
      ['DROP INDEX card_codes_fingerprint'],
      [`INSERT INTO card_codes (sku_code, batch_id, serial, code_sealed, fingerprint, status, order_id, delivered_at)
        SELECT sku_code, batch_id, serial || '-again', code_sealed, fingerprint, 'delivered', ?, now() FROM card_codes WHERE order_id = ? ORDER BY id LIMIT 1`,
      [second, first]],
      [`UPDATE card_codes SET status = 'delivered', order_id = ?, delivered_at = now(), serial = serial || '-topup'
         WHERE id = (SELECT min(id) FROM card_codes WHERE status = 'available')`, [books.succeeded]],
    ], [
      [`DELETE FROM card_codes WHERE serial LIKE '%-again'`],
      [`UPDATE card_codes SET status = 'available', order_id = NULL, delivered_at = NULL, serial = replace(serial, '-topup', '') WHERE serial LIKE '%-topup'`],
      ['CREATE UNIQUE INDEX card_codes_fingerprint ON card_codes (sku_code, fingerprint)'],
    ]);
    expect(verdict.violations).toBe(3);
    expect(verdict.samples).toEqual(expect.arrayContaining([
      `order ${second}: 2 codes for quantity 1`,
      expect.stringMatching(/^a code of .* held 2 times$/),
      `order ${books.succeeded}: a direct_topup order holding 1 card code(s)`,
    ]));
  });

  it('reports stock whose cost is not in the inventory account: a code put on the shelf without its entry', async () => {
    const verdict = await verdictWith('stock_valuation', [[
      `INSERT INTO card_codes (sku_code, batch_id, serial, code_sealed, fingerprint)
       SELECT sku_code, batch_id, 'planted-stock', code_sealed, sha256('planted-stock'::bytea) FROM card_codes ORDER BY id LIMIT 1`,
    ]], [[`DELETE FROM card_codes WHERE serial = 'planted-stock'`]]);
    expect(verdict).toMatchObject({ violations: 1, samples: [expect.stringMatching(/^inventory CNY: \d+ fen in the books, \d+ codes in stock costing \d+ fen$/)] });
  });

  it('reports a charged order without exactly one outcome: completed and refunded, refunded without a refund, an outcome for no order', async () => {
    const missing = 999_999_999_999;
    const entry = (key: string) => [
      [`INSERT INTO ledger_entries (idempotency_key, content_hash, kind, business_date) VALUES (?, 'planted', 'planted', ?)`, [key, RECONCILED]],
      [`INSERT INTO ledger_postings (entry_id, account_id, amount, currency, posted_at)
        SELECT e.id, a.id, v.amount, 'CNY', ? FROM ledger_entries e, (VALUES (?::text, 1::bigint), (?, -1)) v (code, amount)
          JOIN ledger_accounts a ON a.code = v.code WHERE e.idempotency_key = ?`,
      [PLANTED_AT, accountCode.platform('refunds'), accountCode.platform('revenue'), key]],
    ] as [string, unknown[]][];
    const verdict = await verdictWith('orders_settled_once', [
      ...entry(`order-refund:${books.succeeded}`),
      ...entry(`order-complete:${missing}`),
      [`UPDATE orders SET status = 'refunded' WHERE id = ?`, [books.processing]],
    ], [
      ['DELETE FROM ledger_postings WHERE posted_at = ?', [PLANTED_AT]],
      [`DELETE FROM ledger_entries WHERE content_hash = 'planted'`],
      [`UPDATE orders SET status = 'processing' WHERE id = ?`, [books.processing]],
    ]);
    expect(verdict.violations).toBe(3);
    expect(verdict.samples).toEqual(expect.arrayContaining([
      expect.stringContaining(`order ${books.succeeded} `), expect.stringContaining(`order ${books.processing} `), expect.stringContaining(`order ${missing} `),
    ]));
  });

  it('reports a reconciliation line in no class or two, and one of our transactions in two', async () => {
    const { runId, duplicateLine, multiLine, matchedRef } = books;
    const verdict = await verdictWith('recon_one_class', [
      // a line lost
      ['CREATE TABLE planted_lost_line AS SELECT * FROM recon_items WHERE run_id = ? AND line_no = ?', [runId, duplicateLine]],
      ['DELETE FROM recon_items WHERE run_id = ? AND line_no = ?', [runId, duplicateLine]],
      // a line counted twice: its second reference's row carries the line's amount too
      ['UPDATE recon_items SET their_fen = 1 WHERE run_id = ? AND line_no = ? AND their_fen IS NULL', [runId, multiLine]],
      // a transaction a line lists, also reported as missing at the supplier
      [`INSERT INTO recon_items (run_id, supplier_id, business_date, request_id, our_status, our_fen, class, rule)
        SELECT run_id, supplier_id, business_date, request_id, our_status, our_fen, 'missing_at_supplier', 'planted' FROM recon_results
         WHERE run_id = ? AND request_id = ?`, [runId, matchedRef]],
    ], [
      ['INSERT INTO recon_items SELECT * FROM planted_lost_line'],
      ['DROP TABLE planted_lost_line'],
      ['UPDATE recon_items SET their_fen = NULL WHERE run_id = ? AND line_no = ? AND their_fen = 1', [runId, multiLine]],
      [`DELETE FROM recon_items WHERE rule = 'planted'`],
    ]);
    expect(verdict.violations).toBe(3);
    expect(verdict.samples).toEqual(expect.arrayContaining([
      expect.stringContaining(`run ${runId}: 4 lines read`), expect.stringContaining(`run ${runId} line ${multiLine}`),
      expect.stringContaining(`run ${runId} transaction ${matchedRef}`),
    ]));
  });

  it('reports a reseller statement that does not match its lines', async () => {
    const verdict = await verdictWith('statement_identity',
      [['UPDATE reseller_statement_lines SET amount_fen = amount_fen + 1 WHERE posting_id = (SELECT min(posting_id) FROM reseller_statement_lines)']],
      [['UPDATE reseller_statement_lines SET amount_fen = amount_fen - 1 WHERE posting_id = (SELECT min(posting_id) FROM reseller_statement_lines)']]);
    expect(verdict).toMatchObject({ violations: 1, samples: [expect.stringContaining(SETTLED)] });
  });

  it('reports a 资质 document reviewed by its uploader or without a reason (a database that lost its CHECK)', async () => {
    const verdict = await verdictWith('qualifications_four_eyes', [
      ['ALTER TABLE supplier_qualifications DROP CONSTRAINT supplier_qualifications_four_eyes'],
      ['UPDATE supplier_qualifications SET reviewed_by = uploaded_by WHERE id = ?', [books.documentId]],
    ], [
      ['UPDATE supplier_qualifications q SET reviewed_by = (SELECT actor_user_id FROM audit_log WHERE action = ? AND subject_id = q.id::text) WHERE id = ?', ['compliance.approve', books.documentId]],
      ['ALTER TABLE supplier_qualifications ADD CONSTRAINT supplier_qualifications_four_eyes CHECK (reviewed_by IS NULL OR uploaded_by IS NULL OR reviewed_by <> uploaded_by)'],
    ]);
    expect(verdict).toMatchObject({ violations: 1, samples: [`document ${books.documentId}: reviewed by its uploader`] });
  });

  it("reports an offer whose current cost version is not its cost, or whose versions overlap", async () => {
    const { supplierId, sku } = books.offer;
    const verdict = await verdictWith('offer_cost_versions', [
      ['UPDATE supplier_offers SET cost_fen = cost_fen + 1 WHERE supplier_id = ? AND sku_code = ?', [supplierId, sku]],
      ["UPDATE supplier_offer_costs SET valid_to = valid_to + interval '1 hour' WHERE supplier_id = ? AND sku_code = ? AND valid_to IS NOT NULL", [supplierId, sku]],
    ], [
      ['UPDATE supplier_offers SET cost_fen = cost_fen - 1 WHERE supplier_id = ? AND sku_code = ?', [supplierId, sku]],
      ["UPDATE supplier_offer_costs SET valid_to = valid_to - interval '1 hour' WHERE supplier_id = ? AND sku_code = ? AND valid_to IS NOT NULL", [supplierId, sku]],
    ]);
    expect(verdict).toMatchObject({ violations: 1, samples: [expect.stringMatching(/differs from the offer cost .*overlapping cost versions/)] });
  });

  it('reports a price below cost that was not forced', async () => {
    const verdict = await verdictWith('prices_above_cost', [
      ["UPDATE audit_log SET action = 'price.set' WHERE action = 'price.set_below_cost' AND subject_id = ?", [books.offer.sku]],
    ], [
      ["UPDATE audit_log SET action = 'price.set_below_cost' WHERE action = 'price.set' AND subject_id = ? AND details ->> 'forced' = 'true'", [books.offer.sku]],
    ]);
    expect(verdict).toMatchObject({ violations: 1, samples: [expect.stringContaining('below cost, not forced')] });
  });
});

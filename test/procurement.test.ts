import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { procurementWorkflowId } from '../workflows/procurement.ts';
import { stockLevels } from '../src/inventory/stock.ts';
import { accountCode } from '../src/ledger/accounts.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';
import { startWorkerProcess } from './support/worker-process.ts';
import { cardSku, openWorld, supplierCode, type World } from './support/world.ts';

let h: Harness;
let world: World;
const A = supplierCode('alpha');
const B = supplierCode('beta');
const EXPIRED = supplierCode('expired');

beforeAll(async () => {
  h = await openHarness();
  await h.ledger.openPlatformAccounts();
  world = await openWorld(h, [
    { code: EXPIRED, products: [{ sku: 'E-QQ', costFen: 9_000, kind: 'card_batch' }], authorisations: { 腾讯: '2025-12-31' } },
    { code: A, products: [{ sku: 'A-QQ', costFen: 9_400, kind: 'card_batch' }], authorisations: { 腾讯: '2030-12-31' } },
    { code: B, products: [{ sku: 'B-QQ', costFen: 9_500, kind: 'card_batch' }], authorisations: { 腾讯: '2030-12-31' } },
  ]);
});
afterAll(async () => {
  await world.stop();
  await h.close();
});

/** A QQ card SKU offered by all three suppliers; the expired one is cheapest and first by priority. */
async function qqSku(batch = 20) {
  const sku = await cardSku(h, '腾讯', { batch, threshold: 5 });
  await h.deps.suppliers.setOffer({ supplierId: world.suppliers[EXPIRED]!.id, sku: sku.code, supplierSku: 'E-QQ', costFen: 9_000, priority: 1 });
  await h.deps.suppliers.setOffer({ supplierId: world.suppliers[A]!.id, sku: sku.code, supplierSku: 'A-QQ', costFen: 9_400, priority: 10 });
  await h.deps.suppliers.setOffer({ supplierId: world.suppliers[B]!.id, sku: sku.code, supplierSku: 'B-QQ', costFen: 9_500, priority: 20 });
  return sku.code;
}

const procure = (sku: string, taskQueue = h.taskQueue, workflowId = uniq('procure')) =>
  h.client.workflow.execute('procureStock', { taskQueue, workflowId, args: [{ sku, reason: 'on_demand', pollIntervalMs: 100 }] });

const available = async (sku: string) => (await stockLevels(h.db)).find((l) => l.sku === sku)!.available;
const procurementOrdersAt = (code: string) => [...world.sim.supplier(code).orders.values()].filter((o) => o.requestId.includes('procure'));

describe('procurement', () => {
  it('buys a batch from the best qualified supplier, stocks the codes and posts the payable', async () => {
    const sku = await qqSku(20);
    const payableBefore = await h.ledger.balance(accountCode.supplierPayable(world.suppliers[A]!.id));
    const result = await procure(sku);

    expect(result).toMatchObject({ sku, supplierCode: A, imported: 20, totalCostFen: 20 * 9_400 });
    expect(await available(sku)).toBe(20);
    const entry = await h.ledger.entry(`procurement:${result.requestId}`);
    expect(entry!.postings).toEqual([
      { account: accountCode.platform('inventory'), amount: 188_000, currency: 'CNY' },
      { account: accountCode.supplierPayable(world.suppliers[A]!.id), amount: -188_000, currency: 'CNY' },
    ]);
    expect(await h.ledger.balance(accountCode.supplierPayable(world.suppliers[A]!.id))).toBe(payableBefore + 188_000);
    const run = await h.db('procurement_runs').where({ request_id: result.requestId }).first();
    expect(run).toMatchObject({ status: 'succeeded', batch_id: result.batchId });
  });

  it('never uses a supplier whose brand authorisation has expired', async () => {
    const sku = await qqSku(5);
    const before = world.sim.supplier(EXPIRED).orders.size;
    const result = await procure(sku);
    expect(result.supplierCode).toBe(A);
    expect(world.sim.supplier(EXPIRED).orders.size).toBe(before);
  });

  it('falls over to the next supplier when one cannot deliver', async () => {
    const sku = await qqSku(5);
    world.sim.configure(A, { outOfStock: true });
    try {
      const result = await procure(sku);
      expect(result.supplierCode).toBe(B);
      const run = await h.db('procurement_runs').where({ request_id: result.requestId }).first();
      expect(run.failures).toEqual([expect.objectContaining({ supplierCode: A, reason: expect.stringMatching(/OUT_OF_STOCK/) })]);
    } finally {
      world.sim.configure(A, { outOfStock: false });
    }
  });

  it('fails with every supplier named when none can deliver, and posts nothing', async () => {
    const sku = await qqSku(5);
    world.sim.configure(A, { outOfStock: true });
    world.sim.configure(B, { outOfStock: true });
    try {
      const error = await procure(sku).catch((e) => e);
      expect(error).toBeInstanceOf(WorkflowFailedError);
      expect(error.cause.message).toMatch(new RegExp(`${A}: .*OUT_OF_STOCK.*; ${B}: .*OUT_OF_STOCK`));
      expect(await available(sku)).toBe(0);
    } finally {
      world.sim.configure(A, { outOfStock: false });
      world.sim.configure(B, { outOfStock: false });
    }
  });

  it('finishes after its worker process is killed mid-run, without buying twice', async () => {
    const sku = await qqSku(30);
    const taskQueue = uniq('procurement-crash');
    world.sim.configure(A, { asyncCompletionMs: 3_000 });
    let worker = await startWorkerProcess({ taskQueue, masterKeyHex: h.masterKeyHex });
    try {
      const workflowId = uniq('procure-crash');
      const handle = await h.client.workflow.start('procureStock', { taskQueue, workflowId, args: [{ sku, reason: 'on_demand', pollIntervalMs: 200 }] });
      // wait until the supplier has the order, then kill the worker while it waits for delivery
      const deadline = Date.now() + 30_000;
      while (!procurementOrdersAt(A).some((o) => o.requestId.startsWith(workflowId))) {
        if (Date.now() > deadline) throw new Error('the supplier never got the order');
        await new Promise((r) => setTimeout(r, 50));
      }
      await worker.kill();
      worker = await startWorkerProcess({ taskQueue, masterKeyHex: h.masterKeyHex });
      const result = await handle.result();

      expect(result.imported).toBe(30);
      expect(procurementOrdersAt(A).filter((o) => o.requestId.startsWith(workflowId))).toHaveLength(1);
      expect(await available(sku)).toBe(30);
      const entries = await h.db('ledger_entries').where('idempotency_key', 'like', `procurement:${workflowId}%`);
      expect(entries).toHaveLength(1);
    } finally {
      world.sim.configure(A, { asyncCompletionMs: 50 });
      await worker.kill();
    }
  });

  it('starts one procurement per low-stock SKU from the stock check, and not a second while one runs', async () => {
    const sku = await qqSku(10);
    world.sim.configure(A, { asyncCompletionMs: 3_000 });
    try {
      const first = await h.client.workflow.execute('stockCheck', { taskQueue: h.taskQueue, workflowId: uniq('stock-check') });
      expect(first.started).toContain(sku);
      expect(first.alreadyRunning).not.toContain(sku);
      // the supplier takes 3 s to deliver: the procurement is still running at the second check
      const second = await h.client.workflow.execute('stockCheck', { taskQueue: h.taskQueue, workflowId: uniq('stock-check') });
      expect(second.alreadyRunning).toContain(sku);
      expect(second.started).not.toContain(sku);
      await h.client.workflow.getHandle(procurementWorkflowId(sku)).result();
    } finally {
      world.sim.configure(A, { asyncCompletionMs: 50 });
    }
    expect(await available(sku)).toBe(10);
  });

  it('keeps a row per Temporal run: a second procurement under the same workflow id does not show the first one\'s outcome', async () => {
    const sku = await qqSku(5);
    const workflowId = procurementWorkflowId(sku);
    world.sim.configure(A, { outOfStock: true });
    world.sim.configure(B, { outOfStock: true });
    try {
      await expect(procure(sku, h.taskQueue, workflowId)).rejects.toBeInstanceOf(WorkflowFailedError);
    } finally {
      world.sim.configure(A, { outOfStock: false });
      world.sim.configure(B, { outOfStock: false });
    }
    const second = h.client.workflow.start('procureStock', { taskQueue: h.taskQueue, workflowId, args: [{ sku, reason: 'on_demand', pollIntervalMs: 100 }] });
    await (await second).result();
    const rows = await h.db('procurement_runs').where({ workflow_id: workflowId }).orderBy('id');
    expect(rows.map((r) => r.status)).toEqual(['failed', 'succeeded']);
    expect(new Set(rows.map((r) => r.temporal_run_id)).size).toBe(2);
    expect(rows[1]).toMatchObject({ temporal_run_id: (await second).firstExecutionRunId, quantity: 5 });
  });
});

describe('a delivery with bad codes (duplicate, already received, expired)', () => {
  it('stocks the good codes, quarantines the bad ones with the reason, owes the supplier the whole delivery and claims the bad codes back', async () => {
    const sku = await qqSku(10);
    const supplierId = world.sim && (await h.deps.suppliers.byCode(A)).id;
    await procure(sku); // an earlier delivery: the supplier will resell one of its codes
    world.sim.configure(A, { resoldCodesPerBatch: 1, expiredCodesPerBatch: 1, duplicateCodesPerBatch: 1 });
    let result;
    try {
      result = await procure(sku);
    } finally {
      world.sim.configure(A, { resoldCodesPerBatch: 0, expiredCodesPerBatch: 0, duplicateCodesPerBatch: 0 });
    }

    expect(result).toMatchObject({ supplierCode: A, imported: 7, quarantined: 3, totalCostFen: 10 * 9_400 });
    expect(await available(sku)).toBe(10 + 7);
    const quarantined = await h.db('card_quarantine').where({ batch_id: result.batchId }).orderBy('line');
    expect(quarantined.map((q) => [q.line, q.reason])).toEqual([[1, 'already_received'], [2, 'expired'], [10, 'duplicate_in_delivery']]);
    expect(quarantined[2].detail).toBe('code: duplicate of the code on line 3');
    // we owe the whole delivery; the bad codes' cost waits in adjustments for the claim
    const entry = await h.ledger.entry(`procurement:${result.requestId}`);
    expect(entry!.postings).toEqual([
      { account: accountCode.platform('inventory'), amount: 7 * 9_400, currency: 'CNY' },
      { account: accountCode.platform('adjustments'), amount: 3 * 9_400, currency: 'CNY' },
      { account: accountCode.supplierPayable(supplierId), amount: -10 * 9_400, currency: 'CNY' },
    ]);
    expect(await h.db('supplier_claims').where({ card_batch_id: result.batchId })).toEqual([
      expect.objectContaining({ source: 'card_quarantine', case_id: null, supplier_id: supplierId, amount_fen: 3 * 9_400, status: 'open' }),
    ]);
    const run = await h.db('procurement_runs').where({ request_id: result.requestId }).first();
    expect(run).toMatchObject({ status: 'succeeded', quarantined: 3, total_cost_fen: 10 * 9_400 });
  });

  it('closes the run row as failed when the delivery cannot be received', async () => {
    const sku = await qqSku(5);
    // a SKU that stops being a card SKU while its batch is on the way cannot take the codes
    world.sim.configure(A, { asyncCompletionMs: 1_500 });
    const workflowId = uniq('procure-unreceivable');
    try {
      const handle = await h.client.workflow.start('procureStock', { taskQueue: h.taskQueue, workflowId, args: [{ sku, reason: 'on_demand', pollIntervalMs: 100 }] });
      await new Promise((r) => setTimeout(r, 500));
      await h.db('skus').where({ code: sku }).update({ kind: 'direct_topup' });
      await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    } finally {
      world.sim.configure(A, { asyncCompletionMs: 50 });
    }
    const run = await h.db('procurement_runs').where({ workflow_id: workflowId }).first();
    expect(run.status).toBe('failed');
    expect(run.failures.at(-1)).toMatchObject({ supplierCode: A, reason: expect.stringMatching(/^delivered, not received: .*direct top-up/s) });
  });
});

import fs from 'node:fs/promises';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountCode } from '../src/ledger/accounts.ts';
import { openHarness, type Harness } from './support/harness.ts';
import { historyToJSON } from './support/history-json.ts';
import { openWorld, supplierCode, type World } from './support/world.ts';

/**
 * Records the histories the replay test (test/replay.test.ts) replays against today's workflow
 * code, into fixtures/histories/<workflowType>-<scenario>.json. Run it with the code as deployed,
 * before changing a workflow:
 *   KAMENG_RECORD_HISTORIES=1 npx vitest run test/record-recon-histories.test.ts
 */
const recording = process.env.KAMENG_RECORD_HISTORIES === '1';
const OUT = path.join(import.meta.dirname, '..', 'fixtures', 'histories');

async function save(handle: WorkflowHandle, workflowType: string, scenario: string): Promise<void> {
  const history = await handle.fetchHistory();
  await fs.mkdir(OUT, { recursive: true });
  await fs.writeFile(path.join(OUT, `${workflowType}-${scenario}.json`), `${historyToJSON(history)}\n`);
}

describe.skipIf(!recording)('recording reconciliation and settlement histories', () => {
  let h: Harness;
  let world: World;
  // a supplier per scenario: their statements are all empty, and one supplier's empty statements of two days collided
  const codes = ['wait', 'late', 'never', 'daily'].map((label) => supplierCode(`hist-${label}`));
  beforeAll(async () => {
    h = await openHarness({ freshDatabase: true });
    await h.ledger.openPlatformAccounts();
    world = await openWorld(h, codes.map((code) => ({ code, products: [{ sku: 'CM50', costFen: 4_850, kind: 'topup' as const }], authorisations: {}, statementFormat: 'csv' as const })));
  });
  afterAll(async () => {
    await world.stop();
    await h.close();
  });

  it('a reconciliation still waiting for its statement', async () => {
    const code = codes[0]!;
    world.sim.configure(code, { statementsBeforeDayEnd: true, statementNotReadyResponses: 1_000 });
    const handle = await h.client.workflow.start('reconcileSupplierDay', {
      taskQueue: h.taskQueue, workflowId: `recon-${code}-2026-11-20`,
      args: [{ supplierCode: code, date: '2026-11-20', triggeredBy: 'schedule', pollMs: 300, maxWaitMs: 3_600_000 }],
    });
    await expect.poll(async () => (await handle.fetchHistory()).events?.filter((e) => e.timerStartedEventAttributes).length ?? 0, { timeout: 20_000 }).toBeGreaterThanOrEqual(3);
    await save(handle, 'reconcileSupplierDay', 'waiting');
    await handle.terminate('recorded');
  });

  it('a reconciliation that waited, then fetched the published statement', async () => {
    const code = codes[1]!;
    world.sim.configure(code, { statementsBeforeDayEnd: true, statementNotReadyResponses: 2 });
    // not empty: this supplier's empty statement of another day would collide with it (issue 16, item 9)
    world.sim.plant(code, '2026-11-21', { extraLines: 1 });
    const handle = await h.client.workflow.start('reconcileSupplierDay', {
      taskQueue: h.taskQueue, workflowId: `recon-${code}-2026-11-21`,
      args: [{ supplierCode: code, date: '2026-11-21', triggeredBy: 'schedule', pollMs: 200, maxWaitMs: 60_000 }],
    });
    await handle.result();
    await save(handle, 'reconcileSupplierDay', 'published-after-wait');
  });

  it('a reconciliation that gave up waiting', async () => {
    const code = codes[2]!;
    world.sim.configure(code, { statementsBeforeDayEnd: true, statementNotReadyResponses: 1_000 });
    const handle = await h.client.workflow.start('reconcileSupplierDay', {
      taskQueue: h.taskQueue, workflowId: `recon-${code}-2026-11-22`,
      args: [{ supplierCode: code, date: '2026-11-22', triggeredBy: 'schedule', pollMs: 200, maxWaitMs: 700 }],
    });
    await expect(handle.result()).rejects.toThrow();
    await save(handle, 'reconcileSupplierDay', 'gave-up');
  });

  it('the nightly reconciliation of every supplier', async () => {
    for (const code of codes) world.sim.configure(code, { statementsBeforeDayEnd: true, statementNotReadyResponses: 1 });
    const handle = await h.client.workflow.start('dailyReconciliation', {
      taskQueue: h.taskQueue, workflowId: 'daily-recon-2026-11-23', args: [{ date: '2026-11-23', pollMs: 200, maxWaitMs: 60_000 }],
    });
    await handle.result();
    await save(handle, 'dailyReconciliation', 'completed');
  });

  it('a settlement catching up two days', async () => {
    const { reseller } = await h.deps.resellers.create({ code: 'hist-shop', name: '历史小店 History shop', tier: 'default' });
    for (const day of ['2026-11-20', '2026-11-21']) {
      await h.deps.resellers.topUpWallet(reseller.id, 10_000, `bank-${day}`, { valueDate: day });
      await h.ledger.post({
        idempotencyKey: `hist-sale-${day}`, kind: 'order_sale', businessDate: day,
        postings: [{ account: accountCode.resellerWallet(reseller.id), amount: 5_000 }, { account: accountCode.platform('revenue'), amount: -5_000 }],
      });
    }
    const handle = await h.client.workflow.start('dailySettlement', { taskQueue: h.taskQueue, workflowId: 'settle-2026-11-21', args: [{ date: '2026-11-21', actor: 'schedule' }] });
    await handle.result();
    await save(handle, 'dailySettlement', 'caught-up');
  });
});

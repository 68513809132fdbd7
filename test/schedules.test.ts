import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { ensureSchedules } from '../src/runtime/schedules.ts';
import { openHarness, type Harness } from './support/harness.ts';

let h: Harness;
const config = loadConfig();
const IDS = ['kameng-stock-check', 'kameng-supplier-recon', 'kameng-reseller-settlement', 'kameng-housekeeping', 'kameng-alerts'];

beforeAll(async () => {
  h = await openHarness({ worker: false });
});
afterAll(async () => {
  for (const id of IDS) await h.client.schedule.getHandle(id).delete().catch(() => undefined);
  await h.close();
});

async function schedules() {
  const found: { id: string; workflowType?: string; cron?: string[] }[] = [];
  for (const id of IDS) {
    const d = await h.client.schedule.getHandle(id).describe().catch(() => undefined);
    if (d) found.push({ id, workflowType: d.action.type === 'startWorkflow' ? d.action.workflowType : undefined });
  }
  return found;
}

describe('ensureSchedules', () => {
  it('creates the stock check, supplier reconciliation, settlement, housekeeping and alert schedules once, and a second start changes nothing', async () => {
    const first = await ensureSchedules(h.client, config);
    expect(first).toHaveLength(5);
    expect(await schedules()).toEqual([
      { id: 'kameng-stock-check', workflowType: 'stockCheck' },
      { id: 'kameng-supplier-recon', workflowType: 'dailyReconciliation' },
      { id: 'kameng-reseller-settlement', workflowType: 'dailySettlement' },
      { id: 'kameng-housekeeping', workflowType: 'housekeeping' },
      { id: 'kameng-alerts', workflowType: 'evaluateAlerts' },
    ]);
    const stockCheck = await h.client.schedule.getHandle('kameng-stock-check').describe();
    expect(stockCheck.action).toMatchObject({ taskQueue: config.temporal.taskQueues.procurement });
    expect(stockCheck.spec.timezone).toBe(config.temporal.schedules.timeZone);

    // a restart: the same schedules, updated in place (a second create would be refused)
    expect(await ensureSchedules(h.client, config)).toEqual(first);
    expect((await h.client.schedule.getHandle('kameng-stock-check').describe()).spec).toEqual(stockCheck.spec);
    expect(await schedules()).toHaveLength(5);
  });

  it('creates each schedule once when two processes start at the same moment (the cluster topology runs two `kameng start`)', async () => {
    for (const id of IDS) await h.client.schedule.getHandle(id).delete().catch(() => undefined);
    const [a, b] = await Promise.all([ensureSchedules(h.client, config), ensureSchedules(h.client, config)]);
    expect(a).toEqual(b);
    // neither start failed on the other's create (a schedule id is unique: the loser updates in place)
    expect((await schedules()).map((s) => s.id)).toEqual(IDS);
  });
});

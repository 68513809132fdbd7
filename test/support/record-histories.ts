import fs from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { historyToJSON } from './history-json.ts';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountApis } from '../../src/api/mount.ts';
import { freePort } from '../../src/runtime/temporal-dev-server.ts';
import { signedHeaders } from '../../src/resellers/signature.ts';
import { openHarness, uniq, type Harness } from './harness.ts';
import { openWorld, supplierCode, type World } from './world.ts';

/**
 * Records workflow histories from today's code into fixtures/histories/<workflowType>-<scenario>.json,
 * for test/replay.test.ts to replay against every later version. Run `npm run record-histories`
 * BEFORE changing a workflow; commit the files. Set RECORD_ONLY=<scenario> to record only some.
 */
const dir = fileURLToPath(new URL('../../fixtures/histories/', import.meta.url));
const only = process.env.RECORD_ONLY?.split(',');
/** RECORD_TAG=<tag> names the files <workflowType>-<scenario>-<tag>.json, beside earlier versions' histories. */
const tag = process.env.RECORD_TAG ? `-${process.env.RECORD_TAG}` : '';
const scenario = (name: string) => (only && !only.includes(name) ? it.skip : it);

let h: Harness;
let world: World;
let api: http.Server;
let baseUrl: string;
const FAST = supplierCode('fast');
const SLOW = supplierCode('slow');

beforeAll(async () => {
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  h = await openHarness({ settings: { publicUrl: baseUrl } });
  await h.ledger.openPlatformAccounts();
  world = await openWorld(h, [
    { code: FAST, products: [{ sku: 'F-CM50', costFen: 4_880, kind: 'topup' }], authorisations: { 中国移动: '2030-12-31' } },
    { code: SLOW, products: [{ sku: 'S-CM50', costFen: 4_900, kind: 'topup' }], authorisations: { 中国移动: '2030-12-31' } },
  ]);
  const app = express();
  mountApis(app, h.deps, h.client, { fulfillment: h.taskQueue, procurement: h.taskQueue });
  api = app.listen(port, '127.0.0.1');
});
afterAll(async () => {
  api?.close();
  await world?.stop();
  await h?.close();
});

async function write(workflowId: string, file: string) {
  const history = await h.client.workflow.getHandle(workflowId).fetchHistory();
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, file.replace(/\.json$/, `${tag}.json`)), `${historyToJSON(history)}\n`);
}

/** A reseller with money, a top-up SKU offered by FAST then SLOW, and a placed order. */
async function placeTopUp(account: string): Promise<number> {
  const sku = await h.deps.catalog.createSku({ code: uniq('CM50').toUpperCase(), nameZh: '移动50', nameEn: 'CMCC 50', brand: '中国移动', kind: 'direct_topup', faceValueFen: 5_000, lowStockThreshold: 0, procurementBatch: 0 });
  await h.deps.catalog.setPrice({ sku: sku.code, tier: 'default', priceFen: 4_950 });
  await h.deps.suppliers.setOffer({ supplierId: world.suppliers[FAST]!.id, sku: sku.code, supplierSku: 'F-CM50', costFen: 4_880, priority: 10 });
  await h.deps.suppliers.setOffer({ supplierId: world.suppliers[SLOW]!.id, sku: sku.code, supplierSku: 'S-CM50', costFen: 4_900, priority: 20 });
  const { reseller, apiSecret } = await h.deps.resellers.create({ code: uniq('shop'), name: '录制店铺' });
  await h.deps.resellers.topUpWallet(reseller.id, 20_000, 'initial');
  const text = JSON.stringify({ resellerOrderId: uniq('R'), sku: sku.code, account });
  const res = await fetch(`${baseUrl}/api/v1/orders`, { method: 'POST', body: text, headers: signedHeaders({ apiKey: reseller.apiKey, apiSecret }, 'POST', '/api/v1/orders', text) });
  expect(res.status).toBe(201);
  return ((await res.json()) as any).order.orderNo;
}

const statusOf = async (orderId: number) => (await h.db('orders').where({ id: orderId }).first()).status;

describe('fulfillTopUp', () => {
  scenario('completed')('completed: the supplier calls back SUCCESS', async () => {
    const orderId = await placeTopUp('13800138000');
    expect(((await h.client.workflow.getHandle(`topup-${orderId}`).result()) as any).status).toBe('succeeded');
    await write(`topup-${orderId}`, 'fulfillTopUp-completed.json');
  });

  scenario('refunded')('refunded: every supplier fails', async () => {
    world.sim.configure(FAST, { failRate: 1 });
    world.sim.configure(SLOW, { failRate: 1 });
    try {
      const orderId = await placeTopUp('13800138002');
      expect(((await h.client.workflow.getHandle(`topup-${orderId}`).result()) as any).status).toBe('refunded');
      await write(`topup-${orderId}`, 'fulfillTopUp-refunded.json');
    } finally {
      world.sim.configure(FAST, { failRate: 0 });
      world.sim.configure(SLOW, { failRate: 0 });
    }
  });

  scenario('stuck')('stuck: the supplier never answers; the workflow waits for ops (still running)', async () => {
    world.sim.configure(FAST, { silentAccounts: ['13300000000'] });
    const orderId = await placeTopUp('13300000000');
    await expect.poll(() => statusOf(orderId), { timeout: 30_000 }).toBe('stuck');
    // the workflow task that follows markStuck is in the history once the query answers stuck
    await expect.poll(async () => ((await h.client.workflow.getHandle(`topup-${orderId}`).query('state')) as any).stuck, { timeout: 10_000 }).toBe(true);
    await write(`topup-${orderId}`, 'fulfillTopUp-stuck.json');
  });

  scenario('stuck-resolved')('stuck-resolved: stuck, then the supplier calls back SUCCESS late', async () => {
    world.sim.configure(FAST, { silentAccounts: ['13300000000'] });
    const orderId = await placeTopUp('13300000000');
    await expect.poll(() => statusOf(orderId), { timeout: 30_000 }).toBe('stuck');
    await expect.poll(async () => ((await h.client.workflow.getHandle(`topup-${orderId}`).query('state')) as any).stuck, { timeout: 10_000 }).toBe(true);
    await world.sim.finish(FAST, `kameng-${orderId}-1`, 'SUCCESS');
    await h.client.workflow.getHandle(`topup-${orderId}`).result();
    expect(await statusOf(orderId)).toBe('succeeded');
    await write(`topup-${orderId}`, 'fulfillTopUp-stuck-resolved.json');
  });

  scenario('stuck-retried')('stuck-retried: stuck, then an ops retry completes it', async () => {
    world.sim.configure(FAST, { asyncCompletionMs: Infinity });
    let orderId: number;
    try {
      orderId = await placeTopUp('13800138003');
      await expect.poll(() => statusOf(orderId), { timeout: 30_000 }).toBe('stuck');
      await expect.poll(async () => ((await h.client.workflow.getHandle(`topup-${orderId}`).query('state')) as any).stuck, { timeout: 10_000 }).toBe(true);
    } finally {
      world.sim.configure(FAST, { asyncCompletionMs: 50 });
    }
    const state: any = await h.client.workflow.getHandle(`topup-${orderId!}`).executeUpdate('opsAction', { args: [{ action: 'retry', actor: 'ops.li', reason: 'supplier asked to retry' }] });
    expect(state.status).toBe('succeeded');
    await h.client.workflow.getHandle(`topup-${orderId!}`).result();
    await write(`topup-${orderId!}`, 'fulfillTopUp-stuck-retried.json');
  });

  scenario('stuck-refunded')('stuck-refunded: stuck, then ops refund it', async () => {
    world.sim.configure(FAST, { silentAccounts: ['13300000000'] });
    const orderId = await placeTopUp('13300000000');
    await expect.poll(() => statusOf(orderId), { timeout: 30_000 }).toBe('stuck');
    await expect.poll(async () => ((await h.client.workflow.getHandle(`topup-${orderId}`).query('state')) as any).stuck, { timeout: 10_000 }).toBe(true);
    const state: any = await h.client.workflow.getHandle(`topup-${orderId}`).executeUpdate('opsAction', { args: [{ action: 'refund', actor: 'ops.li', reason: 'customer gave up' }] });
    expect(state.status).toBe('refunded');
    await h.client.workflow.getHandle(`topup-${orderId}`).result();
    await write(`topup-${orderId}`, 'fulfillTopUp-stuck-refunded.json');
  });
});

describe('housekeeping', () => {
  scenario('housekeeping')('housekeeping: nonces pruned (before it resumed stranded top-ups)', async () => {
    const workflowId = uniq('housekeeping');
    await h.client.workflow.execute('housekeeping', { taskQueue: h.taskQueue, workflowId });
    await write(workflowId, 'housekeeping-pruned.json');
  });
});

import type http from 'node:http';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountApis } from '../src/api/mount.ts';
import { DEFAULT_OPERATIONS } from '../src/config.ts';
import { signedHeaders } from '../src/resellers/signature.ts';
import { freePort } from '../src/runtime/temporal-dev-server.ts';
import type { TopUpState } from '../src/fulfillment/types.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';
import { openWorld, supplierCode, type World } from './support/world.ts';

/**
 * Issue 21, end to end: "routing picks suppliers by a fixed priority even while one of them fails
 * every call". Real top-up workflows on a real worker: once the first supplier has failed, new
 * top-ups go to the healthy one first (the breaker, which also stops probes and failovers to it, is
 * tested in routing-health.test.ts).
 */
let h: Harness;
let world: World;
let api: http.Server;
let baseUrl: string;
const FAILING = supplierCode('failing');
const HEALTHY = supplierCode('healthy');

beforeAll(async () => {
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  h = await openHarness({
    settings: { publicUrl: baseUrl },
    operations: { ...DEFAULT_OPERATIONS, routing: { ...DEFAULT_OPERATIONS.routing, windowMs: 120_000, minCalls: 3, failurePct: 50, cooldownMs: 120_000 } },
  });
  await h.ledger.openPlatformAccounts();
  world = await openWorld(h, [
    { code: FAILING, products: [{ sku: 'F-CM50', costFen: 4_880, kind: 'topup' }], authorisations: { 中国移动: '2030-12-31' } },
    { code: HEALTHY, products: [{ sku: 'H-CM50', costFen: 4_900, kind: 'topup' }], authorisations: { 中国移动: '2030-12-31' } },
  ]);
  world.sim.configure(FAILING, { failRate: 1 });
  const app = express();
  mountApis(app, h.deps, h.client, { fulfillment: h.taskQueue, procurement: h.taskQueue });
  api = app.listen(port, '127.0.0.1');
});
afterAll(async () => {
  api.close();
  await world.stop();
  await h.close();
});

describe('top-ups with supplier health routing', () => {
  it('tries a supplier that fails every call after the healthy one, from the first failure on', async () => {
    const sku = await h.deps.catalog.createSku({ code: uniq('CM50').toUpperCase(), nameZh: '移动50', nameEn: 'CMCC 50', brand: '中国移动', kind: 'direct_topup', faceValueFen: 5_000, lowStockThreshold: 0, procurementBatch: 0 });
    await h.deps.catalog.setPrice({ sku: sku.code, tier: 'default', priceFen: 4_950 });
    await h.deps.suppliers.setOffer({ supplierId: world.suppliers[FAILING]!.id, sku: sku.code, supplierSku: 'F-CM50', costFen: 4_880, priority: 10 });
    await h.deps.suppliers.setOffer({ supplierId: world.suppliers[HEALTHY]!.id, sku: sku.code, supplierSku: 'H-CM50', costFen: 4_900, priority: 20 });
    const { reseller, apiSecret } = await h.deps.resellers.create({ code: uniq('shop'), name: '测试店铺' });
    await h.deps.resellers.topUpWallet(reseller.id, 100_000, 'initial');

    const tried: string[][] = [];
    for (let i = 0; i < 6; i++) {
      const text = JSON.stringify({ resellerOrderId: uniq('T'), sku: sku.code, account: `1390000${String(i).padStart(4, '0')}` });
      const res = await fetch(`${baseUrl}/api/v1/orders`, { method: 'POST', body: text, headers: signedHeaders({ apiKey: reseller.apiKey, apiSecret }, 'POST', '/api/v1/orders', text) });
      expect(res.status).toBe(201);
      const id = ((await res.json()) as { order: { orderNo: number } }).order.orderNo;
      const state = (await h.client.workflow.getHandle(`topup-${id}`).result()) as TopUpState;
      expect(state.status).toBe('succeeded');
      tried.push(state.attempts.map((a) => (a.supplierCode === FAILING ? 'failing' : 'healthy')));
    }
    // the first fails over from the failing supplier; from then on its record (100 % failed) puts it
    // behind the healthy one, whose priority it had beaten
    expect(tried).toEqual([['failing', 'healthy'], ['healthy'], ['healthy'], ['healthy'], ['healthy'], ['healthy']]);
  });
});

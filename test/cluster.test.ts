import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl } from '../cluster/plan.ts';
import { readState, running, type ClusterState } from '../cluster/topology.ts';
import { startSupplierSimulator, type SupplierSimulator } from '../fixtures/supplier-simulator/server.ts';
import { loadConfig } from '../src/config.ts';
import { deriveKeys } from '../src/crypto/keys.ts';
import { businessDateOf } from '../src/dates.ts';
import { createDb, type Db } from '../src/db/knex.ts';
import { startReconciliation } from '../src/reconciliation/trigger.ts';
import { signedHeaders } from '../src/resellers/signature.ts';
import { buildDeps } from '../src/runtime/deps.ts';
import type { ActivityDeps } from '../src/runtime/deps.ts';

/**
 * The production topology (`npm run cluster -- up`): a Temporal server on PostgreSQL, two
 * `kameng start --no-demo`, two `kameng worker`. Skipped unless that cluster is up, so the usual
 * suite stays on the dev server and fast.
 */
const config = loadConfig();
const state: ClusterState | undefined = await readState(config.clusterDir);
const up = state !== undefined && running(state).length === state.processes.length;

describe.skipIf(!up)('the cluster topology', () => {
  let db: Db;
  let deps: ActivityDeps;
  let sim: SupplierSimulator;
  let connection: Connection;
  let client: Client;
  const code = `cluster-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    const plan = state!.plan;
    db = createDb(databaseUrl(plan, plan.databases.kameng), { poolMax: 4 });
    deps = buildDeps(db, deriveKeys(Buffer.from(plan.masterKeyHex, 'hex')), { ...config.fulfillment, publicUrl: state!.apiUrls[0]! }, config.reconciliation);
    sim = await startSupplierSimulator({
      suppliers: [{ code, name: `${code} 供应商`, apiKey: `${code}-key`, callbackSecret: `${code}-cb`, balanceFen: 100_000_000, statementFormat: 'csv', products: [{ sku: 'CL-CM50', costFen: 4_880, kind: 'topup' }] }],
    });
    sim.configure(code, { statementsBeforeDayEnd: true });
    const supplier = await deps.suppliers.upsert({ code, name: `${code} 供应商`, apiBaseUrl: sim.baseUrl(code), apiKey: `${code}-key`, callbackSecret: `${code}-cb`, statementFormat: 'csv' });
    await deps.suppliers.addQualification({ supplierId: supplier.id, kind: 'business_licence', documentNo: `BL-${code}`, validFrom: '2020-01-01', expiresOn: '2035-12-31' });
    await deps.suppliers.addQualification({ supplierId: supplier.id, kind: 'brand_authorisation', brand: '中国移动', documentNo: `AU-${code}`, validFrom: '2020-01-01', expiresOn: '2035-12-31' });
    await deps.catalog.createSku({ code: code.toUpperCase(), nameZh: '移动50', nameEn: 'CMCC 50', brand: '中国移动', kind: 'direct_topup', faceValueFen: 5_000, lowStockThreshold: 0, procurementBatch: 0 });
    await deps.catalog.setPrice({ sku: code.toUpperCase(), tier: 'default', priceFen: 4_950 });
    await deps.suppliers.setOffer({ supplierId: supplier.id, sku: code.toUpperCase(), supplierSku: 'CL-CM50', costFen: 4_880, priority: 10 });
    connection = await Connection.connect({ address: state!.temporalAddress });
    client = new Client({ connection, namespace: state!.plan.namespace });
  });
  afterAll(async () => {
    await connection?.close();
    await sim?.stop();
    await db?.destroy();
  });

  it('tops up a phone through the second API process, fulfilled by the cluster\'s workers, and reconciles the supplier\'s day with nothing to chase', async () => {
    const { reseller, apiSecret } = await deps.resellers.create({ code: `shop-${code}`, name: '集群测试店铺 cluster shop' });
    await deps.resellers.topUpWallet(reseller.id, 20_000, `cluster-test-${code}`);
    const body = JSON.stringify({ resellerOrderId: `T-${code}`, sku: code.toUpperCase(), account: '13900001111' });
    const res = await fetch(`${state!.apiUrls[1]}/api/v1/orders`, { method: 'POST', body, headers: signedHeaders({ apiKey: reseller.apiKey, apiSecret }, 'POST', '/api/v1/orders', body) });
    expect(res.status).toBe(201);
    const orderId = ((await res.json()) as { order: { orderNo: number } }).order.orderNo;
    await expect.poll(async () => (await db('orders').where({ id: orderId }).first()).status, { timeout: 90_000, interval: 500 }).toBe('succeeded');

    const date = businessDateOf(new Date());
    const handle = await startReconciliation(client, config, { supplierCode: code, date, triggeredBy: 'cluster-test' });
    const summary = await handle.result();
    expect(summary).toMatchObject({ supplierCode: code, date, lines: 1 });
    expect(Object.entries(summary.counts).filter(([c, n]) => c !== 'matched' && n!.items > 0)).toEqual([]);
  }, 180_000);
});

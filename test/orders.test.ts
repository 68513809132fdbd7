import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountApis } from '../src/api/mount.ts';
import { callbackSignature } from '../src/callbacks/deliver.ts';
import { testStock } from './support/stock.ts';
import { importCardCodes } from '../src/inventory/import.ts';
import { accountCode } from '../src/ledger/accounts.ts';
import { freePort } from '../src/runtime/temporal-dev-server.ts';
import { signedHeaders } from '../src/resellers/signature.ts';
import { refOf } from '../src/users/actor.ts';
import { userActor } from './support/actors.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';
import { startWorkerProcess } from './support/worker-process.ts';
import { cardSku, openWorld, supplierCode, type World } from './support/world.ts';
import { opsActionUpdate, topUpWorkflowId } from '../workflows/fulfill-topup.ts';

let h: Harness;
let world: World;
let api: http.Server;
let baseUrl: string;
let receiver: http.Server;
let receiverUrl: string;
const received: { body: any; signature: string; timestamp: string }[] = [];
/** Reseller order ids whose first callback the reseller's endpoint answers with a 503. */
const refuseFirstCallback = new Set<string>();
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
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const resellerOrderId = JSON.parse(body).resellerOrderId;
      if (refuseFirstCallback.delete(resellerOrderId)) {
        res.writeHead(503).end();
        return;
      }
      received.push({ body: JSON.parse(body), signature: String(req.headers['x-kameng-signature']), timestamp: String(req.headers['x-kameng-timestamp']) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/notify`;
});
afterAll(async () => {
  api.close();
  receiver.close();
  await world.stop();
  await h.close();
});

async function reseller(topupFen: number) {
  const { reseller: r, apiSecret } = await h.deps.resellers.create({ code: uniq('shop'), name: '测试店铺', callbackUrl: receiverUrl });
  if (topupFen) await h.deps.resellers.topUpWallet(r.id, topupFen, 'initial');
  return { ...r, credentials: { apiKey: r.apiKey, apiSecret } };
}
type TestReseller = Awaited<ReturnType<typeof reseller>>;

async function call(r: TestReseller, method: 'GET' | 'POST', path: string, body?: unknown) {
  const text = body === undefined ? '' : JSON.stringify(body);
  const res = await fetch(`${baseUrl}${path}`, { method, body: method === 'POST' ? text : undefined, headers: signedHeaders(r.credentials, method, path, text) });
  return { status: res.status, body: (await res.json()) as any };
}

const wallet = (r: TestReseller) => h.ledger.balance(accountCode.resellerWallet(r.id));

async function topUpSku(priceFen = 4_950) {
  const sku = await h.deps.catalog.createSku({ code: uniq('CM50').toUpperCase(), nameZh: '移动50', nameEn: 'CMCC 50', brand: '中国移动', kind: 'direct_topup', faceValueFen: 5_000, lowStockThreshold: 0, procurementBatch: 0 });
  await h.deps.catalog.setPrice({ sku: sku.code, tier: 'default', priceFen });
  await h.deps.suppliers.setOffer({ supplierId: world.suppliers[FAST]!.id, sku: sku.code, supplierSku: 'F-CM50', costFen: 4_880, priority: 10 });
  await h.deps.suppliers.setOffer({ supplierId: world.suppliers[SLOW]!.id, sku: sku.code, supplierSku: 'S-CM50', costFen: 4_900, priority: 20 });
  return sku.code;
}

async function untilFinal(r: TestReseller, resellerOrderId: string, ms = 30_000) {
  const until = Date.now() + ms;
  for (;;) {
    const { body } = await call(r, 'GET', `/api/v1/orders/${resellerOrderId}`);
    if (['succeeded', 'refunded', 'stuck'].includes(body.order.status)) return body.order;
    if (Date.now() > until) throw new Error(`order ${resellerOrderId} still ${body.order.status}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

describe('card code orders', () => {
  it('delivers exactly 100 distinct codes to 200 concurrent orders for 100 codes, charging exactly 100 times', async () => {
    const sku = await cardSku(h, '腾讯', { priceFen: 9_800, threshold: 0, batch: 0 });
    async function* codes() {
      for (let i = 0; i < 100; i++) yield { line: i + 2, sku: sku.code, serial: `S${i}`, code: `RACE-${sku.code}-${i}`, expiresOn: '' };
    }
    await importCardCodes(h.db, h.deps.vault, { booking: testStock(h.ledger), batchKey: uniq('race'), sku: sku.code, unitCostFen: 9_400, source: 'file', fileName: 'race.csv', rows: codes() });
    const shops = await Promise.all(Array.from({ length: 4 }, () => reseller(1_000_000)));

    const results = await Promise.all(Array.from({ length: 200 }, (_, i) =>
      call(shops[i % 4]!, 'POST', '/api/v1/orders', { resellerOrderId: `race-${i}`, sku: sku.code, quantity: 1 })));

    const delivered = results.filter((r) => r.status === 201);
    expect(delivered).toHaveLength(100);
    expect(results.filter((r) => r.status === 409 && r.body.error.code === 'OUT_OF_STOCK')).toHaveLength(100);
    const deliveredCodes = delivered.map((r) => r.body.order.codes[0].code);
    expect(new Set(deliveredCodes).size).toBe(100);
    const charged = (await Promise.all(shops.map(wallet))).reduce((sum, b) => sum + (1_000_000 - b), 0);
    expect(charged).toBe(100 * 9_800);
    const sales = await h.db('ledger_entries').where({ kind: 'order_sale' }).whereRaw("metadata->>'sku' = ?", [sku.code]).count('* as n');
    expect(Number(sales[0]!.n)).toBe(100);
    const margin = await h.db('orders').where({ sku_code: sku.code }).sum('margin_fen as m');
    expect(Number(margin[0]!.m)).toBe(100 * (9_800 - 9_400));
  });

  it('returns the original order for a repeated order id, and refuses the same id for another order', async () => {
    const sku = await cardSku(h, '腾讯', { priceFen: 9_800 });
    async function* one() {
      yield { line: 2, sku: sku.code, serial: 'S1', code: `ONE-${sku.code}`, expiresOn: '' };
      yield { line: 3, sku: sku.code, serial: 'S2', code: `TWO-${sku.code}`, expiresOn: '' };
    }
    await importCardCodes(h.db, h.deps.vault, { booking: testStock(h.ledger), batchKey: uniq('b'), sku: sku.code, unitCostFen: 9_400, source: 'file', fileName: 'x.csv', rows: one() });
    const r = await reseller(50_000);
    const first = await call(r, 'POST', '/api/v1/orders', { resellerOrderId: 'A-1', sku: sku.code });
    const repeat = await call(r, 'POST', '/api/v1/orders', { resellerOrderId: 'A-1', sku: sku.code });
    expect(first.status).toBe(201);
    expect(repeat.status).toBe(200);
    expect(repeat.body).toMatchObject({ replayed: true, order: { orderNo: first.body.order.orderNo, codes: first.body.order.codes } });
    expect(await wallet(r)).toBe(50_000 - 9_800);
    const other = await call(r, 'POST', '/api/v1/orders', { resellerOrderId: 'A-1', sku: sku.code, quantity: 2 });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('IDEMPOTENCY_CONFLICT');
  });

  it('answers out of stock without charging, insufficient funds without delivering, and names bad input', async () => {
    const sku = await cardSku(h, '腾讯', { priceFen: 9_800 });
    const r = await reseller(5_000);
    expect((await call(r, 'POST', '/api/v1/orders', { resellerOrderId: 'E-1', sku: sku.code })).body.error.code).toBe('OUT_OF_STOCK');
    async function* one() { yield { line: 2, sku: sku.code, serial: 'S', code: `POOR-${sku.code}`, expiresOn: '' }; }
    await importCardCodes(h.db, h.deps.vault, { booking: testStock(h.ledger), batchKey: uniq('b'), sku: sku.code, unitCostFen: 9_400, source: 'file', fileName: 'x.csv', rows: one() });
    const poor = await call(r, 'POST', '/api/v1/orders', { resellerOrderId: 'E-2', sku: sku.code });
    expect(poor.status).toBe(402);
    expect(poor.body.error.message).toMatch(/insufficient funds .* available 5000 fen, this entry needs 9800 fen/);
    expect((await h.db('card_codes').where({ sku_code: sku.code, status: 'available' }).count('* as n'))[0]!.n).toBe(1);
    expect(await wallet(r)).toBe(5_000);
    const unknown = await call(r, 'POST', '/api/v1/orders', { resellerOrderId: 'E-3', sku: 'NO-SUCH' });
    expect([unknown.status, unknown.body.error.code]).toEqual([422, 'UNKNOWN_SKU']);
    const bad = await call(r, 'POST', '/api/v1/orders', { resellerOrderId: 'E 4!', sku: sku.code, quantity: 1.5, extra: 1 });
    expect(bad.status).toBe(422);
    expect(bad.body.error.message).toMatch(/resellerOrderId: must be 1-64 letters/);
    expect(bad.body.error.message).toMatch(/quantity/);
  });

  it('refuses a replayed request (same nonce) on the order endpoint without a second charge', async () => {
    const r = await reseller(10_000);
    const text = JSON.stringify({ resellerOrderId: 'N-1', sku: 'NO-SUCH' });
    const headers = signedHeaders(r.credentials, 'POST', '/api/v1/orders', text);
    await fetch(`${baseUrl}/api/v1/orders`, { method: 'POST', body: text, headers });
    const replay = await fetch(`${baseUrl}/api/v1/orders`, { method: 'POST', body: text, headers });
    expect(replay.status).toBe(409);
    expect(((await replay.json()) as any).error.code).toBe('REPLAYED_NONCE');
  });

  it('spends the nonce of a card order it refused: the replay is refused even once the order could go through', async () => {
    const sku = await cardSku(h, '网易', { priceFen: 1_000 });
    async function* two() { for (let i = 0; i < 2; i++) yield { line: i + 2, sku: sku.code, serial: `S${i}`, code: `SPENT-${sku.code}-${i}`, expiresOn: '' }; }
    await importCardCodes(h.db, h.deps.vault, { booking: testStock(h.ledger), batchKey: uniq('b'), sku: sku.code, unitCostFen: 900, source: 'file', fileName: 'x.csv', rows: two() });
    const r = await reseller(500);
    const send = (text: string, headers: Record<string, string>) => fetch(`${baseUrl}/api/v1/orders`, { method: 'POST', body: text, headers });
    const refusedText = JSON.stringify({ resellerOrderId: 'P-1', sku: sku.code });
    const refusedHeaders = signedHeaders(r.credentials, 'POST', '/api/v1/orders', refusedText);
    expect((await send(refusedText, refusedHeaders)).status).toBe(402);
    await h.deps.resellers.topUpWallet(r.id, 5_000, 'later');
    const replayOfRefused = await send(refusedText, refusedHeaders);
    expect([replayOfRefused.status, ((await replayOfRefused.json()) as any).error.code]).toEqual([409, 'REPLAYED_NONCE']);

    const placedText = JSON.stringify({ resellerOrderId: 'P-2', sku: sku.code });
    const placedHeaders = signedHeaders(r.credentials, 'POST', '/api/v1/orders', placedText);
    expect((await send(placedText, placedHeaders)).status).toBe(201);
    expect((await send(placedText, placedHeaders)).status).toBe(409);
    expect(await wallet(r)).toBe(5_500 - 1_000);
    expect(await h.db('orders').where({ reseller_id: r.id })).toHaveLength(1);
    expect(await h.db('api_nonces').where({ reseller_id: r.id })).toHaveLength(2);
  });
});

describe('direct top-ups', () => {
  it('completes through the supplier callback, books revenue, cost and payable, and tells the reseller', async () => {
    const sku = await topUpSku();
    const r = await reseller(20_000);
    const placed = await call(r, 'POST', '/api/v1/orders', { resellerOrderId: 'T-1', sku, account: '13800138000' });
    expect(placed.status).toBe(201);
    expect(placed.body.order.status).toBe('processing');
    expect(await wallet(r)).toBe(20_000 - 4_950);
    const order = await untilFinal(r, 'T-1');
    expect(order.status).toBe('succeeded');
    const complete = await h.ledger.entry(`order-complete:${order.orderNo}`);
    expect(complete!.postings).toEqual(expect.arrayContaining([
      { account: accountCode.platform('revenue'), amount: -4_950, currency: 'CNY' },
      { account: accountCode.supplierPayable(world.suppliers[FAST]!.id), amount: -4_880, currency: 'CNY' },
    ]));
    expect((await h.db('orders').where({ id: order.orderNo }).first()).margin_fen).toBe(70);
    await expect.poll(() => received.find((c) => c.body.orderNo === order.orderNo), { timeout: 10_000 }).toBeTruthy();
    const cb = received.find((c) => c.body.orderNo === order.orderNo)!;
    expect(cb.body.status).toBe('SUCCESS');
    expect(cb.signature).toBe(callbackSignature(r.credentials.apiSecret, cb.timestamp, JSON.stringify(cb.body)));
    // The delivery is logged once the reseller's answer is back, which can be just after it arrived here.
    await expect.poll(() => h.db('callback_deliveries').where({ order_id: order.orderNo, delivered: true }), { timeout: 10_000 }).toHaveLength(1);
  });

  it('tells the reseller again, later, when its endpoint refuses the first callback, logging both attempts', async () => {
    const sku = await topUpSku();
    const r = await reseller(20_000);
    refuseFirstCallback.add('T-CB');
    expect((await call(r, 'POST', '/api/v1/orders', { resellerOrderId: 'T-CB', sku, account: '13800138001' })).status).toBe(201);
    const order = await untilFinal(r, 'T-CB');
    await expect.poll(() => h.db('callback_deliveries').where({ order_id: order.orderNo, delivered: true }), { timeout: 20_000 }).toHaveLength(1);
    const log = await h.db('callback_deliveries').where({ order_id: order.orderNo }).orderBy('id').select('attempt', 'status_code', 'delivered');
    expect(log).toEqual([{ attempt: 1, status_code: 503, delivered: false }, { attempt: 2, status_code: 200, delivered: true }]);
    expect(received.filter((c) => c.body.orderNo === order.orderNo)).toHaveLength(1);
  });

  it('charges once and delivers once when the supplier times out and then succeeds', async () => {
    const sku = await topUpSku();
    const r = await reseller(20_000);
    world.sim.configure(FAST, { timeoutRate: 1, hangMs: 2_500 });
    try {
      await call(r, 'POST', '/api/v1/orders', { resellerOrderId: 'TO-1', sku, account: '13800138001' });
      const order = await untilFinal(r, 'TO-1');
      expect(order.status).toBe('succeeded');
    } finally {
      world.sim.configure(FAST, { timeoutRate: 0 });
    }
    const attempts = await h.db('supplier_transactions').where({ order_id: (await h.db('orders').where({ reseller_id: r.id }).first()).id });
    expect(attempts).toHaveLength(1);
    expect([...world.sim.supplier(FAST).orders.values()].filter((o) => o.requestId === attempts[0].request_id)).toHaveLength(1);
    expect([...world.sim.supplier(SLOW).orders.values()].filter((o) => o.account === '13800138001')).toHaveLength(0);
    expect(await wallet(r)).toBe(20_000 - 4_950);
  });

  it('refunds the wallet when every supplier fails', async () => {
    const sku = await topUpSku();
    const r = await reseller(20_000);
    world.sim.configure(FAST, { failRate: 1 });
    world.sim.configure(SLOW, { failRate: 1 });
    try {
      await call(r, 'POST', '/api/v1/orders', { resellerOrderId: 'F-1', sku, account: '13800138002' });
      const order = await untilFinal(r, 'F-1');
      expect(order.status).toBe('refunded');
    } finally {
      world.sim.configure(FAST, { failRate: 0 });
      world.sim.configure(SLOW, { failRate: 0 });
    }
    expect(await wallet(r)).toBe(20_000);
    const refund = await h.db('ledger_entries').where('idempotency_key', 'like', 'order-refund:%').whereRaw("metadata->>'resellerId' = ?", [String(r.id)]);
    expect(refund).toHaveLength(1);
  });

  it('is stuck when the supplier never answers; an ops retry, audited, then completes it', async () => {
    const sku = await topUpSku();
    const r = await reseller(20_000);
    world.sim.configure(FAST, { asyncCompletionMs: Infinity });
    let orderNo: number;
    try {
      await call(r, 'POST', '/api/v1/orders', { resellerOrderId: 'S-1', sku, account: '13800138003' });
      const stuck = await untilFinal(r, 'S-1');
      expect(stuck.status).toBe('stuck');
      orderNo = stuck.orderNo;
    } finally {
      world.sim.configure(FAST, { asyncCompletionMs: 50 });
    }
    const handle = h.client.workflow.getHandle(topUpWorkflowId(orderNo));
    const li = refOf(await userActor(h.db, 'ops', 'ops.li'));
    const refused: any = await handle.executeUpdate(opsActionUpdate, { args: [{ action: 'retry', actor: li, reason: '' }] }).catch((e) => e);
    expect(refused.cause.message).toMatch(/needs an actor and a reason/);
    const state = await handle.executeUpdate(opsActionUpdate, { args: [{ action: 'retry', actor: li, reason: '供应商确认可重试 supplier asked to retry' }] }) as any;
    expect(state.status).toBe('succeeded');
    expect(state.attempts).toHaveLength(2);
    const audit = await h.db('audit_log').where({ subject_type: 'order', subject_id: String(orderNo) });
    expect(audit).toEqual([expect.objectContaining({ actor: 'ops.li', actor_user_id: li.userId, action: 'order.retry', reason: '供应商确认可重试 supplier asked to retry' })]);
    expect(await wallet(r)).toBe(20_000 - 4_950);
  });

  it.each([
    [{ action: 'markSucceeded', supplierReference: 'HOTLINE-CONFIRMED-778' }, 'succeeded', 4_950],
    [{ action: 'refund' }, 'refunded', 0],
  ] as const)('lets ops %o a stuck top-up, with the money following', async (decision, finalStatus, charged) => {
    const sku = await topUpSku();
    const r = await reseller(20_000);
    const id = uniq('O');
    world.sim.configure(FAST, { asyncCompletionMs: Infinity });
    try {
      await call(r, 'POST', '/api/v1/orders', { resellerOrderId: id, sku, account: '13800138005' });
      const stuck = await untilFinal(r, id);
      expect(stuck.status).toBe('stuck');
      const state: any = await h.client.workflow.getHandle(topUpWorkflowId(stuck.orderNo)).executeUpdate(opsActionUpdate, { args: [{ ...decision, actor: refOf(await userActor(h.db, 'ops', 'ops.wang')), reason: '电话确认 confirmed by phone' }] });
      expect(state.status).toBe(finalStatus);
      expect(await wallet(r)).toBe(20_000 - charged);
      if (finalStatus === 'succeeded') {
        expect((await h.db('orders').where({ id: stuck.orderNo }).first()).supplier_txn_id).toBe('HOTLINE-CONFIRMED-778');
      }
    } finally {
      world.sim.configure(FAST, { asyncCompletionMs: 50 });
    }
  });

  it('loses nothing when its worker process is killed during the top-up', async () => {
    const sku = await topUpSku();
    const r = await reseller(20_000);
    const taskQueue = uniq('fulfillment-crash');
    const port = await freePort();
    const crashApi = express();
    mountApis(crashApi, h.deps, h.client, { fulfillment: taskQueue, procurement: taskQueue });
    const server = crashApi.listen(port, '127.0.0.1');
    const env = { KAMENG_PUBLIC_URL: `http://127.0.0.1:${port}`, KAMENG_STUCK_AFTER_MS: '60000', KAMENG_POLL_INTERVAL_MS: '250', KAMENG_SUPPLIER_TIMEOUT_MS: '1000', KAMENG_ALLOW_PRIVATE_CALLBACKS: 'true' };
    let worker = await startWorkerProcess({ taskQueue, masterKeyHex: h.masterKeyHex, env });
    world.sim.configure(FAST, { asyncCompletionMs: 2_000 });
    try {
      const text = JSON.stringify({ resellerOrderId: 'K-1', sku, account: '13800138004' });
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/orders`, { method: 'POST', body: text, headers: signedHeaders(r.credentials, 'POST', '/api/v1/orders', text) });
      const orderNo = ((await res.json()) as any).order.orderNo;
      await expect.poll(() => [...world.sim.supplier(FAST).orders.values()].some((o) => o.account === '13800138004'), { timeout: 20_000 }).toBe(true);
      await worker.kill();
      worker = await startWorkerProcess({ taskQueue, masterKeyHex: h.masterKeyHex, env });
      const state = await h.client.workflow.getHandle(topUpWorkflowId(orderNo)).result() as any;
      expect(state.status).toBe('succeeded');
      expect([...world.sim.supplier(FAST).orders.values()].filter((o) => o.account === '13800138004')).toHaveLength(1);
      expect(await h.db('ledger_entries').where('idempotency_key', `order-complete:${orderNo}`)).toHaveLength(1);
      expect(await wallet(r)).toBe(20_000 - 4_950);
    } finally {
      world.sim.configure(FAST, { asyncCompletionMs: 50 });
      await worker.kill();
      server.close();
    }
  });
});

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { businessDateOf } from '../src/dates.ts';
import { topUpBooks } from '../src/fulfillment/postings.ts';
import { accountCode } from '../src/ledger/accounts.ts';
import { orders } from '../src/orders/orders.ts';
import { topUpWorkflowId } from '../workflows/fulfill-topup.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';
import { openWorld, supplierCode, type World } from './support/world.ts';

/**
 * A crash between a top-up's commit (order `processing`, the wallet's hold) and its workflow start
 * (SIGKILL, a deploy, Temporal unreachable just then) must not leave it charged and processing
 * forever: the housekeeping schedule starts what was never started. A database of its own, so a
 * sweep sees only this file's orders.
 */
let h: Harness;
let world: World;
const FAST = supplierCode('fast');
const FAILS = '13900000000';
/** Past the default grace period (2 minutes) before a top-up with no workflow counts as stranded. */
const STRANDED_FOR = '3 minutes';

beforeAll(async () => {
  h = await openHarness({ freshDatabase: true });
  await h.ledger.openPlatformAccounts();
  world = await openWorld(h, [{ code: FAST, products: [{ sku: 'F-CM50', costFen: 4_880, kind: 'topup' }], authorisations: { 中国移动: '2030-12-31' } }]);
  world.sim.configure(FAST, { failAccounts: [FAILS] });
});
afterAll(async () => {
  await world?.stop();
  await h?.close();
});

async function shop() {
  const { reseller } = await h.deps.resellers.create({ code: uniq('shop'), name: '断点店铺 Stranded shop' });
  await h.deps.resellers.topUpWallet(reseller.id, 20_000, 'initial');
  return reseller;
}
type Shop = Awaited<ReturnType<typeof shop>>;
const wallet = (r: Shop) => h.ledger.balance(accountCode.resellerWallet(r.id));

/** A top-up SKU FAST fulfils, at 49.50 to resellers. */
async function topUpSku(): Promise<string> {
  const sku = await h.deps.catalog.createSku({ code: uniq('CM50').toUpperCase(), nameZh: '移动50', nameEn: 'CMCC 50', brand: '中国移动', kind: 'direct_topup', faceValueFen: 5_000, lowStockThreshold: 0, procurementBatch: 0 });
  await h.deps.catalog.setPrice({ sku: sku.code, tier: 'default', priceFen: 4_950 });
  await h.deps.suppliers.setOffer({ supplierId: world.suppliers[FAST]!.id, sku: sku.code, supplierSku: 'F-CM50', costFen: 4_880, priority: 10 });
  return sku.code;
}

/**
 * What the order service commits for a top-up (src/orders/order-service.ts), and then the process
 * dies before `workflow.start`: the order is processing, the wallet charged, no workflow anywhere.
 */
async function strandedTopUp(r: Shop, account: string, options: { aged: boolean }): Promise<number> {
  const { sku, price } = await h.deps.catalog.skuWithPrice(await topUpSku(), { tier: r.tier, resellerId: r.id });
  const businessDate = businessDateOf(new Date());
  const id = await h.db.transaction(async (trx) => {
    const { order } = await orders.insertOnce(trx, {
      resellerId: r.id, resellerOrderId: uniq('T'), requestHash: randomUUID(), sku: sku.code, kind: 'direct_topup', quantity: 1, account,
      unitPriceFen: price.priceFen, amountFen: price.priceFen, priceVersionId: price.priceVersionId, businessDate, status: 'processing',
    });
    await h.ledger.post(topUpBooks.hold(order, businessDate), trx);
    return order.id;
  });
  if (options.aged) await h.ownerDb.raw(`UPDATE orders SET created_at = now() - interval '${STRANDED_FOR}' WHERE id = ?`, [id]);
  return id;
}

/** The scheduled housekeeping workflow, run through Temporal and this file's worker as the schedule runs it. */
const housekeeping = () => h.client.workflow.execute('housekeeping', {
  taskQueue: h.taskQueue, workflowId: `housekeeping-${randomUUID()}`, args: [{ fulfillmentTaskQueue: h.taskQueue }],
}) as Promise<{ noncesPruned: number; topUpsResumed: number }>;
const order = (id: number) => h.db('orders').where({ id }).first();
const handle = (id: number) => h.client.workflow.getHandle(topUpWorkflowId(id));
const audit = (id: number) => h.db('audit_log').where({ subject_type: 'order', subject_id: String(id) }).orderBy('id');
const entries = async (id: number) => (await h.db('ledger_entries').whereIn('idempotency_key', [`order-hold:${id}`, `order-complete:${id}`, `order-refund:${id}`]).pluck('idempotency_key')).sort();
const workflowExists = (id: number) => handle(id).describe().then(() => true, (err: Error) => {
  if (err.name === 'WorkflowNotFoundError') return false;
  throw err;
});

describe('a top-up charged but never started (crash between the commit and the workflow start)', () => {
  it('is started by housekeeping and completes against its supplier; a running one, a young one and a second sweep start nothing', async () => {
    const r = await shop();
    const stranded = await strandedTopUp(r, '13800138000', { aged: true });
    const young = await strandedTopUp(r, '13800138001', { aged: false });
    // charged and started, but its worker has not reached the supplier yet (nobody polls its queue)
    const running = await strandedTopUp(r, '13800138002', { aged: true });
    const idle = `idle-${randomUUID()}`;
    await h.client.workflow.start('fulfillTopUp', { workflowId: topUpWorkflowId(running), taskQueue: idle, args: [{ orderId: running }] });
    expect(await wallet(r)).toBe(20_000 - 3 * 4_950);

    try {
      expect((await housekeeping()).topUpsResumed).toBe(1);

      expect(((await handle(stranded).result()) as { status: string }).status).toBe('succeeded');
      expect(await order(stranded)).toMatchObject({ status: 'succeeded', supplier_id: world.suppliers[FAST]!.id, cost_fen: 4_880 });
      expect(await entries(stranded)).toEqual([`order-complete:${stranded}`, `order-hold:${stranded}`]);
      const resumed = await audit(stranded);
      expect(resumed.map((a) => [a.action, a.actor])).toEqual([['order.resumed', 'system']]);
      expect(resumed[0].reason).toMatch(/[\u4e00-\u9fff].*never started/);

      // younger than the grace period: its API call may still be starting it
      expect(await order(young)).toMatchObject({ status: 'processing' });
      expect(await workflowExists(young)).toBe(false);
      expect(await audit(young)).toHaveLength(0);
      // its own workflow is running: left to it, on its own task queue
      expect((await handle(running).describe()).status.name).toBe('RUNNING');
      expect((await handle(running).describe()).taskQueue).toBe(idle);
      expect(await audit(running)).toHaveLength(0);

      expect((await housekeeping()).topUpsResumed).toBe(0);
      expect(await workflowExists(young)).toBe(false);
      expect(await audit(stranded)).toHaveLength(1);
      // the reseller paid once for the one that completed; the other two are still held
      expect(await wallet(r)).toBe(20_000 - 3 * 4_950);
    } finally {
      await handle(running).terminate('test over');
    }
  });

  it('is refunded by the normal rules when its supplier fails it, the hold back in the wallet', async () => {
    const r = await shop();
    const stranded = await strandedTopUp(r, FAILS, { aged: true });
    expect(await wallet(r)).toBe(20_000 - 4_950);

    expect((await housekeeping()).topUpsResumed).toBe(1);

    expect(((await handle(stranded).result()) as { status: string }).status).toBe('refunded');
    expect(await order(stranded)).toMatchObject({ status: 'refunded' });
    expect(await entries(stranded)).toEqual([`order-hold:${stranded}`, `order-refund:${stranded}`]);
    expect(await wallet(r)).toBe(20_000);
    expect((await audit(stranded)).map((a) => a.action)).toEqual(['order.resumed']);
  });
});

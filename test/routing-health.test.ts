import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardApp } from '../dashboard/app.ts';
import { DEFAULT_OPERATIONS, loadConfig } from '../src/config.ts';
import { nextBreakerState, SupplierRouting, type RoutingSettings } from '../src/routing/health.ts';
import { recordPlacement, recordResult } from '../src/supplier-api/transactions.ts';
import { userActor } from './support/actors.ts';
import { loginAs } from './support/dashboard-session.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';

/** Issue 21, 智能路由: rolling health per supplier and SKU, a breaker that opens, probes and closes, an ops override. */
let h: Harness;
const settings: RoutingSettings = { ...DEFAULT_OPERATIONS.routing, windowMs: 60_000, failurePct: 50, minCalls: 4, cooldownMs: 600, probeIntervalMs: 400, probeSuccesses: 2 };
let routing: SupplierRouting;

beforeAll(async () => {
  h = await openHarness({ worker: false });
  routing = new SupplierRouting(h.db, settings);
});
afterAll(async () => h.close());

/** A top-up SKU offered by A (priority 10) then B (priority 20). */
async function world() {
  const sku = await h.deps.catalog.createSku({ code: uniq('CM').toUpperCase(), nameZh: '移动', nameEn: 'CMCC', brand: '中国移动', kind: 'direct_topup', faceValueFen: 5_000, lowStockThreshold: 0, procurementBatch: 0 });
  const make = async (label: string, priority: number) => {
    const s = await h.deps.suppliers.upsert({ code: uniq(label).toLowerCase(), name: label, apiBaseUrl: 'http://127.0.0.1:1', apiKey: 'k', callbackSecret: 'c' });
    await h.deps.suppliers.setOffer({ supplierId: s.id, sku: sku.code, supplierSku: `${label}-SKU`, costFen: 4_900, priority });
    return { supplierId: s.id, supplierCode: s.code, priority };
  };
  return { sku: sku.code, a: await make('a', 10), b: await make('b', 20) };
}

/** `n` final answers of a supplier for a SKU, as a supplier's callbacks would record them. */
async function answers(sku: string, supplierId: number, n: number, status: 'success' | 'failed') {
  for (let i = 0; i < n; i++) {
    const requestId = uniq('req');
    await recordPlacement(h.db, { requestId, supplierId, kind: 'topup', skuCode: sku, supplierSku: 'X', quantity: 1, costFen: 4_900 });
    await recordResult(h.db, requestId, { status });
  }
}

const codes = (list: { supplierCode: string }[]) => list.map((c) => c.supplierCode);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('supplier health', () => {
  it('counts every final answer once, from supplier_transactions, with its latency', async () => {
    const { sku, a } = await world();
    await answers(sku, a.supplierId, 3, 'success');
    await answers(sku, a.supplierId, 1, 'failed');
    const requestId = uniq('req');
    await recordPlacement(h.db, { requestId, supplierId: a.supplierId, kind: 'topup', skuCode: sku, supplierSku: 'X', quantity: 1, costFen: 4_900 });
    await recordResult(h.db, requestId, { status: 'processing' });
    const { health } = await routing.read(sku, [a.supplierId]);
    expect(health.get(a.supplierId)).toMatchObject({ calls: 4, failures: 1, successRate: 0.75, state: 'closed' });
    expect(health.get(a.supplierId)!.avgLatencyMs).toBeGreaterThanOrEqual(0);
  });

  it('orders by priority adjusted by health: a supplier failing half its calls falls behind a healthy one', async () => {
    const { sku, a, b } = await world();
    const lenient = new SupplierRouting(h.db, { ...settings, minCalls: 100 });
    expect(codes((await lenient.order(sku, [a, b])).candidates)).toEqual([a.supplierCode, b.supplierCode]);
    await answers(sku, a.supplierId, 2, 'success');
    await answers(sku, a.supplierId, 2, 'failed');
    expect(codes((await lenient.order(sku, [a, b])).candidates)).toEqual([b.supplierCode, a.supplierCode]);
    // routing off: the fixed priority order whatever the health
    const off = new SupplierRouting(h.db, { ...settings, mode: 'priority' });
    expect(codes((await off.order(sku, [a, b])).candidates)).toEqual([a.supplierCode, b.supplierCode]);
  });
});

describe('circuit breaker', () => {
  it('opens on a failing supplier, stops sending it top-ups, lets one probe through when half-open, and closes after probes succeed', async () => {
    const { sku, a, b } = await world();
    await answers(sku, a.supplierId, 4, 'failed');
    let plan = await routing.order(sku, [a, b]);
    expect(plan.decisions[0]).toMatchObject({ verdict: 'blocked', state: 'open' });
    expect(codes(plan.candidates)).toEqual([b.supplierCode]);

    await sleep(settings.cooldownMs + 50);
    plan = await routing.order(sku, [a, b]);
    expect(plan.decisions[0]).toMatchObject({ verdict: 'probe', state: 'half_open' });
    expect(codes(plan.candidates)).toEqual([a.supplierCode, b.supplierCode]); // the probe goes first
    // one probe per interval: the next order does not go to A
    expect(codes((await routing.order(sku, [a, b])).candidates)).toEqual([b.supplierCode]);

    await answers(sku, a.supplierId, 1, 'success');
    await sleep(settings.probeIntervalMs + 50);
    plan = await routing.order(sku, [a, b]);
    expect(plan.decisions[0]).toMatchObject({ verdict: 'probe', state: 'half_open' });
    await answers(sku, a.supplierId, 1, 'success');
    plan = await routing.order(sku, [a, b]);
    expect(plan.decisions[0]).toMatchObject({ verdict: 'admitted', state: 'closed' });
    // closed afresh: the failures before it opened no longer count against it
    expect(codes((await routing.order(sku, [a, b])).candidates)).toEqual([a.supplierCode, b.supplierCode]);
  });

  it('opens again when a probe fails', async () => {
    const { sku, a, b } = await world();
    await answers(sku, a.supplierId, 4, 'failed');
    await routing.order(sku, [a, b]);
    await sleep(settings.cooldownMs + 50);
    expect((await routing.order(sku, [a, b])).decisions[0]!.verdict).toBe('probe');
    await answers(sku, a.supplierId, 1, 'failed');
    const plan = await routing.order(sku, [a, b]);
    expect(plan.decisions[0]).toMatchObject({ verdict: 'blocked', state: 'open' });
  });

  it('keeps the fixed order as a last resort when every supplier is open', async () => {
    const { sku, a, b } = await world();
    await answers(sku, a.supplierId, 4, 'failed');
    await answers(sku, b.supplierId, 4, 'failed');
    const plan = await routing.order(sku, [a, b]);
    expect(plan.decisions.map((d) => d.verdict)).toEqual(['blocked', 'blocked']);
    expect(codes(plan.candidates)).toEqual([a.supplierCode, b.supplierCode]);
  });

  it('lets ops force a breaker open or closed, audited with the user, and hand it back', async () => {
    const { sku, a, b } = await world();
    const ops = await userActor(h.db, 'ops');
    await routing.setOverride(ops, { supplierId: a.supplierId, skuCode: sku, override: 'force_open', reason: '供应商通知维护 maintenance' });
    expect(codes((await routing.order(sku, [a, b])).candidates)).toEqual([b.supplierCode]);
    await answers(sku, a.supplierId, 4, 'failed');
    await routing.setOverride(ops, { supplierId: a.supplierId, skuCode: sku, override: 'force_closed', reason: 'confirmed fixed' });
    expect(codes((await routing.order(sku, [a, b])).candidates)).toContain(a.supplierCode);
    const audit = await h.db('audit_log').where({ action: 'routing.override', subject_id: `${a.supplierId}:${sku}` }).orderBy('id');
    expect(audit.map((r) => [r.actor_user_id, JSON.parse(typeof r.details === 'string' ? r.details : JSON.stringify(r.details)).override])).toEqual([[ops.userId, 'force_open'], [ops.userId, 'force_closed']]);
    await expect(routing.setOverride(ops, { supplierId: a.supplierId, skuCode: sku, override: 'auto', reason: ' ' })).rejects.toThrow(/reason/);
    await expect(routing.setOverride(ops, { supplierId: a.supplierId, skuCode: 'NOPE', override: 'auto', reason: 'x' })).rejects.toThrow(/does not offer/);
  });

  it('moves as a pure function of its counts and clock', () => {
    const now = new Date('2026-12-01T00:00:10Z');
    const counts = { calls: 10, failures: 5, probeOk: 0, probeBad: 0 };
    expect(nextBreakerState({ state: 'closed', openedAt: null, halfOpenAt: null }, counts, now, settings)).toBe('open');
    expect(nextBreakerState({ state: 'closed', openedAt: null, halfOpenAt: null }, { ...counts, failures: 4 }, now, settings)).toBe('closed');
    expect(nextBreakerState({ state: 'closed', openedAt: null, halfOpenAt: null }, { ...counts, calls: 3, failures: 3 }, now, settings)).toBe('closed');
    expect(nextBreakerState({ state: 'open', openedAt: new Date(now.getTime() - 100), halfOpenAt: null }, counts, now, settings)).toBe('open');
    expect(nextBreakerState({ state: 'open', openedAt: new Date(now.getTime() - 600), halfOpenAt: null }, counts, now, settings)).toBe('half_open');
    expect(nextBreakerState({ state: 'half_open', openedAt: null, halfOpenAt: now }, { ...counts, probeOk: 2 }, now, settings)).toBe('closed');
    expect(nextBreakerState({ state: 'half_open', openedAt: null, halfOpenAt: now }, { ...counts, probeOk: 1 }, now, settings)).toBe('half_open');
    expect(nextBreakerState({ state: 'half_open', openedAt: null, halfOpenAt: now }, { ...counts, probeOk: 5, probeBad: 1 }, now, settings)).toBe('open');
  });
});

describe('the /routing page', () => {
  it('shows health and breaker per supplier and SKU in Chinese, and lets ops (not a viewer) override a breaker, audited', async () => {
    const { sku, a } = await world();
    await answers(sku, a.supplierId, 3, 'success');
    const app = createDashboardApp({
      db: h.db, ledger: h.ledger, client: h.client, config: loadConfig(), infrastructure: ['test'],
      health: { postgres: '18', migrations: 4, accounts: 1, entries: 0, ledgerImbalanceFen: 0, checkedAt: new Date().toISOString() },
    });
    const server: Server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const ops = await loginAs(base, h.db, 'ops');
      const viewer = await loginAs(base, h.db, 'viewer');
      const page = await (await ops.get('/routing')).text();
      expect(page).toContain(sku);
      expect(page).toContain(a.supplierCode);
      expect(page).toContain('闭合（正常）');
      expect(page).toContain('满足率');
      expect(page).not.toMatch(/breakerClosed|fillRate|supplierHealth/);
      expect(page).toContain('action="/routing/override"');
      expect(await (await viewer.get('/routing')).text()).not.toContain('action="/routing/override"');

      const form = { supplierId: String(a.supplierId), sku, override: 'force_open', reason: '维护 maintenance' };
      expect((await viewer.post('/routing/override', form)).status).toBe(403);
      expect((await ops.post('/routing/override', form, { csrf: false })).status).toBe(403);
      expect((await ops.post('/routing/override', form)).status).toBe(303);
      expect(await h.db('supplier_breakers').where({ supplier_id: a.supplierId, sku_code: sku }).first()).toMatchObject({ override: 'force_open' });
      expect(await (await ops.get('/routing')).text()).toContain('强制断开');
    } finally {
      server.close();
    }
  });
});

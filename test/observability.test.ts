import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardApp } from '../dashboard/app.ts';
import { mountApis } from '../src/api/mount.ts';
import { loadConfig } from '../src/config.ts';
import { addDays, businessDateOf } from '../src/dates.ts';
import { importCardCodes } from '../src/inventory/import.ts';
import { mountMetrics, observeRequests } from '../src/observability/http.ts';
import { configureLogging, logger, REDACTED } from '../src/observability/log.ts';
import { measureDatabase } from '../src/observability/metrics.ts';
import { classifyFailure, installTemporalRuntime } from '../src/observability/temporal-runtime.ts';
import { SIGNATURE_HEADERS, signedHeaders } from '../src/resellers/signature.ts';
import { resolveTemporalCli } from '../src/runtime/temporal-cli.ts';
import { freePort, startTemporalDevServer } from '../src/runtime/temporal-dev-server.ts';
import { refOf } from '../src/users/actor.ts';
import { userActor } from './support/actors.ts';
import { postLogin } from './support/dashboard-session.ts';
import { Users } from '../src/users/users.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';
import { testStock } from './support/stock.ts';
import { cardSku, openWorld, supplierCode, type World } from './support/world.ts';

/**
 * One real run, watched from outside: orders over the signed API (card codes, top-ups that succeed,
 * fail and get stuck), a procurement run, a reconciliation with a discrepancy, a settlement, a
 * dashboard login. Every log line of it is captured (the logger's output at trace level, and
 * anything else written to stdout or stderr) and /metrics is scraped before and after.
 */

const lines: string[] = [];
const stray: string[] = [];
const planted: Record<string, string> = {};
let h: Harness;
let world: World;
let server: Server;
let base: string;
const SUP = supplierCode('obs');
const LOW_BALANCE_FEN = 50_000;
const config = loadConfig();
let before: Map<string, number>;
const restore: (() => void)[] = [];

function captureStdio() {
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream);
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      stray.push(String(chunk));
      return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write;
    restore.push(() => { stream.write = write; });
  }
}

async function scrape(headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}/metrics`, { headers });
  return { status: res.status, text: await res.text() };
}

/** Sample name with labels -> value, e.g. `kameng_orders_total{kind="card_code",outcome="placed"}`. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** Sum of a family's samples whose labels include every `label="value"` given. */
function total(s: Map<string, number>, name: string, ...labels: string[]): number {
  let n = 0;
  for (const [k, v] of s) {
    const family = k.split('{')[0];
    if (family === name && labels.every((l) => k.includes(l))) n += v;
  }
  return n;
}

beforeAll(async () => {
  configureLogging({ level: 'trace', sink: (line) => void lines.push(line) });
  captureStdio();
  // the SDK's worker metrics, as `npm start` exports them
  installTemporalRuntime({ metricsAddress: `127.0.0.1:${await freePort()}` });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  h = await openHarness({ freshDatabase: true, settings: { publicUrl: base, stuckAfterMs: 1_500 } });
  await h.ledger.openPlatformAccounts();
  world = await openWorld(h, [{
    code: SUP, authorisations: { 腾讯: '2030-12-31', 中国移动: '2030-12-31' },
    products: [{ sku: 'O-CM50', costFen: 4_880, kind: 'topup' }, { sku: 'O-QQ', costFen: 9_400, kind: 'card_batch' }],
  }]);
  planted.supplierApiKey = `${SUP}-key`;
  planted.supplierCallbackSecret = `${SUP}-cb`;

  const app = express();
  app.use(observeRequests());
  measureDatabase(h.db, { lowBalanceFen: LOW_BALANCE_FEN });
  mountMetrics(app, {});
  mountApis(app, h.deps, h.client, { fulfillment: h.taskQueue, procurement: h.taskQueue });
  const dashboardConfig = { ...config, observability: { ...config.observability, temporalUiUrl: 'http://127.0.0.1:8233' } };
  app.use(createDashboardApp({
    db: h.db, ledger: h.ledger, client: h.client, config: dashboardConfig, infrastructure: ['test'], resellers: h.deps.resellers,
    health: { postgres: '18', migrations: 1, accounts: 1, entries: 0, ledgerImbalanceFen: 0, checkedAt: new Date().toISOString() },
  }));
  server = app.listen(port, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  before = samples((await scrape()).text);
});

afterAll(async () => {
  for (const r of restore) r();
  configureLogging({ level: 'warn', sink: (line) => void process.stdout.write(line) });
  server?.close();
  await world?.stop();
  await h?.close();
});

describe('a real run', () => {
  let orderId: number;

  it('sells card codes, tops up, refuses, procures, reconciles and settles', async () => {
    const { reseller, apiSecret } = await h.deps.resellers.create({ code: uniq('shop'), name: '观测店铺', callbackUrl: 'http://127.0.0.1:1/cb' });
    await h.deps.resellers.topUpWallet(reseller.id, 100_000, 'initial');
    planted.resellerSecret = apiSecret;
    const poor = (await h.deps.resellers.create({ code: uniq('poor'), name: '穷店铺', callbackUrl: 'http://127.0.0.1:1/cb' }));
    const credentials = { apiKey: reseller.apiKey, apiSecret };
    const call = async (method: 'GET' | 'POST', path: string, body?: unknown, as = credentials) => {
      const text = body === undefined ? '' : JSON.stringify(body);
      const headers = signedHeaders(as, method, path, text);
      planted[`signature of ${method} ${path} #${Object.keys(planted).length}`] = headers[SIGNATURE_HEADERS.signature]!;
      const res = await fetch(`${base}${path}`, { method, body: method === 'POST' ? text : undefined, headers });
      return { status: res.status, body: (await res.json()) as any };
    };

    // card codes: a planted one delivered, then one refused (out of stock), one refused (no money)
    const card = await cardSku(h, '腾讯', { priceFen: 9_800, threshold: 0, batch: 0 });
    const code = `PLANTED-CODE-${uniq('c')}`;
    planted.cardCode = code;
    async function* rows() { yield { line: 2, sku: card.code, serial: 'OBS-1', code, expiresOn: '' }; }
    await importCardCodes(h.db, h.deps.vault, { booking: testStock(h.ledger), batchKey: uniq('obs'), sku: card.code, unitCostFen: 9_400, source: 'file', fileName: 'obs.csv', rows: rows() });
    const sold = await call('POST', '/api/v1/orders', { resellerOrderId: uniq('card'), sku: card.code, quantity: 1 });
    expect(sold.status).toBe(201);
    expect(sold.body.order.codes[0].code).toBe(code);
    expect((await call('POST', '/api/v1/orders', { resellerOrderId: uniq('card'), sku: card.code, quantity: 1 })).body.error.code).toBe('OUT_OF_STOCK');
    const broke = await call('POST', '/api/v1/orders', { resellerOrderId: uniq('card'), sku: card.code, quantity: 1 }, { apiKey: poor.reseller.apiKey, apiSecret: poor.apiSecret });
    expect(broke.status).toBeGreaterThanOrEqual(400);

    // top-ups: one succeeds, one the supplier fails (refunded), one never answered (stuck)
    const topup = await h.deps.catalog.createSku({ code: uniq('CM50').toUpperCase(), nameZh: '移动50', nameEn: 'CMCC 50', brand: '中国移动', kind: 'direct_topup', faceValueFen: 5_000, lowStockThreshold: 0, procurementBatch: 0 });
    await h.deps.catalog.setPrice({ sku: topup.code, tier: 'default', priceFen: 4_950 });
    await h.deps.suppliers.setOffer({ supplierId: world.suppliers[SUP]!.id, sku: topup.code, supplierSku: 'O-CM50', costFen: 4_880, priority: 10 });
    world.sim.configure(SUP, { failAccounts: ['13900000000'], silentAccounts: ['13700000000'] });
    const ok = await call('POST', '/api/v1/orders', { resellerOrderId: uniq('t'), sku: topup.code, quantity: 1, account: '13800000000' });
    orderId = ok.body.order.orderNo;
    const failed = await call('POST', '/api/v1/orders', { resellerOrderId: uniq('t'), sku: topup.code, quantity: 1, account: '13900000000' });
    const silent = await call('POST', '/api/v1/orders', { resellerOrderId: uniq('t'), sku: topup.code, quantity: 1, account: '13700000000' });
    const statusOf = async (id: number) => (await h.db('orders').where({ id }).first('status')).status;
    await expect.poll(() => statusOf(ok.body.order.orderNo), { timeout: 30_000 }).toBe('succeeded');
    await expect.poll(() => statusOf(failed.body.order.orderNo), { timeout: 30_000 }).toBe('refunded');
    await expect.poll(() => statusOf(silent.body.order.orderNo), { timeout: 30_000 }).toBe('stuck');

    // a procurement run
    const qq = await cardSku(h, '腾讯', { batch: 5, threshold: 2 });
    await h.deps.suppliers.setOffer({ supplierId: world.suppliers[SUP]!.id, sku: qq.code, supplierSku: 'O-QQ', costFen: 9_400, priority: 1 });
    await h.client.workflow.execute('procureStock', { taskQueue: h.taskQueue, workflowId: uniq('procure'), args: [{ sku: qq.code, reason: 'on_demand', pollIntervalMs: 100 }] });

    // a procurement no supplier can serve: a business refusal, not a failure of the system
    const nobody = await cardSku(h, '网易', { batch: 5, threshold: 2 });
    await expect(h.client.workflow.execute('procureStock', { taskQueue: h.taskQueue, workflowId: uniq('procure'), args: [{ sku: nobody.code, reason: 'on_demand', pollIntervalMs: 100 }] }))
      .rejects.toThrow();

    // today's reconciliation, with one amount the supplier disagrees with
    const today = businessDateOf(new Date());
    world.sim.plant(SUP, today, { amountMismatch: 1 });
    world.sim.configure(SUP, { statementsBeforeDayEnd: true });
    await h.client.workflow.execute('reconcileSupplierDay', {
      taskQueue: h.taskQueue, workflowId: `recon-${SUP}-${today}`, args: [{ supplierCode: SUP, date: today, triggeredBy: 'test', pollMs: 100, maxWaitMs: 10_000 }],
    });

    // yesterday's settlement (this harness has a database of its own)
    const finance = await userActor(h.db, 'finance');
    await h.client.workflow.execute('dailySettlement', { taskQueue: h.taskQueue, workflowId: uniq('settle'), args: [{ date: addDays(today, -1), actor: refOf(finance) }] });

    // a person logs in with a password, and opens the order
    const username = uniq('ops');
    planted.password = `PLANTED-PW-${uniq('p')}`;
    await new Users(h.db).upsert({ username, role: 'ops', password: planted.password });
    const login = await postLogin(base, { username, password: planted.password });
    expect(login.status).toBe(303);
    const cookie = login.headers.getSetCookie().find((c) => c.startsWith('kameng_session='))!.split(';')[0]!;
    const page = await (await fetch(`${base}/fulfillment/${orderId}`, { headers: { cookie } })).text();
    expect(page).toContain(`http://127.0.0.1:8233/namespaces/${encodeURIComponent(config.temporal.namespace)}/workflows/topup-${orderId}`);
  });

  it('moves every metric family', async () => {
    const after = samples((await scrape()).text);
    const moved = (name: string, ...labels: string[]) => total(after, name, ...labels) - total(before, name, ...labels);
    expect(moved('kameng_http_request_duration_seconds_count', 'route="/api/v1/orders"', 'status="201"')).toBeGreaterThanOrEqual(1);
    expect(moved('kameng_http_request_duration_seconds_count', 'route="/fulfillment/:id"', 'status="200"')).toBe(1);
    expect(moved('kameng_orders_total', 'kind="card_code"', 'outcome="placed"')).toBe(1);
    // the shop with no money asked after the one code was sold: out of stock comes first
    expect(moved('kameng_orders_total', 'kind="card_code"', 'outcome="OUT_OF_STOCK"')).toBe(2);
    expect(moved('kameng_orders_total', 'kind="direct_topup"', 'outcome="placed"')).toBe(3);
    expect(moved('kameng_supplier_call_duration_seconds_count', `supplier="${SUP}"`, 'call="place"')).toBeGreaterThanOrEqual(3);
    expect(moved('kameng_topup_duration_seconds_count', `supplier="${SUP}"`, 'outcome="succeeded"')).toBe(1);
    expect(moved('kameng_topup_duration_seconds_count', `supplier="${SUP}"`, 'outcome="refunded"')).toBe(1);
    expect(total(after, 'kameng_topups_stuck')).toBe(1);
    expect(total(after, 'kameng_topups_oldest_open_seconds')).toBeGreaterThan(0);
    expect(total(after, 'kameng_discrepancy_cases_open', 'state="open"')).toBeGreaterThanOrEqual(1);
    expect(moved('kameng_reconciliation_duration_seconds_count', `supplier="${SUP}"`, 'outcome="reconciled"')).toBe(1);
    expect(moved('kameng_settlement_duration_seconds_count', 'outcome="settled"')).toBeGreaterThanOrEqual(1);
    expect(moved('kameng_procurement_runs_total', 'outcome="succeeded"')).toBe(1);
    // the poor shop has nothing; the other spent most of its 1000 yuan
    expect(total(after, 'kameng_wallets_low_balance')).toBeGreaterThanOrEqual(1);
    expect(total(after, 'kameng_process_cpu_seconds_total')).toBeGreaterThan(0);
    // the Temporal SDK's worker metrics, appended
    expect([...after.keys()].some((k) => k.startsWith('temporal_'))).toBe(true);
    expect(moved('temporal_workflow_completed')).toBeGreaterThan(0);
  });

  it('serves /metrics to loopback clients only, or to the bearer of the token', async () => {
    expect((await scrape({ 'x-forwarded-for': '203.0.113.9' })).status).toBe(403);
    const app = express();
    mountMetrics(app, { token: 'a-metrics-token-of-32-characters!' });
    const guarded = app.listen(0, '127.0.0.1');
    await new Promise((r) => guarded.once('listening', r));
    const url = `http://127.0.0.1:${(guarded.address() as AddressInfo).port}/metrics`;
    try {
      expect((await fetch(url)).status).toBe(401);
      expect((await fetch(url, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await fetch(url, { headers: { authorization: 'Bearer a-metrics-token-of-32-characters!' } })).status).toBe(200);
    } finally {
      guarded.close();
    }
  });

  it('logged one JSON line per event, with request, order and workflow ids', () => {
    const events = lines.map((l) => JSON.parse(l));
    expect(events.length).toBeGreaterThan(20);
    expect(events.some((e) => e.requestId && e.route === '/api/v1/orders')).toBe(true);
    expect(events.some((e) => e.orderId === orderId && e.requestId)).toBe(true);
    expect(events.some((e) => e.workflowId === `topup-${orderId}`)).toBe(true);
  });

  it('kept expected refusals quiet: no warning, no stack, one line at debug', () => {
    const events = lines.map((l) => JSON.parse(l));
    const refusals = events.filter((e) => e.outcome === 'refusal');
    expect(refusals.length).toBeGreaterThan(0);
    for (const r of refusals) {
      expect(r.level).toBe('debug');
      expect(JSON.stringify(r)).not.toContain('    at ');
    }
    const warnings = events.filter((e) => e.level === 'warn' || e.level === 'error');
    expect(warnings.filter((w) => /Workflow failed|Activity failed/.test(w.msg) && w.error)).toEqual([]);
  });

  it('never wrote a planted secret: reseller secret, supplier key, card code, password, signature', () => {
    const output = [...lines, ...stray].join('');
    expect(Object.keys(planted).length).toBeGreaterThanOrEqual(6);
    for (const [what, secret] of Object.entries(planted)) {
      expect(secret.length, what).toBeGreaterThan(6);
      expect(output.includes(secret), `${what} appears in the log`).toBe(false);
    }
  });
});

describe('redaction rules', () => {
  it('redact secrets by field name, wherever nested, and inside strings', () => {
    const out: string[] = [];
    configureLogging({ sink: (line) => void out.push(line) });
    try {
      const log = logger('test');
      log.warn({
        reseller: { apiSecret: 'S3CRET-reseller', api_key: 'AK-123456', idempotencyKey: 'order:1' },
        headers: { authorization: 'Bearer tok-abcdef123', 'x-kameng-signature': 'deadbeefcafe' },
        user: { password: 'hunter2hunter2' },
        codes: [{ serial: 'S1', code: 'CARD-0001-PLAIN' }],
        card: { serial: 'S2', code: 'CARD-0002-PLAIN' },
        err: Object.assign(new Error('refused'), { code: 'NOT_FOUND' }),
      }, 'GET /x?sign=abcdef0123&ts=1 with Bearer tok-abcdef123 to postgres://app:dbpassword@127.0.0.1/kameng');
    } finally {
      configureLogging({ sink: (line) => void lines.push(line) });
    }
    const line = out.join('');
    for (const secret of ['S3CRET-reseller', 'AK-123456', 'tok-abcdef123', 'deadbeefcafe', 'hunter2hunter2', 'CARD-0001-PLAIN', 'CARD-0002-PLAIN', 'abcdef0123', 'dbpassword']) {
      expect(line, secret).not.toContain(secret);
    }
    const event = JSON.parse(line);
    expect(event.reseller.idempotencyKey).toBe('order:1');
    expect(event.user.password).toBe(REDACTED);
    expect(event.err.code).toBe('NOT_FOUND');
    expect(event.msg).toContain(`sign=${REDACTED}`);
  });

  it('tell a business refusal from a failure', () => {
    const refusal = { name: 'ActivityFailure', message: 'activity failed', cause: { name: 'ApplicationFailure', message: 'no money', type: 'InsufficientFundsError', nonRetryable: true, details: [{ code: 'INSUFFICIENT_FUNDS' }] } };
    expect(classifyFailure(refusal)).toMatchObject({ kind: 'refusal', type: 'InsufficientFundsError', code: 'INSUFFICIENT_FUNDS' });
    expect(classifyFailure(new TypeError('x is undefined')).kind).toBe('unexpected');
    // as a workflow's failure reaches the logger: copied out of the sandbox, only messages and stacks left
    const copied = (...stacks: string[]) => stacks.reduceRight<object | undefined>((cause, stack) => ({ name: 'Error', message: stack.split(': ')[1], stack, cause }), undefined);
    expect(classifyFailure(copied('Error: Activity task failed', 'ApplicationFailure: no supplier', 'NoQualifiedSupplierError: no supplier\n    at plan (a.ts:1:1)')))
      .toMatchObject({ kind: 'refusal', type: 'NoQualifiedSupplierError' });
    expect(classifyFailure(copied('ApplicationFailure: no supplier delivered 5 × QQ')).kind).toBe('refusal');
    expect(classifyFailure(copied('Error: Activity task failed', "TypeError: Cannot read properties of undefined (reading 'id')\n    at x (a.ts:1:1)")).kind).toBe('unexpected');
    expect(classifyFailure(copied('Error: Activity task failed', 'TimeoutFailure: activity StartToClose timeout')).kind).toBe('unexpected');
  });
});

describe('Temporal Web UI', () => {
  // an external cluster (TEMPORAL_ADDRESS) has its own UI (TEMPORAL_UI_URL): no local server to start
  it.skipIf(Boolean(config.temporal.address))('the local dev server serves its UI on the port asked for, on loopback', async () => {
    const cliPath = await resolveTemporalCli({ explicitPath: config.temporal.cliPath, cacheDir: config.cacheDir, log: () => {} });
    const uiPort = await freePort();
    const server = await startTemporalDevServer({ cliPath, port: await freePort(), namespace: 'default', uiPort });
    try {
      expect(server.uiUrl).toBe(`http://127.0.0.1:${uiPort}`);
      await expect.poll(async () => (await fetch(`${server.uiUrl}/namespaces/default/workflows`).catch(() => undefined))?.status, { timeout: 30_000 }).toBe(200);
      const page = await (await fetch(`${server.uiUrl}/namespaces/default/workflows`)).text();
      expect(page).toContain('<!doctype html>');
    } finally {
      await server.stop();
    }
  });
});

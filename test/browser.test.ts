import fs from 'node:fs';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import express from 'express';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardApp } from '../dashboard/app.ts';
import { mountApis } from '../src/api/mount.ts';
import { loadConfig } from '../src/config.ts';
import { accountCode } from '../src/ledger/accounts.ts';
import { credit, debit } from '../src/ledger/ledger.ts';
import { signedHeaders } from '../src/resellers/signature.ts';
import { freePort } from '../src/runtime/temporal-dev-server.ts';
import { settleDay } from '../src/settlement/settle.ts';
import { Users } from '../src/users/users.ts';
import { userActor } from './support/actors.ts';
import { openHarness, type Harness } from './support/harness.ts';
import { openWorld, type World } from './support/world.ts';

/**
 * The dashboard in a real browser (Debian's chromium driven by playwright-core), against a real
 * worker, PostgreSQL and Temporal, with the supplier simulator as the outside world.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = path.resolve('test-output/screenshots');
const PASSWORD = 'browser-test-password';

let h: Harness;
let world: World;
let server: Server;
let base: string;
let browser: Browser;
let stuckOrder = 0;
let caseId = 0;
const download = fs.mkdtempSync(path.join(os.tmpdir(), 'kameng-browser-'));

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (.ci/run does), or set CHROMIUM_PATH`);
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  h = await openHarness({ freshDatabase: true, settings: { publicUrl: base } });
  await h.ledger.openPlatformAccounts();
  world = await openWorld(h, [{ code: 'slowpoke', products: [{ sku: 'SP-CM50', costFen: 4_880, kind: 'topup' }], authorisations: { 中国移动: '2030-12-31' } }]);
  const app = express();
  const orders = mountApis(app, h.deps, h.client, { fulfillment: h.taskQueue, procurement: h.taskQueue });
  app.use(createDashboardApp({
    db: h.db, ledger: h.ledger, client: h.client, config: loadConfig({ ...process.env, KAMENG_STATEMENT_DIR: path.join(download, 'statements') }), infrastructure: ['browser test'],
    health: { postgres: '18', migrations: 7, accounts: 1, entries: 0, ledgerImbalanceFen: 0, checkedAt: new Date().toISOString() },
  }));
  void orders;
  server = app.listen(port, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const users = new Users(h.db);
  for (const role of ['ops', 'finance', 'viewer'] as const) await users.upsert({ username: role, role, password: PASSWORD });

  // A top-up the supplier never answers: stuck, waiting for ops.
  await h.deps.catalog.createSku({ code: 'CM50', nameZh: '移动50', nameEn: 'CMCC 50', brand: '中国移动', kind: 'direct_topup', faceValueFen: 5_000, lowStockThreshold: 0, procurementBatch: 0 });
  await h.deps.catalog.setPrice({ sku: 'CM50', tier: 'default', priceFen: 4_950 });
  await h.deps.suppliers.setOffer({ supplierId: world.suppliers.slowpoke!.id, sku: 'CM50', supplierSku: 'SP-CM50', costFen: 4_880, priority: 10 });
  const { reseller, apiSecret } = await h.deps.resellers.create({ code: 'browser-shop', name: '浏览器小店 Browser shop' });
  await h.deps.resellers.topUpWallet(reseller.id, 20_000, 'opening', { valueDate: '2023-03-01' });
  world.sim.configure('slowpoke', { asyncCompletionMs: Infinity });
  const body = JSON.stringify({ resellerOrderId: 'B-1', sku: 'CM50', account: '13800138000' });
  await fetch(`${base}/api/v1/orders`, { method: 'POST', body, headers: signedHeaders({ apiKey: reseller.apiKey, apiSecret }, 'POST', '/api/v1/orders', body) });
  for (let i = 0; i < 100; i++) {
    const row = await h.db('orders').where({ reseller_order_id: 'B-1' }).first();
    if (row?.status === 'stuck') {
      stuckOrder = row.id;
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  world.sim.configure('slowpoke', { asyncCompletionMs: 50 });

  // A discrepancy to resolve, and a settled day to download.
  const [c] = await h.db('recon_cases').insert({
    supplier_id: world.suppliers.slowpoke!.id, business_date: '2023-03-01', subject_key: 'txn:BT-1', class: 'amount_mismatch', our_fen: 4_880, their_fen: 4_980,
    delta_fen: 100, first_run_id: 0, last_run_id: 0, request_ids: ['req-bt-1'],
  }).returning('id');
  caseId = c.id;
  await h.ledger.post({
    idempotencyKey: 'browser-sale', kind: 'order_sale', businessDate: '2023-03-01',
    postings: [debit(accountCode.resellerWallet(reseller.id), 9_800), credit(accountCode.platform('revenue'), 9_800)],
  });
  await settleDay(h.db, '2023-03-01', { actor: await userActor(h.db, 'finance') });

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
afterAll(async () => {
  await browser?.close();
  server?.close();
  await world?.stop();
  await h?.close();
  fs.rmSync(download, { recursive: true, force: true });
});

/** What the browser refused under the pages' Content-Security-Policy (it reports each on the console). */
const cspViolations: string[] = [];

async function logIn(role: 'ops' | 'finance' | 'viewer'): Promise<Page> {
  const context = await browser.newContext({ acceptDownloads: true, locale: 'zh-CN' });
  const page = await context.newPage();
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(`${page.url()}: ${m.text()}`); });
  page.on('pageerror', (e) => cspViolations.push(`${page.url()}: ${e.message}`));
  await page.goto(`${base}/`);
  expect(page.url()).toContain('/login');
  await page.fill('input[name=username]', role);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/`);
  return page;
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });

describe('the dashboard in a browser', () => {
  it('logs in and draws the overview chart', async () => {
    const page = await logIn('ops');
    await page.waitForFunction(() => {
      const canvas = document.querySelector('canvas');
      return Boolean(canvas && (window as unknown as { Chart: { getChart(c: unknown): unknown } }).Chart.getChart(canvas));
    });
    expect(await page.locator('canvas').first().boundingBox()).toMatchObject({ width: expect.any(Number) });
    await shot(page, 'overview');
    await page.goto(`${base}/stock`);
    await shot(page, 'stock');
    await page.close();
  });

  it('retries a stuck top-up as ops and sees it complete', async () => {
    expect(stuckOrder).toBeGreaterThan(0);
    const page = await logIn('ops');
    await page.goto(`${base}/fulfillment`);
    await shot(page, 'fulfillment');
    await page.click(`a[href="/fulfillment/${stuckOrder}"]`);
    expect(await page.getAttribute('#order-status', 'data-status')).toBe('stuck');
    await page.selectOption('select[name=action]', 'retry');
    await page.fill('input[name=reason]', '供应商恢复 supplier is back');
    await page.click('form.act button[type=submit]');
    await page.waitForURL(/done=/);
    expect(await page.textContent('.notice')).toContain('已成功');
    await shot(page, 'fulfillment-order');
    expect((await h.db('orders').where({ id: stuckOrder }).first()).status).toBe('succeeded');
    await page.goto(`${base}/audit`);
    expect(await page.locator('tr[data-action="order.retry"]').count()).toBeGreaterThan(0);
    await shot(page, 'audit');
    await page.close();
  });

  it('resolves a discrepancy as finance', async () => {
    const page = await logIn('finance');
    await page.goto(`${base}/reconciliation`);
    await shot(page, 'reconciliation');
    const row = page.locator(`#case-${caseId}`);
    await row.locator('select[name=resolution]').selectOption('accept_supplier');
    await row.locator('input[name=reason]').fill('供应商调价确认 supplier price confirmed');
    await row.locator('button[type=submit]').click();
    await page.waitForURL(/done=/);
    expect(await page.textContent(`#case-${caseId} .case-state`)).toContain('以供应商为准');
    expect(await h.db('ledger_entries').where({ idempotency_key: `recon-case:${caseId}` })).toHaveLength(1);
    await page.close();
  });

  it('uploads a statement as finance through the page script, under the CSP', async () => {
    const page = await logIn('finance');
    await page.goto(`${base}/reconciliation`);
    await page.fill('#upload input[name=date]', '2023-03-02');
    await page.setInputFiles('#upload input[name=file]', { name: 'statement.csv', mimeType: 'text/csv', buffer: Buffer.from('request_id,amount\n') });
    await page.click('#upload button[type=submit]');
    await page.waitForFunction(() => (document.getElementById('upload-result')?.textContent ?? '') !== '');
    const result = await page.textContent('#upload-result');
    expect(result).toContain('reconciliation started');
    await h.client.workflow.getHandle(/recon-\S+/.exec(result!)![0]).terminate('browser test done');
    await page.close();
  });

  it('downloads a statement that reads back with its totals', async () => {
    const page = await logIn('finance');
    await page.goto(`${base}/settlement?date=2023-03-01`);
    await shot(page, 'settlement');
    const [file] = await Promise.all([page.waitForEvent('download'), page.click('a.download')]);
    const saved = path.join(download, file.suggestedFilename());
    await file.saveAs(saved);
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(saved);
    const summary = book.getWorksheet('汇总 Summary')!;
    const totals = summary.getRow(summary.rowCount);
    expect(totals.getCell(1).value).toBe('合计 Total');
    expect(totals.values).toContain((20_000 - 9_800) / 100);
    await page.close();
  });

  it('lets a viewer look but not act', async () => {
    const page = await logIn('viewer');
    await page.goto(`${base}/reconciliation`);
    expect(await page.locator('form[action$="/resolve"]').count()).toBe(0);
    expect(await page.locator('#upload').count()).toBe(0);
    await page.goto(`${base}/settlement`);
    expect(await page.locator('form[action="/settlement/settle"]').count()).toBe(0);
    // Even a hand-made request with the viewer's own session and CSRF token is refused.
    const status = await page.evaluate(async () => {
      const csrf = (document.querySelector('input[name=_csrf]') as HTMLInputElement).value;
      const res = await fetch('/reconciliation/cases/1/resolve', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: `_csrf=${encodeURIComponent(csrf)}&resolution=write_off&reason=sneaky` });
      return res.status;
    });
    expect(status).toBe(403);
    await shot(page, 'viewer-settlement');
    await page.close();
  });

  it('broke no Content-Security-Policy rule on any page it visited', () => {
    expect(cspViolations).toEqual([]);
  });
});

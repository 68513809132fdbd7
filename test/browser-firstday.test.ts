import fs from 'node:fs';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import express from 'express';
import JSZip from 'jszip';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardApp } from '../dashboard/app.ts';
import { mountApis } from '../src/api/mount.ts';
import { loadConfig } from '../src/config.ts';
import { businessDateOf } from '../src/dates.ts';
import { importCardCodes } from '../src/inventory/import.ts';
import { accountCode } from '../src/ledger/accounts.ts';
import { credit, debit } from '../src/ledger/ledger.ts';
import { signedHeaders } from '../src/resellers/signature.ts';
import { freePort } from '../src/runtime/temporal-dev-server.ts';
import { settleDay } from '../src/settlement/settle.ts';
import { Users } from '../src/users/users.ts';
import { userActor } from './support/actors.ts';
import { openHarness, type Harness } from './support/harness.ts';
import { testStock } from './support/stock.ts';
import { openWorld, type World } from './support/world.ts';
import { untranslatedInContext, ZH_ROUTES } from './support/zh-render.ts';

/**
 * The first day's fixes in a real browser (Debian's chromium via playwright-core), against a real
 * worker, PostgreSQL and Temporal: the margins table and its XLSX, an ops action answered at once
 * with its progress, and every page in zh without an untranslated word.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = path.resolve('test-output/screenshots');
const PASSWORD = 'browser-firstday-password';

let h: Harness;
let world: World;
let server: Server;
let base: string;
let browser: Browser;
let stuckOrder = 0;
let supplierCode = '';
const download = fs.mkdtempSync(path.join(os.tmpdir(), 'kameng-browser-firstday-'));
const cspViolations: string[] = [];

async function waitForStatus(reference: string, status: string): Promise<number> {
  for (let i = 0; i < 150; i++) {
    const row = await h.db('orders').where({ reseller_order_id: reference }).first();
    if (row?.status === status) return row.id;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`order ${reference} never became ${status}`);
}

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: install it with \`apt-get install -y chromium\`, or set CHROMIUM_PATH`);
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  h = await openHarness({ freshDatabase: true, settings: { publicUrl: base } });
  await h.ledger.openPlatformAccounts();
  world = await openWorld(h, [{ code: 'slowpoke', products: [{ sku: 'SP-CM50', costFen: 4_880, kind: 'topup' }], authorisations: { 中国移动: '2030-12-31', 腾讯: '2030-12-31' } }]);
  const app = express();
  mountApis(app, h.deps, h.client, { fulfillment: h.taskQueue, procurement: h.taskQueue });
  app.use(createDashboardApp({
    db: h.db, ledger: h.ledger, client: h.client, config: loadConfig({ ...process.env, KAMENG_STATEMENT_DIR: path.join(download, 'statements') }), infrastructure: ['浏览器测试 browser test'],
    health: { postgres: '18', migrations: 7, accounts: 1, entries: 0, ledgerImbalanceFen: 0, checkedAt: new Date().toISOString() },
  }));
  server = app.listen(port, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const users = new Users(h.db);
  for (const role of ['ops', 'finance'] as const) await users.upsert({ username: role, role, password: PASSWORD });
  const slowpoke = world.suppliers.slowpoke!;
  supplierCode = slowpoke.code;

  const { reseller, apiSecret } = await h.deps.resellers.create({ code: 'first-shop', name: '第一天小店' });
  await h.deps.resellers.topUpWallet(reseller.id, 50_000, 'opening', { valueDate: '2023-03-01' });
  const place = async (body: Record<string, unknown>) => {
    const text = JSON.stringify(body);
    return fetch(`${base}/api/v1/orders`, { method: 'POST', body: text, headers: signedHeaders({ apiKey: reseller.apiKey, apiSecret }, 'POST', '/api/v1/orders', text) });
  };

  // A card order from a batch the supplier delivered: its margin is the supplier's.
  await h.deps.catalog.createSku({ code: 'QQ30', nameZh: 'Q币30', nameEn: 'QQ 30', brand: '腾讯', kind: 'card_code', faceValueFen: 3_000, lowStockThreshold: 0, procurementBatch: 0 });
  await h.deps.catalog.setPrice({ sku: 'QQ30', tier: 'default', priceFen: 2_950 });
  async function* codes() {
    for (let i = 0; i < 3; i++) yield { line: i + 2, sku: 'QQ30', serial: `QS${i}`, code: `QQ30-FIRSTDAY-${i}`, expiresOn: '' };
  }
  await importCardCodes(h.db, h.deps.vault, { booking: testStock(h.ledger), batchKey: 'firstday-qq30', sku: 'QQ30', unitCostFen: 2_800, source: 'supplier_delivery', supplierId: slowpoke.id, fileName: 'qq30.csv', rows: codes() });
  expect((await place({ resellerOrderId: 'F-CARD', sku: 'QQ30', quantity: 1 })).status).toBeLessThan(300);

  // A top-up the supplier never answers: stuck, waiting for ops.
  await h.deps.catalog.createSku({ code: 'CM50', nameZh: '移动50', nameEn: 'CMCC 50', brand: '中国移动', kind: 'direct_topup', faceValueFen: 5_000, lowStockThreshold: 0, procurementBatch: 0 });
  await h.deps.catalog.setPrice({ sku: 'CM50', tier: 'default', priceFen: 4_950 });
  await h.deps.suppliers.setOffer({ supplierId: slowpoke.id, sku: 'CM50', supplierSku: 'SP-CM50', costFen: 4_880, priority: 10 });
  world.sim.configure('slowpoke', { asyncCompletionMs: Infinity });
  await place({ resellerOrderId: 'F-1', sku: 'CM50', account: '13800138000' });
  stuckOrder = await waitForStatus('F-1', 'stuck');
  world.sim.configure('slowpoke', { asyncCompletionMs: 1_500 });

  // A settled day to download, a payout draft to act on.
  await h.ledger.post({
    idempotencyKey: 'firstday-sale', kind: 'order_sale', businessDate: '2023-03-01',
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

async function logIn(role: 'ops' | 'finance'): Promise<Page> {
  const context = await browser.newContext({ acceptDownloads: true, locale: 'zh-CN' });
  const page = await context.newPage();
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(`${page.url()}: ${m.text()}`); });
  page.on('pageerror', (e) => cspViolations.push(`${page.url()}: ${e.message}`));
  await page.goto(`${base}/login`);
  await page.fill('input[name=username]', role);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/`);
  return page;
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });

describe('the first day in a browser', () => {
  it("shows the margins as a table under the chart, a card code's margin under its supplier, and exports it", async () => {
    const page = await logIn('finance');
    await page.goto(`${base}/?by=supplier`);
    const table = page.locator('#margin-table');
    await table.waitFor();
    const rows = await table.locator('tbody tr').allTextContents();
    const card = rows.find((r) => r.includes(supplierCode));
    expect(card, rows.join(' | ')).toContain('¥1.50');
    expect(rows.some((r) => r.includes('—'))).toBe(false);
    expect(await page.locator('#trial-totals').textContent()).toMatch(/合计/);
    await shot(page, 'overview-margins');

    const [file] = await Promise.all([page.waitForEvent('download'), page.click('#margins-xlsx')]);
    const saved = path.join(download, file.suggestedFilename());
    await file.saveAs(saved);
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(saved);
    const sheet = book.worksheets[0]!;
    expect(sheet.getRow(1).values).toEqual([undefined, '供应商 Supplier', '订单数 Orders', '销售额(元) Gross (¥)', '毛利(元) Margin (¥)', '毛利率 Margin rate']);
    expect(sheet.getRow(2).getCell(1).value).toBe(supplierCode);
    expect(sheet.getRow(2).getCell(4).value).toBe(1.5);
    expect(sheet.getRow(sheet.rowCount).getCell(1).value).toBe('合计 Total');
    await page.close();
  });

  it('answers an ops action at once and shows its progress on the order page until it is done', async () => {
    const page = await logIn('ops');
    await page.goto(`${base}/fulfillment/${stuckOrder}`);
    expect(await page.textContent('#order-status')).toBe('卡单');
    await page.selectOption('select[name=action]', 'retry');
    await page.fill('input[name=reason]', '供应商恢复 supplier is back');
    const answered = page.waitForResponse((r) => r.url().endsWith(`/fulfillment/${stuckOrder}/action`));
    const clicked = Date.now();
    await page.click('#ops-action button[type=submit]');
    const answer = await answered;
    expect(answer.status()).toBe(202);
    expect(Date.now() - clicked).toBeLessThan(5_000);
    // the progress line, while the workflow works (the supplier answers after 1.5 s)
    await page.waitForSelector('#action-progress:not([hidden])');
    expect(await page.textContent('#action-progress')).toMatch(/已受理|执行中/);
    await shot(page, 'fulfillment-action-running');
    await page.waitForURL(/done=/, { timeout: 60_000 });
    expect(await page.textContent('.notice')).toContain('已成功');
    expect(await page.getAttribute('#order-status', 'data-status')).toBe('succeeded');
    // local activities (plan, first placement, completion) are in the history now
    const events = await page.locator('#history tr[data-event="localActivity"]').allTextContents();
    expect(events.join(' ')).toContain('规划');
    await shot(page, 'fulfillment-order-history');
    await page.close();
  });

  it('drafts a payout batch from the page and cancels it there', async () => {
    const page = await logIn('finance');
    await page.goto(`${base}/settlement`);
    await page.fill('#payout-draft input[name=from]', '2026-01-01');
    await page.fill('#payout-draft input[name=to]', businessDateOf(new Date()));
    await page.click('#payout-draft button');
    await page.waitForURL(/done=/);
    const batch = await h.db('payout_batches').orderBy('id', 'desc').first();
    expect(batch.status).toBe('draft');
    expect(await page.textContent('.notice')).toContain(`#${batch.id}`);
    const cancel = page.locator(`form[action="/settlement/payouts/${batch.id}/cancel"]`);
    await cancel.locator('input[name=reason]').fill('草稿作废 drafted by mistake');
    await cancel.locator('button').click();
    await page.waitForURL(/done=payout/);
    expect(await page.textContent('.notice')).toContain('已取消');
    expect((await h.db('payout_batches').where({ id: batch.id }).first()).status).toBe('cancelled');
    expect(await h.db('audit_log').where({ action: 'payout.cancel', subject_id: String(batch.id) })).toHaveLength(1);
    await page.close();
  });

  it('downloads the statement as a zip of CSV files, one table each', async () => {
    const page = await logIn('finance');
    await page.goto(`${base}/settlement?date=2023-03-01`);
    const [file] = await Promise.all([page.waitForEvent('download'), page.click('a[href*="format=csv"]')]);
    const saved = path.join(download, file.suggestedFilename());
    await file.saveAs(saved);
    expect(saved).toMatch(/\.zip$/);
    const zip = await JSZip.loadAsync(fs.readFileSync(saved));
    const names = Object.keys(zip.files);
    expect(names[0]).toBe('01-summary-汇总.csv');
    for (const name of names) {
      const lines = (await zip.files[name]!.async('string')).trim().split('\r\n');
      // one header, then rows, then the totals row with the count
      expect(lines.filter((l) => l.includes('Settlement date'))).toHaveLength(1);
      expect(lines.at(-1)).toMatch(/合计 Total,\d+ 行 rows/);
    }
    // the day's summary has its CSV too, the same way
    const day = await page.request.get(`${base}/settlement/day.zip?date=2023-03-01`);
    expect(day.headers()['content-type']).toBe('application/zip');
    const dayZip = await JSZip.loadAsync(await day.body());
    expect(Object.keys(dayZip.files)[0]).toBe('01-summary-汇总.csv');
    await page.close();
  });

  it('shows every page in zh with no untranslated word', async () => {
    const page = await logIn('finance');
    const found: Record<string, string[]> = {};
    for (const route of ZH_ROUTES) {
      const url = route.replace(':order', String(stuckOrder));
      await page.goto(`${base}${url}${url.includes('?') ? '&' : '?'}lang=zh`);
      const words = untranslatedInContext(await page.content());
      if (words.length) found[url] = words.map((w) => `${w.word}: …${w.context}…`);
    }
    expect(found).toEqual({});
    // the settlement is in the audit log, in Chinese
    expect(await h.db('audit_log').where({ action: 'settlement.settle', subject_id: '2023-03-01' })).toHaveLength(1);
    await page.goto(`${base}/audit`);
    expect(await page.locator('tr[data-action="settlement.settle"]').textContent()).toContain('日结算');
    await shot(page, 'audit-zh');
    await page.goto(`${base}/reconciliation`);
    await shot(page, 'reconciliation-zh');
    await page.goto(`${base}/settlement`);
    await shot(page, 'settlement-zh');
    await page.close();
  });

  it('broke no Content-Security-Policy rule on any page it visited', () => {
    expect(cspViolations).toEqual([]);
  });
});

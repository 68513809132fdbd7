import fs from 'node:fs';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express from 'express';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardApp } from '../dashboard/app.ts';
import { mountApis } from '../src/api/mount.ts';
import { loadConfig } from '../src/config.ts';
import { importCardCodes } from '../src/inventory/import.ts';
import { onSupplierCredit } from '../src/procurement/booking.ts';
import { signedHeaders } from '../src/resellers/signature.ts';
import { freePort } from '../src/runtime/temporal-dev-server.ts';
import { Users } from '../src/users/users.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';
import { cardSku, openWorld, supplierCode, type World } from './support/world.ts';

/**
 * After-sales in a real browser: a reseller's complaint arrives through the signed API, ops see the
 * supplier's answer on the complaint's page, replace the code, and the reseller's callback is delivered.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = path.resolve('test-output/screenshots');
const PASSWORD = 'browser-aftersales-password';
const CARDS = supplierCode('bcards');

let h: Harness;
let world: World;
let server: Server;
let receiver: Server;
let base: string;
let browser: Browser;
const received: any[] = [];
let credentials: { apiKey: string; apiSecret: string };
let ordered: { resellerOrderId: string; serial: string; code: string };
const complaintKey = uniq('bc');
const OPS = uniq('ops');
const VIEWER = uniq('viewer');

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: install it with \`apt-get install -y chromium\`, or set CHROMIUM_PATH`);
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  h = await openHarness({ settings: { publicUrl: base } });
  await h.ledger.openPlatformAccounts();
  world = await openWorld(h, [{ code: CARDS, products: [{ sku: 'B-QQ', costFen: 9_000, kind: 'card_batch' }], authorisations: { 腾讯: '2030-12-31' } }]);
  const app = express();
  mountApis(app, h.deps, h.client, { fulfillment: h.taskQueue, procurement: h.taskQueue });
  app.use(createDashboardApp({
    db: h.db, ledger: h.ledger, client: h.client, config: loadConfig(), infrastructure: ['browser test'],
    health: { postgres: '18', migrations: 7, accounts: 1, entries: 0, ledgerImbalanceFen: 0, checkedAt: new Date().toISOString() },
  }));
  server = app.listen(port, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push(JSON.parse(body));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const users = new Users(h.db);
  await users.upsert({ username: OPS, role: 'ops', password: PASSWORD });
  await users.upsert({ username: VIEWER, role: 'viewer', password: PASSWORD });

  // stock from the supplier, a reseller with a callback endpoint, and a delivered card order
  const sku = await cardSku(h, '腾讯', { priceFen: 9_800, threshold: 0, batch: 0 });
  const key = uniq('batch');
  async function* rows() {
    for (let i = 0; i < 3; i++) yield { line: i + 2, sku: sku.code, serial: `${key}-S${i}`, code: `CODE-${key}-${i}`, expiresOn: '' };
  }
  const supplierId = world.suppliers[CARDS]!.id;
  await importCardCodes(h.db, h.deps.vault, {
    booking: onSupplierCredit(h.ledger, { key: `card-import:${key}`, supplierId }), batchKey: key, sku: sku.code, unitCostFen: 9_000,
    source: 'supplier_delivery', supplierId, fileName: `${key}.csv`, rows: rows(),
  });
  const { reseller, apiSecret } = await h.deps.resellers.create({ code: uniq('bshop'), name: '售后浏览器小店', callbackUrl: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/notify` });
  await h.deps.resellers.topUpWallet(reseller.id, 100_000, 'opening');
  credentials = { apiKey: reseller.apiKey, apiSecret };
  const resellerOrderId = uniq('B');
  const placed = await call('POST', '/api/v1/orders', { resellerOrderId, sku: sku.code, quantity: 1 });
  ordered = { resellerOrderId, serial: placed.order.codes[0].serial, code: placed.order.codes[0].code };
  world.sim.supplier(CARDS).codeVerdicts.set(ordered.serial, 'used');

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
afterAll(async () => {
  await browser?.close();
  server?.close();
  receiver?.close();
  await world?.stop();
  await h?.close();
});

async function call(method: 'GET' | 'POST', p: string, body?: unknown) {
  const text = body === undefined ? '' : JSON.stringify(body);
  const res = await fetch(`${base}${p}`, { method, body: method === 'POST' ? text : undefined, headers: signedHeaders(credentials, method, p, text) });
  return (await res.json()) as any;
}

const problems: string[] = [];
async function logIn(username: string): Promise<Page> {
  const context = await browser.newContext({ locale: 'zh-CN' });
  const page = await context.newPage();
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) problems.push(`${page.url()}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`${page.url()}: ${e.message}`));
  await page.goto(`${base}/`);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/`);
  return page;
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });

describe('after-sales in a browser', () => {
  it('a complaint arrives, ops see the supplier verify it and replace the code, the reseller is called back', async () => {
    const filed = await call('POST', `/api/v1/orders/${ordered.resellerOrderId}/complaints`, { complaintId: complaintKey, kind: 'used_code', note: '顾客说卡密已被使用' });
    expect(filed.complaint.status).toBe('OPEN');

    const page = await logIn(OPS);
    await page.click('a[href="/aftersales"]');
    const row = page.locator(`tr[data-complaint="${complaintKey}"]`);
    await expect(row.textContent()).resolves.toContain(ordered.serial);
    await shot(page, 'aftersales-queue');
    await row.locator('a').first().click();
    // the supplier's answer is on the timeline before ops decide
    for (let i = 0; i < 50 && (await page.locator('#supplier-verdict').textContent()) !== 'used'; i++) {
      await page.waitForTimeout(200);
      await page.reload();
    }
    expect(await page.locator('#supplier-verdict').textContent()).toBe('used');
    expect(await page.locator('#timeline').textContent()).toContain('供应商答复');
    await page.fill('#decide input[name=reason]', '供应商确认卡密已被使用，换卡');
    await page.click('#decide button[value=replace]');
    await page.waitForURL(/done=replaced/);
    expect(await page.locator('#complaint-status').textContent()).toBe('已换卡');
    expect(await page.locator('#decide').count()).toBe(0);
    await shot(page, 'aftersales-replaced');

    // the reseller's callback, signed, says REPLACED with the new serial; the API gives it the new code
    for (let i = 0; i < 100 && !received.some((b) => b.complaintId === complaintKey); i++) await new Promise((r) => setTimeout(r, 100));
    const told = received.find((b) => b.complaintId === complaintKey);
    expect(told).toMatchObject({ type: 'complaint', status: 'REPLACED', resellerOrderId: ordered.resellerOrderId });
    const got = await call('GET', `/api/v1/complaints/${complaintKey}`);
    expect(got.complaint.replacement.serial).toBe(told.replacementSerial);
    expect(got.complaint.replacement.code).not.toBe(ordered.code);

    // support finds the order by the old serial: serials with batch and supplier, never a code
    await page.goto(`${base}/orders/search?q=${encodeURIComponent(ordered.serial)}`);
    const results = await page.locator('#search-results').textContent();
    expect(results).toContain(ordered.resellerOrderId);
    expect(results).toContain(told.replacementSerial);
    expect(results).toContain(CARDS);
    expect(results).not.toContain('CODE-');
    await shot(page, 'aftersales-search');
    await page.close();
  });

  it('a viewer sees the complaint but no decision buttons', async () => {
    const row = await h.db('complaints').where({ complaint_key: complaintKey }).first();
    const page = await logIn(VIEWER);
    await page.goto(`${base}/aftersales/${row.id}`);
    expect(await page.locator('#decide').count()).toBe(0);
    await page.goto(`${base}/aftersales?status=all`);
    expect(await page.locator('#supplier-quality').textContent()).toContain(CARDS);
    await page.close();
    expect(problems).toEqual([]);
  });
});

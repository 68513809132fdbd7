import fs from 'node:fs';
import type { Server } from 'node:http';
import express from 'express';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardApp } from '../dashboard/app.ts';
import { mountApis } from '../src/api/mount.ts';
import { loadConfig } from '../src/config.ts';
import { signedHeaders } from '../src/resellers/signature.ts';
import { freePort } from '../src/runtime/temporal-dev-server.ts';
import { Users } from '../src/users/users.ts';
import { onboardResellerStep, recordBankRechargeStep, recordLargeRechargeWithApprovalStep } from './support/onboarding-reseller-steps.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';
import { openWorld, supplierCode, type World } from './support/world.ts';

/**
 * Onboarding a reseller in a real browser (Debian's chromium, playwright-core) against a real
 * worker, PostgreSQL and Temporal: an admin onboards it and reads its secret once, finance records
 * a ¥5,000 bank recharge and a ¥60,000 one a second finance user approves, and the reseller places
 * its first signed order with the new key, fulfilled by the supplier simulator.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PASSWORD = 'browser-resellers-password';

let h: Harness;
let world: World;
let server: Server;
let base: string;
let browser: Browser;
let sku: string;
const who = { admin: uniq('admin').toLowerCase(), finance: uniq('finance').toLowerCase(), finance2: uniq('finance2').toLowerCase() };

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: install it with \`apt-get install -y chromium\`, or set CHROMIUM_PATH`);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  h = await openHarness({ settings: { publicUrl: base } });
  await h.ledger.openPlatformAccounts();
  const supplier = supplierCode('swift');
  world = await openWorld(h, [{ code: supplier, products: [{ sku: `${supplier}-CU30`, costFen: 2_900, kind: 'topup' }], authorisations: { 中国联通: '2030-12-31' } }]);
  world.sim.configure(supplier, { asyncCompletionMs: 50 });
  sku = uniq('CU30').toUpperCase();
  await h.deps.catalog.createSku({ code: sku, nameZh: '联通30', nameEn: 'CU 30', brand: '中国联通', kind: 'direct_topup', faceValueFen: 3_000, lowStockThreshold: 0, procurementBatch: 0 });
  await h.deps.catalog.setPrice({ sku, tier: 'default', priceFen: 2_980 });
  await h.deps.suppliers.setOffer({ supplierId: world.suppliers[supplier]!.id, sku, supplierSku: `${supplier}-CU30`, costFen: 2_900, priority: 10 });

  const app = express();
  mountApis(app, h.deps, h.client, { fulfillment: h.taskQueue, procurement: h.taskQueue });
  app.use(createDashboardApp({
    db: h.db, ledger: h.ledger, client: h.client, config: loadConfig(process.env), infrastructure: ['browser test'], resellers: h.deps.resellers,
    health: { postgres: '18', migrations: 7, accounts: 1, entries: 0, ledgerImbalanceFen: 0, checkedAt: new Date().toISOString() },
  }));
  server = app.listen(port, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const users = new Users(h.db);
  await users.upsert({ username: who.admin, role: 'admin', password: PASSWORD });
  await users.upsert({ username: who.finance, role: 'finance', password: PASSWORD });
  await users.upsert({ username: who.finance2, role: 'finance', password: PASSWORD });
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
});

async function logIn(username: string): Promise<Page> {
  const context = await browser.newContext({ locale: 'zh-CN' });
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/`);
  return page;
}

describe('onboarding a reseller in a browser', () => {
  it('onboards, recharges ¥5,000 and ¥60,000 (second approval), and the reseller\'s first signed order is fulfilled', async () => {
    const code = uniq('shop');
    const adminPage = await logIn(who.admin);
    const credentials = await onboardResellerStep(adminPage, base, { code, name: '新开小店 New shop', tier: 'default', lowBalance: '1000.00' });
    const financePage = await logIn(who.finance);
    await recordBankRechargeStep(financePage, base, { resellerCode: code, reference: uniq('BK') });
    const approverPage = await logIn(who.finance2);
    await recordLargeRechargeWithApprovalStep(financePage, approverPage, base, { resellerCode: code, reference: uniq('BK') });
    const reseller = await h.deps.resellers.byCode(code);
    expect(await h.deps.resellers.walletBalance(reseller.id)).toBe(6_500_000);

    const body = JSON.stringify({ resellerOrderId: 'first-1', sku, account: '13100131000' });
    const placed = await fetch(`${base}/api/v1/orders`, { method: 'POST', body, headers: signedHeaders(credentials, 'POST', '/api/v1/orders', body) });
    expect(placed.status).toBe(201);
    let status = '';
    for (let i = 0; i < 150 && status !== 'succeeded'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const path = '/api/v1/orders/first-1';
      const got = await fetch(`${base}${path}`, { headers: signedHeaders(credentials, 'GET', path, '') });
      status = ((await got.json()) as any).order?.status ?? '';
    }
    expect(status).toBe('succeeded');
    expect(await h.deps.resellers.walletBalance(reseller.id)).toBe(6_500_000 - 2_980);
  });

  it('a refused recharge form comes back with its fields marked, and nothing recorded', async () => {
    const financePage = await logIn(who.finance);
    await financePage.goto(`${base}/finance/recharges`);
    const form = financePage.locator('form#record-recharge');
    await form.locator('input[name=resellerCode]').fill('no-such-shop');
    await form.locator('input[name=payer]').fill('张三');
    await form.locator('input[name=amount]').fill('12.345');
    await form.locator('input[name=reference]').fill(uniq('BK'));
    await form.locator('button[type=submit]').click();
    await financePage.waitForSelector('#form-error');
    expect(await financePage.locator('.field-error[data-field=amount]').count()).toBe(1);
  });
});

import fs from 'node:fs';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSupplierSimulator, type SupplierSimulator } from '../fixtures/supplier-simulator/server.ts';
import type { SimSupplierConfig } from '../fixtures/supplier-simulator/types.ts';
import { createDashboardApp } from '../dashboard/app.ts';
import { mountApis } from '../src/api/mount.ts';
import { loadConfig } from '../src/config.ts';
import { signedHeaders } from '../src/resellers/signature.ts';
import { freePort } from '../src/runtime/temporal-dev-server.ts';
import { Users } from '../src/users/users.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';
import { approveDocument, createSku, createSupplierWithOffer, setTierPrices, uploadDocument } from './support/onboarding-catalog-steps.ts';
import { onboardResellerStep, recordBankRechargeStep, recordLargeRechargeWithApprovalStep } from './support/onboarding-reseller-steps.ts';

/**
 * The whole onboarding of issue 18, as people do it in the dashboard, in the real chromium against
 * a real worker, PostgreSQL and Temporal: ops creates a top-up SKU and a supplier with its offer,
 * ops uploads the supplier's licence and brand authorisation and compliance (another user) approves
 * them, finance prices the SKU per tier, an admin onboards a reseller (secret shown once), finance
 * records a ¥5,000 bank recharge, and the reseller's first signed order, placed with the new key, is
 * fulfilled by the new supplier; a ¥60,000 recharge waits for a second finance user.
 * The only simulated party is the supplier (the simulator), which knows nothing of us until ops
 * registers it with the API key it issued.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PASSWORD = 'browser-onboarding-password';

let h: Harness;
let sim: SupplierSimulator;
let server: Server;
let base: string;
let browser: Browser;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kameng-onboarding-'));
const supplierCode = uniq('newsup').toLowerCase();
const who = {
  admin: uniq('admin').toLowerCase(), ops: uniq('ops').toLowerCase(), compliance: uniq('compliance').toLowerCase(),
  finance: uniq('finance').toLowerCase(), finance2: uniq('finance2').toLowerCase(),
};
// the supplier as it is in the outside world: its API key is its own; the callback secret is ours to issue
const simSupplier: SimSupplierConfig = {
  code: supplierCode, name: '新入驻供应商 New supplier', apiKey: `${supplierCode}-api-key`, callbackSecret: 'not-yet-issued', balanceFen: 100_000_000,
  statementFormat: 'csv', products: [{ sku: 'NS-CU50', costFen: 4_850, kind: 'topup' }],
};

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: install it with \`apt-get install -y chromium\`, or set CHROMIUM_PATH`);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  h = await openHarness({ settings: { publicUrl: base } });
  await h.ledger.openPlatformAccounts();
  sim = await startSupplierSimulator({ suppliers: [simSupplier] });
  sim.configure(supplierCode, { asyncCompletionMs: 50 });

  const app = express();
  mountApis(app, h.deps, h.client, { fulfillment: h.taskQueue, procurement: h.taskQueue });
  app.use(createDashboardApp({
    db: h.db, ledger: h.ledger, client: h.client, infrastructure: ['browser test'], resellers: h.deps.resellers, suppliers: h.deps.suppliers,
    config: loadConfig({ ...process.env, KAMENG_STATEMENT_DIR: path.join(dir, 'statements'), KAMENG_DOCUMENT_DIR: path.join(dir, 'documents') }),
    health: { postgres: '18', migrations: 24, accounts: 1, entries: 0, ledgerImbalanceFen: 0, checkedAt: new Date().toISOString() },
  }));
  server = app.listen(port, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const users = new Users(h.db);
  await users.upsert({ username: who.admin, role: 'admin', password: PASSWORD });
  await users.upsert({ username: who.ops, role: 'ops', password: PASSWORD });
  await users.upsert({ username: who.compliance, role: 'compliance', password: PASSWORD });
  await users.upsert({ username: who.finance, role: 'finance', password: PASSWORD });
  await users.upsert({ username: who.finance2, role: 'finance', password: PASSWORD });
  fs.writeFileSync(path.join(dir, 'licence.pdf'), Buffer.from('%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n'));
  fs.writeFileSync(path.join(dir, 'authorisation.png'), Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 1)]));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
afterAll(async () => {
  await browser?.close();
  server?.close();
  await sim?.stop();
  await h?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const pageErrors: string[] = [];

async function logIn(username: string): Promise<Page> {
  const context = await browser.newContext({ locale: 'zh-CN' });
  const page = await context.newPage();
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) pageErrors.push(`${page.url()}: ${m.text()}`); });
  page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
  await page.goto(`${base}/login`);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/`);
  return page;
}

describe('onboarding, the whole walk', () => {
  it('supplier, 资质 (uploaded by one, approved by another), SKU with tier prices, reseller, ¥5,000 recharge: the first signed order is fulfilled by the new supplier; ¥60,000 waits for a second approval', async () => {
    const sku = uniq('CU50').toUpperCase();
    const brand = '中国联通';
    const ops = await logIn(who.ops);
    await createSku(ops, base, { code: sku, nameZh: '联通话费50元', nameEn: 'China Unicom top-up ¥50', brand, kind: 'direct_topup', faceValue: '50.00' });
    const { callbackSecret } = await createSupplierWithOffer(ops, base,
      { code: supplierCode, name: simSupplier.name, apiBaseUrl: sim.baseUrl(supplierCode), apiKey: simSupplier.apiKey },
      { sku, supplierSku: 'NS-CU50', cost: '48.50' });
    // ops hands the issued callback secret to the supplier, who signs its callbacks with it from now on
    simSupplier.callbackSecret = callbackSecret;

    const licence = await uploadDocument(ops, base, { supplier: supplierCode, kind: 'business_licence', documentNo: '91310000MA1K0NB', validFrom: '2020-01-01', expiresOn: '2035-12-31', file: path.join(dir, 'licence.pdf') });
    const authorisation = await uploadDocument(ops, base, { supplier: supplierCode, kind: 'brand_authorisation', brand, documentNo: 'CU-AUTH-2026', validFrom: '2020-01-01', expiresOn: '2035-12-31', file: path.join(dir, 'authorisation.png') });
    // pending 资质: not routable yet
    expect(await h.deps.suppliers.qualifiedFor(sku)).toEqual([]);
    const compliance = await logIn(who.compliance);
    await approveDocument(compliance, base, licence, '与原件核对一致 matches the original');
    await approveDocument(compliance, base, authorisation, '授权链完整 authorisation chain complete');
    expect((await h.deps.suppliers.qualifiedFor(sku)).map((o) => o.supplierCode)).toEqual([supplierCode]);

    const finance = await logIn(who.finance);
    await setTierPrices(finance, base, sku, [{ tier: 'default', price: '49.60' }, { tier: 'silver', price: '49.40' }, { tier: 'gold', price: '49.20' }]);

    const admin = await logIn(who.admin);
    const shop = uniq('shop').toLowerCase();
    const credentials = await onboardResellerStep(admin, base, { code: shop, name: '新开小店 New shop', tier: 'default', lowBalance: '500.00' });
    await recordBankRechargeStep(finance, base, { resellerCode: shop, reference: uniq('BK') });
    const reseller = await h.deps.resellers.byCode(shop);
    expect(await h.deps.resellers.walletBalance(reseller.id)).toBe(500_000);

    const body = JSON.stringify({ resellerOrderId: 'first-order', sku, account: '18600001111' });
    const placed = await fetch(`${base}/api/v1/orders`, { method: 'POST', body, headers: signedHeaders(credentials, 'POST', '/api/v1/orders', body) });
    expect(placed.status).toBe(201);
    let order: Record<string, unknown> = {};
    for (let i = 0; i < 200 && order.status !== 'succeeded'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const got = await fetch(`${base}/api/v1/orders/first-order`, { headers: signedHeaders(credentials, 'GET', '/api/v1/orders/first-order', '') });
      order = ((await got.json()) as { order?: Record<string, unknown> }).order ?? {};
    }
    expect(order.status).toBe('succeeded');
    const placedWith = await h.db('supplier_transactions as t').join('suppliers as s', 's.id', 't.supplier_id').join('orders as o', 'o.id', 't.order_id')
      .where('o.reseller_order_id', 'first-order').andWhere('o.reseller_id', reseller.id).first('s.code', 't.cost_fen');
    expect({ code: placedWith?.code, costFen: Number(placedWith?.cost_fen) }).toEqual({ code: supplierCode, costFen: 4_850 });
    expect(await h.deps.resellers.walletBalance(reseller.id)).toBe(500_000 - 4_960);

    // a ¥60,000 recharge waits for a second finance user before the wallet is credited
    const approver = await logIn(who.finance2);
    await recordLargeRechargeWithApprovalStep(finance, approver, base, { resellerCode: shop, reference: uniq('BK') });
    expect(await h.deps.resellers.walletBalance(reseller.id)).toBe(500_000 - 4_960 + 6_000_000);
    expect(pageErrors).toEqual([]);
  });
});

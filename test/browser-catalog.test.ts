import fs from 'node:fs';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardApp } from '../dashboard/app.ts';
import { loadConfig } from '../src/config.ts';
import { freePort } from '../src/runtime/temporal-dev-server.ts';
import { Users, type Role } from '../src/users/users.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';
import { approveDocument, createSku, createSupplierWithOffer, setTierPrices, uploadDocument } from './support/onboarding-catalog-steps.ts';

/**
 * The catalog half of onboarding in a real browser (Debian's chromium via playwright-core): a SKU
 * with tier prices, a supplier with its offer, its 资质 uploaded by one user and approved by another,
 * after which routing uses the supplier. The steps are test/support/onboarding-catalog-steps.ts.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PASSWORD = 'browser-test-password';

let h: Harness;
let server: Server;
let base: string;
let browser: Browser;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kameng-browser-catalog-'));
const names = { ops: uniq('ops-a').toLowerCase(), compliance: uniq('compliance-b').toLowerCase(), finance: uniq('finance').toLowerCase() };

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: install it with \`apt-get install -y chromium\`, or set CHROMIUM_PATH`);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  h = await openHarness({ worker: false });
  await h.ledger.openPlatformAccounts();
  const app = express();
  app.use(createDashboardApp({
    db: h.db, ledger: h.ledger, client: h.client, infrastructure: ['browser test'], suppliers: h.deps.suppliers,
    config: loadConfig({ ...process.env, KAMENG_STATEMENT_DIR: path.join(dir, 'statements'), KAMENG_DOCUMENT_DIR: path.join(dir, 'documents') }),
    health: { postgres: '18', migrations: 18, accounts: 1, entries: 0, ledgerImbalanceFen: 0, checkedAt: new Date().toISOString() },
  }));
  server = app.listen(port, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const users = new Users(h.db);
  for (const role of ['ops', 'compliance', 'finance'] as const) await users.upsert({ username: names[role], role, password: PASSWORD });
  fs.writeFileSync(path.join(dir, 'licence.pdf'), Buffer.from('%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n'));
  fs.writeFileSync(path.join(dir, 'authorisation.png'), Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 1)]));
  fs.writeFileSync(path.join(dir, 'fake.pdf'), 'MZ this is not a PDF');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
afterAll(async () => {
  await browser?.close();
  server?.close();
  await h?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const pageErrors: string[] = [];

async function logIn(role: Exclude<Role, 'admin' | 'viewer'>): Promise<Page> {
  const context = await browser.newContext({ locale: 'zh-CN' });
  const page = await context.newPage();
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) pageErrors.push(`${page.url()}: ${m.text()}`); });
  page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
  await page.goto(`${base}/`);
  await page.fill('input[name=username]', names[role]);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/`);
  return page;
}

describe('catalog onboarding in a browser', () => {
  it('a SKU with tier prices, a supplier with its offer, its 资质 uploaded by A and approved by B: then routing uses it', async () => {
    const sku = uniq('OB').toUpperCase();
    const brand = uniq('品牌');
    const supplier = uniq('ob-sup').toLowerCase();
    const ops = await logIn('ops');
    const finance = await logIn('finance');
    const compliance = await logIn('compliance');

    await createSku(ops, base, { code: sku, nameZh: '测试点卡100', nameEn: 'Test card 100', brand, kind: 'card_code', faceValue: '100.00', lowStockThreshold: '10', procurementBatch: '50' });
    const { callbackSecret } = await createSupplierWithOffer(ops, base, { code: supplier, name: '入驻供应商 Onboarded', apiBaseUrl: 'https://api.onboarded.example/v1', apiKey: 'supplier-api-key' },
      { sku, supplierSku: 'OB-100', cost: '94.00' });
    expect(callbackSecret).toMatch(/^[A-Za-z0-9_-]{32}$/);
    // the secret is not on the supplier page afterwards
    await ops.goto(`${base}/admin/suppliers/${supplier}`);
    expect(await ops.content()).not.toContain(callbackSecret);

    // a price below the best cost is refused on the form, field by field
    await finance.goto(`${base}/admin/skus/${sku}`);
    await finance.locator('#price-form [name=price]').fill('93.00');
    await finance.locator('#price-form [name=reason]').fill('too cheap');
    await finance.locator('#price-form button[type=submit]').click();
    await finance.waitForLoadState();
    expect(await finance.locator('.field-error[data-field=price]').innerText()).toContain('94.00');
    await setTierPrices(finance, base, sku, [{ tier: 'default', price: '98.00' }, { tier: 'silver', price: '97.00' }, { tier: 'gold', price: '96.50' }]);

    // a file that is not what it says is refused by its content
    await expect(uploadDocument(ops, base, { supplier, kind: 'business_licence', documentNo: 'BL-X', validFrom: '2020-01-01', expiresOn: '2035-12-31', file: path.join(dir, 'fake.pdf') }))
      .rejects.toThrow('not a PDF, JPEG or PNG');
    const licence = await uploadDocument(ops, base, { supplier, kind: 'business_licence', documentNo: '91310000MA1K', validFrom: '2020-01-01', expiresOn: '2035-12-31', file: path.join(dir, 'licence.pdf') });
    const authorisation = await uploadDocument(ops, base, { supplier, kind: 'brand_authorisation', brand, documentNo: 'AUTH-2026-001', validFrom: '2020-01-01', expiresOn: '2035-12-31', file: path.join(dir, 'authorisation.png') });
    expect(await h.deps.suppliers.qualifiedFor(sku)).toEqual([]);

    // the document is served to a logged-in user, as it was uploaded
    const served = await ops.request.get(`${base}/compliance/documents/${authorisation}`);
    expect(served.headers()['content-type']).toBe('image/png');
    expect(served.headers()['x-content-type-options']).toBe('nosniff');
    const anonymous = await fetch(`${base}/compliance/documents/${authorisation}`, { redirect: 'manual' });
    expect(anonymous.status).not.toBe(200);

    await approveDocument(compliance, base, licence, '与原件核对一致 matches the original');
    await approveDocument(compliance, base, authorisation, '授权链完整 authorisation chain complete');
    expect((await h.deps.suppliers.qualifiedFor(sku)).map((o) => [o.supplierCode, o.costFen])).toEqual([[supplier, 9_400]]);
    expect((await h.deps.catalog.priceFor(sku, { tier: 'gold', resellerId: 1 })).priceFen).toBe(9_650);

    const audit = await h.db('audit_log').whereIn('subject_id', [supplier, sku, String(licence), String(authorisation)]).pluck('action');
    expect(audit).toEqual(expect.arrayContaining(['sku.create', 'price.set', 'supplier.create', 'supplier.offer_create', 'compliance.upload', 'compliance.approve']));
    expect(pageErrors).toEqual([]);
  });
});

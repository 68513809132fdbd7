import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base32Decode, hotp, stepAt, TOTP_STEP_SECONDS } from '../src/portal/totp.ts';
import { DAY_BOTH, openPortalWorld, PORTAL_PASSWORD, type PortalWorld } from './support/portal-world.ts';

/**
 * The reseller portal in a real browser (Debian's chromium, playwright-core): an owner logs in,
 * sees the analysis chart, downloads a statement and reads it back, rotates its API secret and
 * places a signed order with the new one; a staff user cannot rotate; every page at phone size.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = path.resolve('test-output/screenshots');
const PHONE = { width: 390, height: 844 };

let w: PortalWorld;
let browser: Browser;
/** Shop a's callback endpoint (a local server; the portal may send to 127.0.0.1 in this world). */
const callbacks: string[] = [];
const receiver = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    callbacks.push(body);
    res.writeHead(200).end();
  });
});
const download = fs.mkdtempSync(path.join(os.tmpdir(), 'kameng-portal-'));

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: install it with \`apt-get install -y chromium\`, or set CHROMIUM_PATH`);
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  w = await openPortalWorld({ allowPrivateCallbacks: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
afterAll(async () => {
  receiver.close();
  await browser?.close();
  await w?.close();
  fs.rmSync(download, { recursive: true, force: true });
});

async function logIn(username: string, viewport?: { width: number; height: number }): Promise<Page> {
  const context = await browser.newContext({ locale: 'zh-CN', acceptDownloads: true, ...(viewport ? { viewport, isMobile: true, hasTouch: true } : {}) });
  const page = await context.newPage();
  page.on('pageerror', (err) => { throw err; });
  await page.goto(`${w.base}/portal/login`);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', PORTAL_PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`${w.base}/portal`);
  return page;
}

describe('the reseller portal in a browser', () => {
  it('an owner sees the chart, reads a downloaded statement back, rotates its secret and orders with the new one', async () => {
    const shop = w.shops.a;
    const page = await logIn(shop.owner);
    expect(await page.textContent('#portal-reseller')).toContain(shop.code);
    expect(await page.textContent('#orders-today')).toBe('1');

    await page.click('a[href="/portal/analysis"]');
    await page.waitForSelector('#portal-spend-chart[data-rendered="1"]');
    const painted = await page.$eval('#portal-spend-chart', (c) => (c as HTMLCanvasElement).width > 0);
    expect(painted).toBe(true);
    expect(await page.locator('#best-sellers tbody tr').count()).toBe(1);

    await page.click('a[href="/portal/statements"]');
    const [file] = await Promise.all([page.waitForEvent('download'), page.click(`a[href="/portal/statements/${DAY_BOTH}.xlsx"]`)]);
    const saved = path.join(download, file.suggestedFilename());
    await file.saveAs(saved);
    expect(path.basename(saved)).toBe(`statement-${shop.code}-${DAY_BOTH}.xlsx`);
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(saved);
    const summary = book.getWorksheet('汇总 Summary')!;
    expect(summary.getRow(2).getCell(1).value).toBeTruthy();
    expect(String(summary.getRow(2).getCell(2).value)).toBe(shop.code);
    // the day's ¥10,000 top-up, in the summary and on the top-ups sheet
    expect(Number(summary.getRow(2).getCell(5).value)).toBe(10_000);
    expect(book.worksheets.some((s) => /Top-ups/.test(s.name))).toBe(true);

    await page.click('a[href="/portal/api-keys"]');
    await page.fill('input[name=overlapHours]', '1');
    await page.click('#rotate');
    const secret = (await page.textContent('#new-secret'))!.trim();
    expect(secret).not.toBe(shop.credentials.apiSecret);
    const placed = await w.placeCardOrder(shop, 'browser-new-secret', { apiKey: shop.credentials.apiKey, apiSecret: secret });
    expect(placed.status).toBe(201);
    await page.click('#revoke-previous');
    await page.waitForSelector('#notice');
    // the API hosts stop accepting the old secret within their credential cache's minute
    expect((await w.h.db('resellers').where({ id: shop.id }).first('previous_secret_sealed')).previous_secret_sealed).toBeNull();

    await page.goto(`${w.base}/portal/orders?orderId=browser-new-secret`);
    await page.click('#orders tbody a');
    await page.click('#reveal');
    expect(await page.locator('#revealed-codes td.code').count()).toBe(1);
  });

  it('a staff user files a complaint from the order page and follows it; the price list downloads', async () => {
    const shop = w.shops.a;
    const page = await logIn(shop.staff);
    await page.goto(`${w.base}/portal/orders/${shop.cardOrderId}`);
    await page.click('#file-complaint');
    await page.selectOption('select[name=kind]', 'invalid_code');
    await page.fill('textarea[name=note]', '买家反馈卡密无效 the buyer says the code is invalid');
    await page.click('#submit-complaint');
    await page.waitForURL(/\/portal\/complaints\/\d+$/);
    expect(await page.getAttribute('#complaint-detail', 'data-status')).toBe('open');
    expect(await page.textContent('#complaint-detail')).toContain('买家反馈卡密无效');
    await page.click('a[href="/portal/complaints"]');
    expect(await page.locator('#complaints tbody tr').count()).toBe(1);

    await page.goto(`${w.base}/portal/prices`);
    const [file] = await Promise.all([page.waitForEvent('download'), page.click('#prices-xlsx')]);
    const saved = path.join(download, file.suggestedFilename());
    await file.saveAs(saved);
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(saved);
    expect(book.getWorksheet('价目表 Price list')!.getRow(2).getCell(1).value).toBe(w.sku);
  });

  it('a staff user sees no rotate button, and a forged rotation is refused', async () => {
    const page = await logIn(w.shops.b.staff);
    await page.goto(`${w.base}/portal/api-keys`);
    expect(await page.locator('#owner-only').isVisible()).toBe(true);
    expect(await page.locator('#rotate').count()).toBe(0);
    const status = await page.evaluate(async () => {
      const csrf = (document.querySelector('input[name=_csrf]') as HTMLInputElement).value;
      const res = await fetch('/portal/api-keys/rotate', { method: 'POST', headers: { accept: 'application/json' }, body: new URLSearchParams({ _csrf: csrf, overlapHours: '1' }) });
      return res.status;
    });
    expect(status).toBe(403);
  });

  it('the owner sets its callback URL, sends a test callback and sees it in the delivery log', async () => {
    const page = await logIn(w.shops.a.owner);
    await page.click('a[href="/portal/api-settings"]');
    await page.fill('#callback-url', 'ftp://shop.example/notify');
    await page.evaluate(() => (document.querySelector('#callback-url') as HTMLInputElement).setAttribute('type', 'text'));
    await page.click('#save-callback-url');
    expect(await page.textContent('#callbackUrl-error')).toContain('http:// or https://');
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/notify`;
    await page.fill('#callback-url', url);
    await page.click('#save-callback-url');
    await page.waitForSelector('#notice');
    await page.click('#send-test');
    await page.waitForSelector('#test-result[data-sent="delivered"]');
    expect(JSON.parse(callbacks.at(-1)!)).toMatchObject({ event: 'TEST', test: true, resellerCode: w.shops.a.code });
    await page.click('#test-result a');
    await page.waitForURL(`${w.base}/portal/callbacks`);
    expect(await page.locator('#callbacks tr[data-test="yes"][data-delivered="yes"]').count()).toBe(1);
  });

  it('the owner turns on two-factor login and logs in with a code', async () => {
    const page = await logIn(w.shops.b.owner);
    await page.click('a[href="/portal/security"]');
    await page.click('#totp-start');
    const secret = base32Decode((await page.textContent('#totp-secret'))!.trim());
    // a step with time left, so neither code expires mid-test
    const left = TOTP_STEP_SECONDS * 1000 - (Date.now() % (TOTP_STEP_SECONDS * 1000));
    if (left < 8_000) await page.waitForTimeout(left + 200);
    const step = stepAt(Date.now());
    await page.fill('#totp-confirm-code', hotp(secret, step - 1));
    await page.click('#totp-confirm');
    await page.waitForSelector('#totp-status[data-on="yes"]');
    await page.context().close();

    const context = await browser.newContext({ locale: 'zh-CN' });
    const again = await context.newPage();
    await again.goto(`${w.base}/portal/login`);
    await again.fill('input[name=username]', w.shops.b.owner);
    await again.fill('input[name=password]', PORTAL_PASSWORD);
    await again.click('button[type=submit]');
    await again.waitForURL(/\/portal\/login\/totp/);
    await again.fill('#totp-code', hotp(secret, step));
    await again.click('button[type=submit]');
    await again.waitForURL(`${w.base}/portal`);
    expect(await again.textContent('#portal-reseller')).toContain(w.shops.b.code);
    await context.close();
  });

  it('every page fits a phone, in both languages', async () => {
    const page = await logIn(w.shops.a.owner, PHONE);
    const pages: [string, string][] = [
      ['overview', '/portal'], ['analysis', '/portal/analysis'], ['orders', '/portal/orders'], ['order', `/portal/orders/${w.shops.a.cardOrderId}`],
      ['statements', '/portal/statements'], ['wallet', '/portal/wallet'], ['callbacks', '/portal/callbacks'], ['api-keys', '/portal/api-keys'], ['users', '/portal/users'],
      ['prices', '/portal/prices'], ['complaints', '/portal/complaints'], ['complaint-form', `/portal/orders/${w.shops.a.cardOrderId}/complaint`],
      ['api-settings', '/portal/api-settings'], ['security', '/portal/security'],
    ];
    const filed = await w.h.db('complaints').where({ reseller_id: w.shops.a.id }).orderBy('id', 'desc').first('id');
    if (filed) pages.push(['complaint', `/portal/complaints/${filed.id}`]);
    for (const lang of ['zh', 'en'] as const) {
      for (const [name, url] of pages) {
        await page.goto(`${w.base}${url}${url.includes('?') ? '&' : '?'}lang=${lang}`);
        if (name === 'analysis') await page.waitForSelector('#portal-spend-chart[data-rendered]');
        // nothing wider than the phone: tables scroll inside their own box
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow, `${name} (${lang}) is wider than the phone`).toBeLessThanOrEqual(0);
        await page.screenshot({ path: path.join(SCREENSHOTS, `portal-${name}-${lang}-phone.png`), fullPage: true });
      }
    }
    await page.goto(`${w.base}/portal/login?lang=zh`);
  });
});

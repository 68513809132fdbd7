import type { Page } from 'playwright-core';
import { expect } from 'vitest';

/**
 * The reseller half of the onboarding walk (issue 18), as steps a browser test chains: each takes a
 * logged-in playwright Page (its role in the name) and the dashboard's base URL, does what a person
 * does on the pages, and checks what they see.
 */

/** An admin onboards a reseller and reads its API key and secret, shown once. */
export async function onboardResellerStep(adminPage: Page, base: string, reseller: { code: string; name: string; contact?: string; tier?: 'default' | 'silver' | 'gold'; lowBalance?: string }): Promise<{ apiKey: string; apiSecret: string }> {
  await adminPage.goto(`${base}/admin/resellers`);
  const form = adminPage.locator('form#onboard');
  await form.locator('input[name=code]').fill(reseller.code);
  await form.locator('input[name=name]').fill(reseller.name);
  await form.locator('input[name=contact]').fill(reseller.contact ?? '张经理 13800000000');
  await form.locator('select[name=tier]').selectOption(reseller.tier ?? 'default');
  if (reseller.lowBalance) await form.locator('input[name=lowBalance]').fill(reseller.lowBalance);
  await form.locator('button[type=submit]').click();
  await adminPage.waitForSelector('#secret-once');
  expect(await adminPage.textContent('#shown-code')).toBe(reseller.code);
  const apiKey = (await adminPage.textContent('#shown-api-key'))!.trim();
  const apiSecret = (await adminPage.textContent('#shown-api-secret'))!.trim();
  expect(apiKey).toMatch(/^rk_/);
  expect(apiSecret.length).toBeGreaterThan(20);
  // shown once: the list afterwards shows the reseller, never the secret
  await adminPage.goto(`${base}/admin/resellers`);
  expect(await adminPage.locator(`tr[data-code="${reseller.code}"]`).count()).toBe(1);
  expect(await adminPage.content()).not.toContain(apiSecret);
  return { apiKey, apiSecret };
}

async function fillRecharge(financePage: Page, base: string, r: { resellerCode: string; amount: string; reference: string; payer?: string; channel?: 'bank' | 'alipay' | 'wechat' }) {
  await financePage.goto(`${base}/finance/recharges`);
  const form = financePage.locator('form#record-recharge');
  await form.locator('input[name=resellerCode]').fill(r.resellerCode);
  await form.locator('select[name=channel]').selectOption(r.channel ?? 'bank');
  await form.locator('input[name=payer]').fill(r.payer ?? '张三');
  await form.locator('input[name=amount]').fill(r.amount);
  await form.locator('input[name=reference]').fill(r.reference);
  await form.locator('button[type=submit]').click();
  await financePage.waitForSelector('#done');
  return financePage.locator(`#recharges tr[data-reference="${r.reference}"] td.status`);
}

/** Finance records a ¥5,000 bank transfer: below the approval threshold, credited at once. */
export async function recordBankRechargeStep(financePage: Page, base: string, r: { resellerCode: string; reference: string; amount?: string }): Promise<void> {
  const status = await fillRecharge(financePage, base, { ...r, amount: r.amount ?? '5000.00', channel: 'bank' });
  expect(await status.getAttribute('data-status')).toBe('credited');
}

/**
 * Finance records a ¥60,000 recharge: it waits for a second finance user (the recorder's own
 * approve button is disabled, and the server refuses it anyway); the second one approves and the
 * wallet is credited.
 */
export async function recordLargeRechargeWithApprovalStep(financePage: Page, approverPage: Page, base: string, r: { resellerCode: string; reference: string; amount?: string }): Promise<void> {
  const status = await fillRecharge(financePage, base, { ...r, amount: r.amount ?? '60000.00', channel: 'bank' });
  expect(await status.getAttribute('data-status')).toBe('pending');
  const row = (p: Page) => p.locator(`#recharges tr[data-reference="${r.reference}"]`);
  expect(await row(financePage).locator('form[action$="/approve"] button').isDisabled()).toBe(true);
  await approverPage.goto(`${base}/finance/recharges?status=pending`);
  await row(approverPage).locator('form[action$="/approve"] button').click();
  await approverPage.waitForSelector('#done');
  expect(await row(approverPage).locator('td.status').getAttribute('data-status')).toBe('credited');
}

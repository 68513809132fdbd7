import type { Page } from 'playwright-core';

/**
 * The catalog half of onboarding, as a person does it in the dashboard (issue 18): each step takes
 * a playwright Page logged in as a user allowed to do it, and the dashboard's base URL. Chained with
 * the resellers' half into one onboarding walk. A refused form throws with the page's field errors.
 *
 *   ops:        createSku, createSupplierWithOffer, uploadDocument (user A)
 *   finance:    setTierPrices
 *   compliance: approveDocument (user B, not the uploader)
 */

export interface SkuInput { code: string; nameZh: string; nameEn: string; brand: string; kind: 'card_code' | 'direct_topup'; faceValue: string; lowStockThreshold?: string; procurementBatch?: string }
export interface SupplierInput { code: string; name: string; apiBaseUrl: string; apiKey: string }
export interface OfferInput { sku: string; supplierSku: string; cost: string; priority?: string }
export interface DocumentInput { supplier: string; kind: 'business_licence' | 'brand_authorisation' | 'other'; brand?: string; documentNo: string; validFrom: string; expiresOn: string; file: string }

async function refusedIfAny(page: Page, what: string): Promise<void> {
  const errors = page.locator('#form-errors');
  if (await errors.count()) throw new Error(`${what} refused: ${await errors.first().innerText()}`);
}

/** ops: a new SKU (card or top-up, brand, face value, threshold, batch). */
export async function createSku(page: Page, base: string, sku: SkuInput): Promise<void> {
  await page.goto(`${base}/admin/skus`);
  const form = page.locator('#sku-create');
  await form.locator('[name=code]').fill(sku.code);
  await form.locator('[name=nameZh]').fill(sku.nameZh);
  await form.locator('[name=nameEn]').fill(sku.nameEn);
  await form.locator('[name=brand]').fill(sku.brand);
  await form.locator('[name=kind]').selectOption(sku.kind);
  await form.locator('[name=faceValue]').fill(sku.faceValue);
  await form.locator('[name=lowStockThreshold]').fill(sku.lowStockThreshold ?? '0');
  await form.locator('[name=procurementBatch]').fill(sku.procurementBatch ?? '0');
  await form.locator('[name=reason]').fill('onboarding');
  await form.locator('button[type=submit]').click();
  await page.waitForLoadState();
  await refusedIfAny(page, `SKU ${sku.code}`);
  await page.waitForURL(`${base}/admin/skus/${sku.code}?**`);
}

/** finance: tier prices (default, silver, gold) of a SKU, each a new price version. */
export async function setTierPrices(page: Page, base: string, sku: string, prices: { tier: 'default' | 'silver' | 'gold'; price: string }[]): Promise<void> {
  for (const p of prices) {
    await page.goto(`${base}/admin/skus/${sku}`);
    const form = page.locator('#price-form');
    await form.locator('[name=tier]').selectOption(p.tier);
    await form.locator('[name=price]').fill(p.price);
    await form.locator('[name=reason]').fill('onboarding price list');
    await form.locator('button[type=submit]').click();
    await page.waitForLoadState();
    await refusedIfAny(page, `price ${sku} ${p.tier}`);
    await page.locator(`#prices tr[data-tier="${p.tier}"]`).first().waitFor();
  }
}

/** ops: a supplier and its offer for a SKU; returns the callback secret, shown this once. */
export async function createSupplierWithOffer(page: Page, base: string, supplier: SupplierInput, offer: OfferInput): Promise<{ callbackSecret: string }> {
  await page.goto(`${base}/admin/suppliers`);
  const form = page.locator('#supplier-create');
  await form.locator('[name=code]').fill(supplier.code);
  await form.locator('[name=name]').fill(supplier.name);
  await form.locator('[name=apiBaseUrl]').fill(supplier.apiBaseUrl);
  await form.locator('[name=apiKey]').fill(supplier.apiKey);
  await form.locator('[name=reason]').fill('onboarding');
  await form.locator('button[type=submit]').click();
  await page.waitForLoadState();
  await refusedIfAny(page, `supplier ${supplier.code}`);
  const callbackSecret = (await page.locator('#callback-secret').innerText()).trim();
  await page.click('#continue');
  await page.waitForURL(`${base}/admin/suppliers/${supplier.code}`);
  const offerForm = page.locator('#offer-form');
  await offerForm.locator('[name=sku]').selectOption(offer.sku);
  await offerForm.locator('[name=supplierSku]').fill(offer.supplierSku);
  await offerForm.locator('[name=cost]').fill(offer.cost);
  await offerForm.locator('[name=priority]').fill(offer.priority ?? '10');
  await offerForm.locator('[name=reason]').fill('onboarding: contract price');
  await offerForm.locator('button[type=submit]').click();
  await page.waitForLoadState();
  await refusedIfAny(page, `offer ${supplier.code} ${offer.sku}`);
  await page.locator('#offers tbody tr', { hasText: offer.supplierSku }).waitFor();
  return { callbackSecret };
}

/** ops or compliance (user A): uploads a 资质 document; returns its number. It is pending until another user reviews it. */
export async function uploadDocument(page: Page, base: string, doc: DocumentInput): Promise<number> {
  await page.goto(`${base}/compliance?supplier=${doc.supplier}`);
  const form = page.locator('#document-upload');
  await form.locator('[name=supplier]').selectOption(doc.supplier);
  await form.locator('[name=kind]').selectOption(doc.kind);
  await form.locator('[name=brand]').fill(doc.brand ?? '');
  await form.locator('[name=documentNo]').fill(doc.documentNo);
  await form.locator('[name=validFrom]').fill(doc.validFrom);
  await form.locator('[name=expiresOn]').fill(doc.expiresOn);
  await form.locator('[name=file]').setInputFiles(doc.file);
  await form.locator('button[type=submit]').click();
  await page.waitForURL(/\/compliance\?done=/, { timeout: 15_000 }).catch(async () => {
    throw new Error(`upload of ${doc.documentNo} refused: ${await page.locator('#upload-result').innerText()}`);
  });
  const done = decodeURIComponent(new URL(page.url()).searchParams.get('done') ?? '');
  return Number(/#(\d+)/.exec(done)![1]);
}

/** compliance (user B, not the uploader): approves a pending document with a reason. */
export async function approveDocument(page: Page, base: string, id: number, reason: string): Promise<void> {
  await page.goto(`${base}/compliance`);
  const row = page.locator(`#document-${id}`).first();
  await row.locator('input[name=reason]').fill(reason);
  await row.locator('button[value=approve]').click();
  await page.waitForURL(/\/compliance\?done=/);
  await refusedIfAny(page, `approval of #${id}`);
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/catalog.ts';
import { NoPriceError, UnknownSkuError } from '../src/catalog/errors.ts';
import { SupplierRegistry } from '../src/suppliers/registry.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';

let h: Harness;
let catalog: Catalog;
let suppliers: SupplierRegistry;
const skuCode = () => uniq('SKU').toUpperCase();

beforeAll(async () => {
  h = await openHarness({ worker: false });
  await h.ledger.openPlatformAccounts();
  catalog = new Catalog(h.db);
  suppliers = new SupplierRegistry(h.db, h.ledger, h.keys.supplierSecrets);
});
afterAll(() => h.close());

async function sku(kind: 'card_code' | 'direct_topup' = 'card_code', brand = '腾讯') {
  return catalog.createSku({ code: skuCode(), nameZh: 'Q币100', nameEn: 'QQ coins 100', brand, kind, faceValueFen: 10_000, lowStockThreshold: 10, procurementBatch: 50 });
}

describe('catalog prices', () => {
  it('keeps the price version an order saw when the price changes later', async () => {
    const s = await sku();
    const before = new Date(Date.now() - 60_000);
    await catalog.setPrice({ sku: s.code, tier: 'default', priceFen: 9_800, from: before });
    const sold = await catalog.priceFor(s.code, { tier: 'default', resellerId: 1 });
    await catalog.setPrice({ sku: s.code, tier: 'default', priceFen: 9_900 });
    const now = await catalog.priceFor(s.code, { tier: 'default', resellerId: 1 });
    expect(now.priceFen).toBe(9_900);
    expect(now.priceVersionId).not.toBe(sold.priceVersionId);
    const old = await h.db('sku_prices').where({ id: sold.priceVersionId }).first();
    expect(old.price_fen).toBe(9_800);
    expect(old.valid_to).not.toBeNull();
  });

  it('prefers a reseller override, then the tier, then the default price', async () => {
    const s = await sku();
    await catalog.setPrice({ sku: s.code, tier: 'default', priceFen: 9_800 });
    await catalog.setPrice({ sku: s.code, tier: 'gold', priceFen: 9_500 });
    await catalog.setPrice({ sku: s.code, tier: 'reseller', resellerId: 77, priceFen: 9_300 });
    expect((await catalog.priceFor(s.code, { tier: 'silver', resellerId: 1 })).priceFen).toBe(9_800);
    expect((await catalog.priceFor(s.code, { tier: 'gold', resellerId: 1 })).priceFen).toBe(9_500);
    expect((await catalog.priceFor(s.code, { tier: 'gold', resellerId: 77 })).priceFen).toBe(9_300);
  });

  it('names an unknown SKU and a SKU with no price', async () => {
    await expect(catalog.priceFor('NO-SUCH-SKU', { tier: 'default', resellerId: 1 })).rejects.toThrow(UnknownSkuError);
    await expect(catalog.priceFor('NO-SUCH-SKU', { tier: 'default', resellerId: 1 })).rejects.toThrow('unknown SKU "NO-SUCH-SKU"');
    const s = await sku();
    await expect(catalog.priceFor(s.code, { tier: 'default', resellerId: 1 })).rejects.toThrow(NoPriceError);
  });
});

describe('supplier qualifications (资质)', () => {
  async function supplierWith(brandExpires: string, priority: number) {
    const s = await suppliers.upsert({ code: uniq('sup').toLowerCase(), name: '测试供应商', apiBaseUrl: 'http://127.0.0.1:1/s', apiKey: 'k' });
    await suppliers.addQualification({ supplierId: s.id, kind: 'business_licence', documentNo: 'BL-1', validFrom: '2020-01-01', expiresOn: '2030-12-31' });
    await suppliers.addQualification({ supplierId: s.id, kind: 'brand_authorisation', brand: '腾讯', documentNo: 'TX-1', validFrom: '2020-01-01', expiresOn: brandExpires });
    return { supplier: s, priority };
  }

  it('never offers a supplier whose authorisation for the brand has expired, and orders the rest by priority', async () => {
    const s = await sku();
    const expired = await supplierWith('2026-11-23', 1);
    const second = await supplierWith('2027-06-30', 20);
    const first = await supplierWith('2027-06-30', 10);
    for (const x of [expired, second, first]) {
      await suppliers.setOffer({ supplierId: x.supplier.id, sku: s.code, supplierSku: `P-${x.priority}`, costFen: 9_000, priority: x.priority });
    }
    const offers = await suppliers.qualifiedFor(s.code, '2026-11-24');
    expect(offers.map((o) => o.supplierCode)).toEqual([first.supplier.code, second.supplier.code]);
    // on a day when the first authorisation was still valid, it leads
    expect((await suppliers.qualifiedFor(s.code, '2026-11-01'))[0]!.supplierCode).toBe(expired.supplier.code);
  });

  it('does not offer a supplier authorised for another brand only', async () => {
    const s = await sku('direct_topup', '中国移动');
    const tencentOnly = await supplierWith('2027-06-30', 1);
    await suppliers.setOffer({ supplierId: tencentOnly.supplier.id, sku: s.code, supplierSku: 'CM-50', costFen: 4_900 });
    expect(await suppliers.qualifiedFor(s.code, '2026-11-24')).toEqual([]);
  });

  it('lists qualifications expiring within 30 days, soonest first', async () => {
    const soon = await supplierWith('2026-12-10', 1);
    const list = await suppliers.expiringQualifications({ withinDays: 30, today: '2026-11-24' });
    const mine = list.filter((q) => q.supplierCode === soon.supplier.code);
    expect(mine).toEqual([expect.objectContaining({ kind: 'brand_authorisation', brand: '腾讯', expiresOn: '2026-12-10', daysLeft: 16 })]);
  });

  it('opens a payable account for every supplier', async () => {
    const s = await suppliers.upsert({ code: uniq('pay').toLowerCase(), name: 'P', apiBaseUrl: 'http://x/y', apiKey: 'k' });
    expect(await h.ledger.balance(`supplier:${s.id}:payable`)).toBe(0);
  });
});

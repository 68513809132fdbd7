import { startSupplierSimulator, type SupplierSimulator } from '../../fixtures/supplier-simulator/server.ts';
import type { SimProduct, SimSupplierConfig } from '../../fixtures/supplier-simulator/types.ts';
import type { Sku } from '../../src/catalog/catalog.ts';
import type { Supplier } from '../../src/suppliers/registry.ts';
import type { Harness } from './harness.ts';
import { uniq } from './harness.ts';

export interface World {
  sim: SupplierSimulator;
  suppliers: Record<string, Supplier>;
  stop(): Promise<void>;
}

export interface WorldSupplier {
  code: string;
  products: SimProduct[];
  /** Brand authorisations: brand -> expiry date. */
  authorisations: Record<string, string>;
  statementFormat?: SimSupplierConfig['statementFormat'];
}

/**
 * The outside world for a test: a supplier simulator, and the same suppliers registered in our
 * database (with qualifications) pointing at it.
 */
export async function openWorld(h: Harness, specs: WorldSupplier[]): Promise<World> {
  const sim = await startSupplierSimulator({
    suppliers: specs.map((s) => ({
      code: s.code, name: `${s.code} 供应商`, apiKey: `${s.code}-key`, callbackSecret: `${s.code}-cb`, balanceFen: 100_000_000,
      statementFormat: s.statementFormat ?? 'csv', products: s.products,
    })),
  });
  const suppliers: Record<string, Supplier> = {};
  for (const s of specs) {
    const supplier = await h.deps.suppliers.upsert({
      code: s.code, name: `${s.code} 供应商`, apiBaseUrl: sim.baseUrl(s.code), apiKey: `${s.code}-key`, callbackSecret: `${s.code}-cb`,
      statementFormat: s.statementFormat ?? 'csv',
    });
    await h.deps.suppliers.addQualification({ supplierId: supplier.id, kind: 'business_licence', documentNo: `BL-${s.code}`, validFrom: '2020-01-01', expiresOn: '2035-12-31' });
    for (const [brand, expiresOn] of Object.entries(s.authorisations)) {
      await h.deps.suppliers.addQualification({ supplierId: supplier.id, kind: 'brand_authorisation', brand, documentNo: `AU-${s.code}-${brand}`, validFrom: '2020-01-01', expiresOn });
    }
    suppliers[s.code] = supplier;
  }
  return { sim, suppliers, stop: () => sim.stop() };
}

/** A card SKU of a brand, with a default price. */
export async function cardSku(h: Harness, brand: string, options: { threshold?: number; batch?: number; priceFen?: number } = {}): Promise<Sku> {
  const sku = await h.deps.catalog.createSku({
    code: uniq('CARD').toUpperCase(), nameZh: `${brand}点卡`, nameEn: `${brand} card`, brand, kind: 'card_code', faceValueFen: 10_000,
    lowStockThreshold: options.threshold ?? 5, procurementBatch: options.batch ?? 20,
  });
  await h.deps.catalog.setPrice({ sku: sku.code, tier: 'default', priceFen: options.priceFen ?? 9_800 });
  return sku;
}

/** A supplier code unique to this test run (supplier codes are global in the shared database). */
export const supplierCode = (label: string) => uniq(label).toLowerCase();

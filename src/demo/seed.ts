import { DEMO_FAILING_ACCOUNT, DEMO_SILENT_ACCOUNT, DEMO_SUPPLIERS } from '../../fixtures/supplier-simulator/demo-suppliers.ts';
import { startSupplierSimulator, type SupplierSimulator } from '../../fixtures/supplier-simulator/server.ts';
import type { ActivityDeps } from '../runtime/deps.ts';
import { addDays, businessDateOf } from '../dates.ts';
import { IdempotencyConflictError } from '../ledger/errors.ts';
import fs from 'node:fs/promises';
import { writeSecretFile } from '../crypto/secret-file.ts';
import path from 'node:path';
import type { OrderService } from '../orders/order-service.ts';
import { trustedCaller } from '../resellers/authenticate.ts';
import { portInUse } from '../runtime/temporal-dev-server.ts';
import { logger } from '../observability/log.ts';
import { CatalogAdmin } from '../catalog/admin.ts';
import { ComplianceDocuments } from '../compliance/documents.ts';
import { SupplierAdmin } from '../suppliers/admin.ts';
import type { Actor } from '../users/actor.ts';
import { ResellerAdmin } from '../resellers/admin.ts';
import type { ResellerAdminSettings } from '../config.ts';
import { Recharges } from '../wallet/recharges.ts';

/** The demo's people, when it has them: the catalog and resellers are then seeded through the administration services, as they would. */
export interface DemoActors {
  ops: Actor;
  finance: Actor;
  compliance: Actor;
  /** Onboards the resellers (their credentials are shown once, kept in data/demo-resellers.json). */
  admin: Actor;
  settings: ResellerAdminSettings;
}

/** The demo's admin, ops, finance and compliance users (created by the first start), or undefined if one is missing. */
export async function demoActors(db: ActivityDeps['db'], config: { resellers: ResellerAdminSettings }): Promise<DemoActors | undefined> {
  const rows = await db('dashboard_users').where({ disabled: false }).whereIn('username', ['ops', 'finance', 'compliance']).select('id', 'username', 'role');
  const of = (name: string) => rows.find((r: Record<string, any>) => r.username === name && r.role === name);
  const [ops, finance, compliance] = ['ops', 'finance', 'compliance'].map(of);
  const admin = await db('dashboard_users').where({ disabled: false, role: 'admin' }).orderBy('id').first('id', 'username', 'role');
  if (!ops || !finance || !compliance || !admin) return undefined;
  const actor = (r: Record<string, any>): Actor => ({ userId: Number(r.id), username: r.username, role: r.role });
  return { ops: actor(ops), finance: actor(finance), compliance: actor(compliance), admin: actor(admin), settings: config.resellers };
}

/** A one-page PDF standing for a scanned 资质 document. */
const demoDocument = (title: string) => Buffer.from(`%PDF-1.4\n% ${title}\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n`);

const DEMO_RESELLERS = [
  { code: 'xingchen', name: '星辰数码专营店 Xingchen Digital', tier: 'default', topupFen: 500_000 },
  { code: 'quicktop', name: '快充小铺 QuickTop Shop', tier: 'silver', topupFen: 120_000 },
  { code: 'gamecard', name: '游戏点卡批发 GameCard Wholesale', tier: 'gold', topupFen: 2_000_000 },
] as const;

/** SKU, its brand, and which demo supplier product serves it (priority order). */
const DEMO_SKUS = [
  { code: 'QQ-100', zh: 'Q币100元', en: 'QQ coins ¥100', brand: '腾讯', kind: 'card_code', face: 10_000, price: [9_800, 9_700, 9_650], offers: [['huayu', 'HY-QQ100'], ['jinqiao', 'JQ-QQ100']] },
  { code: 'JD-50', zh: '京东E卡50元', en: 'JD e-card ¥50', brand: '京东', kind: 'card_code', face: 5_000, price: [4_920, 4_900, 4_880], offers: [['yunka', 'YK-JD50'], ['huayu', 'HY-JD50']] },
  { code: 'IQIYI-MONTH', zh: '爱奇艺黄金会员月卡', en: 'iQIYI Gold monthly', brand: '爱奇艺', kind: 'card_code', face: 2_500, price: [1_980, 1_950, 1_900], offers: [['yunka', 'YK-IQIYI-M']] },
  { code: 'CMCC-50', zh: '中国移动话费50元', en: 'China Mobile top-up ¥50', brand: '中国移动', kind: 'direct_topup', face: 5_000, price: [4_960, 4_950, 4_940], offers: [['jinqiao', 'JQ-CMCC50'], ['huayu', 'HY-CMCC50']] },
  { code: 'CUCC-50', zh: '中国联通话费50元', en: 'China Unicom top-up ¥50', brand: '中国联通', kind: 'direct_topup', face: 5_000, price: [4_950, 4_940, 4_930], offers: [['jinqiao', 'JQ-CUCC50'], ['yunka', 'YK-CUCC50']] },
  { code: 'CTCC-100', zh: '中国电信话费100元', en: 'China Telecom top-up ¥100', brand: '中国电信', kind: 'direct_topup', face: 10_000, price: [9_900, 9_880, 9_860], offers: [['jinqiao', 'JQ-CTCC100']] },
] as const;

export interface Demo {
  simulator: SupplierSimulator;
  credentialsFile: string;
  summary: string;
}

/**
 * Demo data and the outside world for a first look: the supplier simulator, three suppliers with
 * their 资质 (one authorisation expiring soon, one expired), SKUs with tiered prices, resellers'
 * wallets. Idempotent: restarts add nothing twice.
 */
export async function seedDemo(deps: ActivityDeps, options: { simulatorPort: number; dataDir: string; actors?: DemoActors; documentDir?: string }): Promise<Demo> {
  // With its people, the demo seeds SKUs, prices, offers and 资质 through the same services as the
  // dashboard and CLI (uploaded by ops, approved by compliance, priced by finance, audited); the
  // suppliers themselves keep the simulator's fixed credentials (the outside world is simulated).
  const actors = options.actors;
  const documents = actors ? new ComplianceDocuments(deps.db, { documentDir: options.documentDir ?? path.join(options.dataDir, 'documents'), documentMaxBytes: 1 << 20 }) : undefined;
  const supplierAdmin = new SupplierAdmin(deps.db, deps.suppliers);
  const catalogAdmin = new CatalogAdmin(deps.db);
  const qualify = async (supplier: { id: number; code: string }, input: { kind: 'business_licence' | 'brand_authorisation'; brand?: string; documentNo: string; validFrom: string; expiresOn: string }) => {
    if (!actors || !documents) return deps.suppliers.addQualification({ supplierId: supplier.id, ...input });
    const doc = await documents.upload(actors.ops, { supplier: supplier.code, ...input, fileName: `${input.documentNo}.pdf`, bytes: demoDocument(input.documentNo), reason: 'demo onboarding' });
    await documents.review(actors.compliance, doc.id, { decision: 'approve', reason: '演示数据 demo: checked against the original' });
  };
  const port = (await portInUse(options.simulatorPort)) ? 0 : options.simulatorPort;
  const simulator = await startSupplierSimulator({ suppliers: DEMO_SUPPLIERS, port });
  const today = businessDateOf(new Date());

  const supplierIds: Record<string, number> = {};
  for (const s of DEMO_SUPPLIERS) {
    const supplier = await deps.suppliers.upsert({
      code: s.code, name: s.name, apiBaseUrl: simulator.baseUrl(s.code), apiKey: s.apiKey, callbackSecret: s.callbackSecret, statementFormat: s.statementFormat,
    });
    supplierIds[s.code] = supplier.id;
    const existing = await deps.db('supplier_qualifications').where({ supplier_id: supplier.id }).count('* as n');
    if (Number(existing[0]?.n) > 0) continue;
    await qualify(supplier, { kind: 'business_licence', documentNo: `91310000${supplier.id}X`, validFrom: '2022-01-01', expiresOn: '2032-12-31' });
    const brands = new Set(DEMO_SKUS.filter((k) => k.offers.some(([code]) => code === s.code)).map((k) => k.brand));
    for (const brand of brands) {
      // jinqiao's 中国电信 authorisation runs out in 20 days; yunka's 京东 one has expired.
      const expiresOn = s.code === 'jinqiao' && brand === '中国电信' ? addDays(today, 20) : s.code === 'yunka' && brand === '京东' ? addDays(today, -3) : '2028-06-30';
      await qualify(supplier, { kind: 'brand_authorisation', brand, documentNo: `AUTH-${s.code}-${brand}`, validFrom: '2023-01-01', expiresOn });
    }
  }

  for (const k of DEMO_SKUS) {
    const exists = await deps.db('skus').where({ code: k.code }).first();
    const sku = {
      code: k.code, nameZh: k.zh, nameEn: k.en, brand: k.brand, kind: k.kind, faceValueFen: k.face,
      lowStockThreshold: k.kind === 'card_code' ? 20 : 0, procurementBatch: k.kind === 'card_code' ? 100 : 0,
    };
    if (actors && !exists) {
      await catalogAdmin.createSku(actors.ops, { ...sku, faceValue: k.face, reason: 'demo catalog' });
    } else {
      await deps.catalog.createSku(sku);
    }
    for (const [priority, [supplierCode, supplierSku]] of k.offers.entries()) {
      const product = DEMO_SUPPLIERS.find((s) => s.code === supplierCode)!.products.find((p) => p.sku === supplierSku)!;
      const known = await deps.db('supplier_offers').where({ supplier_id: supplierIds[supplierCode]!, sku_code: k.code }).first('cost_fen');
      if (actors && !known) {
        await supplierAdmin.setOffer(actors.ops, { supplier: supplierCode, sku: k.code, supplierSku, cost: product.costFen, priority: (priority + 1) * 10, reason: 'demo contract' });
      } else {
        await deps.suppliers.setOffer({ supplierId: supplierIds[supplierCode]!, sku: k.code, supplierSku, costFen: product.costFen, priority: (priority + 1) * 10 });
      }
    }
    if (!exists) {
      const [standard, silver, gold] = k.price;
      for (const [tier, priceFen] of [['default', standard], ['silver', silver], ['gold', gold]] as const) {
        if (actors) await catalogAdmin.setPrice(actors.finance, { sku: k.code, tier, price: priceFen, force: true, reason: '演示价目表 demo price list' });
        else await deps.catalog.setPrice({ sku: k.code, tier, priceFen });
      }
    }
  }

  // A reseller's API secret is shown once; the demo keeps its resellers' in data/ so you can use them.
  const credentialsFile = path.join(options.dataDir, 'demo-resellers.json');
  const saved: Record<string, { apiKey: string; apiSecret: string; id: number }> = JSON.parse(await fs.readFile(credentialsFile, 'utf8').catch(() => '{}'));
  const resellerAdmin = actors && new ResellerAdmin(deps.db, deps.resellers, { allowPrivateCallbacks: deps.settings.allowPrivateCallbacks, secretOverlapMs: actors.settings.secretOverlapMs });
  const recharges = actors && new Recharges(deps.db, deps.ledger, actors.settings);
  for (const r of DEMO_RESELLERS) {
    const existing = await deps.db('resellers').where({ code: r.code }).first();
    if (!existing) {
      const { reseller, apiSecret } = resellerAdmin
        ? await resellerAdmin.onboard(actors.admin, { code: r.code, name: r.name, tier: r.tier, contact: '演示联系人 Demo contact', lowBalanceFen: 50_000 })
        : await deps.resellers.create({ code: r.code, name: r.name, tier: r.tier });
      saved[r.code] = { id: reseller.id, apiKey: reseller.apiKey, apiSecret };
    }
    const id = existing?.id ?? saved[r.code]!.id;
    const reference = `demo-opening-${r.code}`;
    const seededBefore = await deps.db('wallet_recharges').where({ channel: 'bank', reference }).first('id')
      ?? await deps.ledger.entry(`wallet-topup:${id}:demo-opening-balance`);
    if (recharges) {
      // a 充值 as finance records it, dated yesterday: the first start has a settled day to show
      if (!seededBefore) await recharges.record(actors.finance, { resellerCode: r.code, channel: 'bank', payer: r.name, amountFen: r.topupFen, reference, valueDate: addDays(today, -1) });
      continue;
    }
    // Dated yesterday, so the first start has a settled day (and statements) to show.
    await deps.resellers.topUpWallet(id, r.topupFen, 'demo-opening-balance', { valueDate: addDays(today, -1) }).catch((err) => {
      if (!(err instanceof IdempotencyConflictError)) throw err; // seeded on an earlier day: keep that one
    });
  }
  await writeSecretFile(credentialsFile, JSON.stringify(saved, null, 2));
  return {
    simulator,
    credentialsFile,
    summary: `demo: supplier simulator on ${simulator.url}; ${DEMO_SUPPLIERS.length} suppliers, ${DEMO_SKUS.length} SKUs, ${DEMO_RESELLERS.length} resellers (API credentials in ${credentialsFile})`,
  };
}

/** A few orders through the real order path, so the first look has some life in it. Idempotent. */
export async function playDemoOrders(deps: ActivityDeps, orders: OrderService): Promise<string> {
  const plays = [
    { reseller: 'xingchen', resellerOrderId: 'demo-1', sku: 'QQ-100', quantity: 2 },
    { reseller: 'gamecard', resellerOrderId: 'demo-2', sku: 'JD-50', quantity: 5 },
    { reseller: 'quicktop', resellerOrderId: 'demo-3', sku: 'CMCC-50', account: '13800138000' },
    { reseller: 'quicktop', resellerOrderId: 'demo-4', sku: 'CUCC-50', account: '18600001111' },
    // fails at both suppliers that offer it: refunded
    { reseller: 'xingchen', resellerOrderId: 'demo-5', sku: 'CMCC-50', account: DEMO_FAILING_ACCOUNT },
    // accepted by the only supplier and never answered: stuck, for ops on the fulfillment page
    { reseller: 'quicktop', resellerOrderId: 'demo-6', sku: 'CTCC-100', account: DEMO_SILENT_ACCOUNT },
  ];
  let placed = 0;
  for (const { reseller, ...request } of plays) {
    try {
      const result = await orders.placeOrder(trustedCaller(deps.db, await deps.resellers.byCode(reseller)), request);
      if (!result.replayed) placed++;
    } catch (err) {
      // e.g. stock not procured yet on a first start: the demo goes on
      logger('demo').info({ resellerOrderId: request.resellerOrderId, err }, 'demo order not placed');
    }
  }
  return `demo: ${placed} new demo orders placed`;
}

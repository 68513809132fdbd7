import { Fields } from '../admin/fields.ts';
import { recordAudit } from '../audit/audit-log.ts';
import type { Db } from '../db/knex.ts';
import { KamengError, ValidationError } from '../errors.ts';
import { displayYuan, type Fen } from '../money.ts';
import { assertMay, type Actor } from '../users/actor.ts';
import { Catalog, type PriceTier, type Sku, type SkuKind } from './catalog.ts';

const SKU_CODE = /^[A-Z0-9][A-Z0-9_-]{1,39}$/;
export const SKU_KINDS: readonly SkuKind[] = ['card_code', 'direct_topup'];
export const PRICE_TIERS: readonly (PriceTier | 'reseller')[] = ['default', 'silver', 'gold', 'reseller'];

/** A price below the best cost of the SKU, not forced. */
export class PriceBelowCostError extends KamengError {
  constructor(priceFen: Fen, costFen: Fen, sku: string) {
    super('PRICE_BELOW_COST', `price ${displayYuan(priceFen)} of ${sku} is below its best cost ${displayYuan(costFen)}: refused unless forced with a reason`,
      { details: { fields: { price: `below the best cost ${displayYuan(costFen)}; tick "force" and give a reason to sell at a loss` } } });
  }
}

export interface PriceRow {
  id: number;
  tier: PriceTier | 'reseller';
  resellerCode: string | null;
  priceFen: Fen;
  validFrom: Date;
  validTo: Date | null;
}

/**
 * SKU and price administration: create, edit, deactivate (`catalog`); tier prices and per-reseller
 * overrides, versioned by effective time (`pricing`). A price below the SKU's best cost (the cheapest
 * active offer of an active supplier, cost version in force then) is refused unless forced with a
 * reason. Every action validated field by field and audited; the dashboard and the CLI call it.
 */
export class CatalogAdmin {
  readonly catalog: Catalog;

  constructor(private readonly db: Db) {
    this.catalog = new Catalog(db);
  }

  private skuFields(f: Fields, input: Record<string, unknown>, before?: Sku) {
    const pick = (k: string) => (input[k] === undefined || input[k] === '' ? undefined : input[k]);
    return {
      nameZh: before && pick('nameZh') === undefined ? before.nameZh : f.text('nameZh', input.nameZh, { max: 100 }),
      nameEn: before && pick('nameEn') === undefined ? before.nameEn : f.text('nameEn', input.nameEn, { max: 100 }),
      brand: before && pick('brand') === undefined ? before.brand : f.text('brand', input.brand, { max: 50 }),
      lowStockThreshold: before && pick('lowStockThreshold') === undefined ? before.lowStockThreshold : f.int('lowStockThreshold', input.lowStockThreshold, { min: 0, max: 1_000_000, fallback: 0 }),
      procurementBatch: before && pick('procurementBatch') === undefined ? before.procurementBatch : f.int('procurementBatch', input.procurementBatch, { min: 0, max: 1_000_000, fallback: 0 }),
    };
  }

  async createSku(actor: Actor, input: { code: unknown; nameZh: unknown; nameEn: unknown; brand: unknown; kind: unknown; faceValue: unknown; lowStockThreshold?: unknown; procurementBatch?: unknown; reason?: unknown }): Promise<Sku> {
    assertMay(actor, 'catalog');
    const f = new Fields();
    const code = f.text('code', input.code, { pattern: SKU_CODE, hint: '2-40 capital letters, digits, _ or -' });
    const kind = f.oneOf('kind', input.kind, SKU_KINDS);
    const faceValueFen = f.yuan('faceValue', input.faceValue);
    const rest = this.skuFields(f, input);
    if (kind === 'card_code' && rest.procurementBatch > 0 && rest.procurementBatch <= rest.lowStockThreshold) f.fail('procurementBatch', 'a batch must be larger than the low-stock threshold');
    if (kind === 'direct_topup' && (rest.lowStockThreshold > 0 || rest.procurementBatch > 0)) f.fail('lowStockThreshold', 'a top-up SKU has no stock: leave threshold and batch at 0');
    const reason = f.text('reason', input.reason ?? 'new SKU', { max: 500 });
    if (code && SKU_CODE.test(code) && (await this.db('skus').where({ code }).first('code'))) f.fail('code', `a SKU ${code} exists already`);
    f.done();
    return this.db.transaction(async (trx) => {
      const [row] = await trx('skus').insert({
        code, name_zh: rest.nameZh, name_en: rest.nameEn, brand: rest.brand, kind, face_value_fen: faceValueFen,
        low_stock_threshold: rest.lowStockThreshold, procurement_batch: rest.procurementBatch,
      }).returning('code');
      await recordAudit(trx, { actor, action: 'sku.create', subjectType: 'sku', subjectId: row.code, reason, details: { kind, faceValueFen, ...rest } });
      return this.catalog.sku(code, trx);
    });
  }

  /** Edits names, brand, threshold and batch. Kind and face value never change (orders rely on them). */
  async editSku(actor: Actor, code: string, input: { nameZh?: unknown; nameEn?: unknown; brand?: unknown; lowStockThreshold?: unknown; procurementBatch?: unknown; reason: unknown }): Promise<Sku> {
    assertMay(actor, 'catalog');
    const before = await this.catalog.sku(code);
    const f = new Fields();
    const next = this.skuFields(f, input, before);
    const reason = f.reason(input.reason);
    if (before.kind === 'direct_topup' && (next.lowStockThreshold > 0 || next.procurementBatch > 0)) f.fail('lowStockThreshold', 'a top-up SKU has no stock: leave threshold and batch at 0');
    f.done();
    const changes = Object.fromEntries(Object.entries(next).filter(([k, v]) => (before as unknown as Record<string, unknown>)[k] !== v)
      .map(([k, v]) => [k, { from: (before as unknown as Record<string, unknown>)[k], to: v }]));
    if (Object.keys(changes).length === 0) throw new ValidationError('nothing to change', { fields: { _: 'nothing to change' } });
    return this.db.transaction(async (trx) => {
      await trx('skus').where({ code }).update({
        name_zh: next.nameZh, name_en: next.nameEn, brand: next.brand, low_stock_threshold: next.lowStockThreshold, procurement_batch: next.procurementBatch,
      });
      await recordAudit(trx, { actor, action: 'sku.edit', subjectType: 'sku', subjectId: code, reason, details: changes });
      return this.catalog.sku(code, trx);
    });
  }

  /** Takes a SKU off sale (resellers can no longer order it) or back on. */
  async setActive(actor: Actor, code: string, active: boolean, reasonIn: unknown): Promise<void> {
    assertMay(actor, 'catalog');
    const sku = await this.catalog.sku(code);
    const f = new Fields();
    const reason = f.reason(reasonIn);
    f.done();
    if (sku.active === active) throw new ValidationError(`SKU ${code} is ${active ? 'on sale' : 'off sale'} already`, { fields: { _: 'no change' } });
    await this.db.transaction(async (trx) => {
      await trx('skus').where({ code }).update({ active });
      await recordAudit(trx, { actor, action: active ? 'sku.activate' : 'sku.deactivate', subjectType: 'sku', subjectId: code, reason });
    });
  }

  /** The cheapest cost of the SKU at an instant among active offers of active suppliers, or undefined without one. */
  async bestCost(sku: string, at: Date = new Date()): Promise<Fen | undefined> {
    const { rows } = await this.db.raw(
      `SELECT min(coalesce(v.cost_fen, o.cost_fen)) AS cost
         FROM supplier_offers o JOIN suppliers s ON s.id = o.supplier_id AND s.active
         LEFT JOIN LATERAL (SELECT c.cost_fen FROM supplier_offer_costs c
                             WHERE c.supplier_id = o.supplier_id AND c.sku_code = o.sku_code AND c.valid_from <= ? AND (c.valid_to IS NULL OR c.valid_to > ?)
                             ORDER BY c.valid_from DESC LIMIT 1) v ON true
        WHERE o.sku_code = ? AND o.active`,
      [at, at, sku],
    );
    return rows[0]?.cost === null || rows[0]?.cost === undefined ? undefined : Number(rows[0].cost);
  }

  /**
   * A new price version of (SKU, tier[, reseller]) from `from` (default now): the current one is
   * closed, orders keep the version they were sold at. Below the best cost: refused unless `force`
   * and a reason.
   */
  async setPrice(actor: Actor, input: { sku: unknown; tier: unknown; reseller?: unknown; price: unknown; from?: Date; force?: boolean; reason: unknown }): Promise<number> {
    assertMay(actor, 'pricing');
    const f = new Fields();
    const sku = f.text('sku', input.sku, { pattern: SKU_CODE, hint: 'a SKU code' });
    const tier = f.oneOf('tier', input.tier, PRICE_TIERS);
    const priceFen = f.yuan('price', input.price);
    const reason = f.reason(input.reason);
    const resellerCode = f.text('reseller', input.reseller, { max: 40, optional: tier !== 'reseller' });
    if (tier !== 'reseller' && resellerCode) f.fail('reseller', 'only a reseller override names a reseller');
    const reseller = tier === 'reseller' && resellerCode ? await this.db('resellers').where({ code: resellerCode }).first('id', 'code') : undefined;
    if (tier === 'reseller' && resellerCode && !reseller) f.fail('reseller', `no reseller ${resellerCode}`);
    if (sku && SKU_CODE.test(sku) && !(await this.db('skus').where({ code: sku }).first('code'))) f.fail('sku', `no SKU ${sku}`);
    const from = input.from ?? new Date();
    if (!(from instanceof Date) || Number.isNaN(from.getTime())) f.fail('from', 'an instant');
    f.done();
    const bestCost = await this.bestCost(sku, from);
    const belowCost = bestCost !== undefined && priceFen < bestCost;
    if (belowCost && !input.force) throw new PriceBelowCostError(priceFen, bestCost, sku);
    return this.db.transaction(async (trx) => {
      const id = await this.catalog.setPrice({ sku, tier, resellerId: reseller ? Number(reseller.id) : undefined, priceFen, from }, trx);
      await recordAudit(trx, {
        actor, action: belowCost ? 'price.set_below_cost' : 'price.set', subjectType: 'sku', subjectId: sku, reason,
        details: { tier, reseller: reseller?.code ?? null, priceFen, from: from.toISOString(), priceVersionId: id, bestCostFen: bestCost ?? null, forced: belowCost },
      });
      return id;
    });
  }

  async prices(sku: string, options: { history?: boolean } = {}): Promise<PriceRow[]> {
    const q = this.db('sku_prices as p').leftJoin('resellers as r', 'r.id', 'p.reseller_id').where('p.sku_code', sku)
      .orderBy([{ column: 'p.tier' }, { column: 'r.code' }, { column: 'p.valid_from', order: 'desc' }])
      .select('p.id', 'p.tier', 'r.code as reseller_code', 'p.price_fen', 'p.valid_from', 'p.valid_to');
    if (!options.history) q.where((w) => w.whereNull('p.valid_to').orWhere('p.valid_to', '>', new Date()));
    return (await q).map((r: Record<string, any>) => ({ id: Number(r.id), tier: r.tier, resellerCode: r.reseller_code, priceFen: Number(r.price_fen), validFrom: r.valid_from, validTo: r.valid_to }));
  }
}

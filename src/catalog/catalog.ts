import type { Knex } from 'knex';
import type { Db } from '../db/knex.ts';
import { runPrepared } from '../db/prepared.ts';
import type { SqlPart } from '../db/sql-part.ts';
import { ValidationError } from '../errors.ts';
import { assertFen, type Fen } from '../money.ts';
import { NoPriceError, UnknownSkuError } from './errors.ts';

export type SkuKind = 'card_code' | 'direct_topup';
export type PriceTier = 'default' | 'silver' | 'gold';

export interface Sku {
  code: string;
  nameZh: string;
  nameEn: string;
  brand: string;
  kind: SkuKind;
  faceValueFen: Fen;
  currency: string;
  active: boolean;
  lowStockThreshold: number;
  procurementBatch: number;
}

export interface ResellerPrice {
  priceFen: Fen;
  /** The sku_prices row: an order records it and keeps that price whatever changes later. */
  priceVersionId: number;
}

/** One line of a reseller's price list: what it pays now, and whether that is its override, its tier's or the default. */
export interface PriceListRow extends Pick<Sku, 'code' | 'nameZh' | 'nameEn' | 'brand' | 'kind' | 'faceValueFen'> {
  priceFen: Fen;
  source: 'override' | PriceTier;
  /** Its tier's (else the default) price, beside an override. */
  tierPriceFen: Fen | null;
}

type Queryable = Db | Knex.Transaction;

const toSku = (r: Record<string, any>): Sku => ({
  code: r.code, nameZh: r.name_zh, nameEn: r.name_en, brand: r.brand, kind: r.kind, faceValueFen: r.face_value_fen,
  currency: r.currency, active: r.active, lowStockThreshold: r.low_stock_threshold, procurementBatch: r.procurement_batch,
});

/** The form of every SKU code (the skus table checks it too). */
const SKU_CODE = /^[A-Z0-9][A-Z0-9_-]{1,39}$/;

/**
 * The price a reseller pays for SKU `s` at an instant, as a subquery over sku_prices: its own
 * override, else its tier's, else the default. The arguments are SQL (a column, a function, `?`).
 */
const priceChoice = (who: { resellerId: string; tier: string; at: string }) => `
  SELECT sp.id, sp.price_fen FROM sku_prices sp
   WHERE sp.sku_code = s.code AND sp.valid_from <= ${who.at} AND (sp.valid_to IS NULL OR sp.valid_to > ${who.at})
     AND ((sp.tier = 'reseller' AND sp.reseller_id = ${who.resellerId}) OR sp.tier = ${who.tier} OR sp.tier = 'default')
   ORDER BY CASE WHEN sp.tier = 'reseller' THEN 0 WHEN sp.tier = 'default' THEN 2 ELSE 1 END LIMIT 1`;

/** SKUs and their reseller prices (default, silver, gold, per-reseller override), versioned. */
export class Catalog {
  private readonly kinds = new Map<string, SkuKind>();

  constructor(private readonly db: Db) {}

  async createSku(sku: Omit<Sku, 'currency' | 'active'> & { currency?: string; active?: boolean }): Promise<Sku> {
    assertFen(sku.faceValueFen, 'face value');
    if (!SKU_CODE.test(sku.code)) throw new ValidationError(`SKU code "${sku.code}" must be 2-40 capital letters, digits, _ or -`);
    const [row] = await this.db('skus').insert({
      code: sku.code, name_zh: sku.nameZh, name_en: sku.nameEn, brand: sku.brand, kind: sku.kind, face_value_fen: sku.faceValueFen,
      currency: sku.currency ?? 'CNY', active: sku.active ?? true, low_stock_threshold: sku.lowStockThreshold, procurement_batch: sku.procurementBatch,
    }).onConflict('code').merge(['name_zh', 'name_en', 'brand', 'active', 'low_stock_threshold', 'procurement_batch']).returning('*');
    return toSku(row);
  }

  async sku(code: string, trx: Queryable = this.db): Promise<Sku> {
    const row = await trx('skus').where({ code }).first();
    if (!row) throw new UnknownSkuError(code);
    return toSku(row);
  }

  async list(options: { activeOnly?: boolean } = {}): Promise<Sku[]> {
    const q = this.db('skus').orderBy('code');
    if (options.activeOnly) q.where({ active: true });
    return (await q).map(toSku);
  }

  /** Closes the current price of (sku, tier[, reseller]) and opens a new version, in one transaction. */
  async setPrice(input: { sku: string; tier: PriceTier | 'reseller'; resellerId?: number; priceFen: Fen; from?: Date }, outer?: Knex.Transaction): Promise<number> {
    assertFen(input.priceFen, 'price');
    if (input.priceFen <= 0) throw new ValidationError('a price must be positive');
    if ((input.tier === 'reseller') !== (input.resellerId !== undefined)) throw new ValidationError('a reseller price needs a reseller id, and only it');
    await this.sku(input.sku, outer);
    const from = input.from ?? new Date();
    const run = (fn: (trx: Knex.Transaction) => Promise<number>) => (outer ? fn(outer) : this.db.transaction(fn));
    return run(async (trx) => {
      await trx('sku_prices')
        .where({ sku_code: input.sku, tier: input.tier, reseller_id: input.resellerId ?? null })
        .whereNull('valid_to')
        .update({ valid_to: from });
      const [row] = await trx('sku_prices')
        .insert({ sku_code: input.sku, tier: input.tier, reseller_id: input.resellerId ?? null, price_fen: input.priceFen, valid_from: from })
        .returning('id');
      return row.id as number;
    });
  }

  /** The price a reseller pays at an instant: its own override, else its tier, else default. */
  async priceFor(skuCode: string, who: { tier: PriceTier; resellerId: number }, at: Date = new Date(), trx: Queryable = this.db): Promise<ResellerPrice> {
    const { rows } = await trx.raw(
      `SELECT p.id, p.price_fen FROM skus s CROSS JOIN LATERAL (${priceChoice({ resellerId: '?', tier: '?', at: '?' })}) p WHERE s.code = ?`,
      [at, at, who.resellerId, who.tier, skuCode],
    );
    if (!rows[0]) {
      await this.sku(skuCode, trx);
      throw new NoPriceError(skuCode, who.tier);
    }
    return { priceFen: rows[0].price_fen, priceVersionId: rows[0].id };
  }

  /** The SKU and the price this reseller pays for it at an instant, in one round trip (the order path). */
  async skuWithPrice(skuCode: string, who: { tier: PriceTier; resellerId: number }, at: Date = new Date()): Promise<{ sku: Sku; price: ResellerPrice }> {
    // no SKU has a code of another form (and PostgreSQL refuses some, such as NUL, outright)
    if (!SKU_CODE.test(skuCode)) throw new UnknownSkuError(skuCode);
    const { rows } = await runPrepared(this.db,
      `SELECT s.*, p.id AS price_id, p.price_fen FROM skus s
         LEFT JOIN LATERAL (${priceChoice({ resellerId: '?', tier: '?', at: '?' })}) p ON true
        WHERE s.code = ?`,
      [at, at, who.resellerId, who.tier, skuCode],
    );
    if (!rows[0]) throw new UnknownSkuError(skuCode);
    if (rows[0].price_id === null) throw new NoPriceError(skuCode, who.tier);
    return { sku: toSku(rows[0]), price: { priceFen: rows[0].price_fen, priceVersionId: rows[0].price_id } };
  }

  /**
   * A SKU's kind, remembered: it never changes (createSku keeps it), and the reseller API asks at
   * every order. Undefined for an unknown SKU.
   */
  async kindOf(code: string): Promise<SkuKind | undefined> {
    const known = this.kinds.get(code);
    if (known || !SKU_CODE.test(code)) return known;
    const row = await this.db('skus').where({ code }).first('kind');
    if (row) this.kinds.set(code, row.kind);
    return row?.kind;
  }

  /**
   * For a statement that prices an order itself: the CTE `price (price_id, price_fen)`, with a row
   * if the SKU is on sale and has a price now for the reseller in the CTE `claimant (id, tier)`.
   */
  priceCte(skuCode: string): SqlPart {
    return {
      sql: `price AS MATERIALIZED (
        SELECT p.id AS price_id, p.price_fen FROM claimant c, skus s
         CROSS JOIN LATERAL (${priceChoice({ resellerId: 'c.id', tier: 'c.tier', at: 'now()' })}) p
         WHERE s.code = ? AND s.active)`,
      bindings: [skuCode],
    };
  }

  /**
   * A reseller's price list: every active SKU with a price for it now, the price it pays and where
   * that price comes from (its own override, its tier, or the default), with the tier's price beside
   * an override. `search` matches the code, names or brand (case-insensitive, as typed).
   */
  async priceList(who: { tier: PriceTier; resellerId: number }, query: { search?: string; limit?: number; offset?: number } = {}): Promise<{ rows: PriceListRow[]; more: boolean }> {
    const search = String(query.search ?? '').trim().slice(0, 100);
    const like = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const limit = query.limit ?? 100_000;
    const { rows } = await this.db.raw(
      `SELECT s.code, s.name_zh, s.name_en, s.brand, s.kind, s.face_value_fen, p.price_fen, p.tier AS source, t.price_fen AS tier_price_fen
         FROM skus s
        CROSS JOIN LATERAL (SELECT sp.price_fen, sp.tier FROM sku_prices sp
          WHERE sp.sku_code = s.code AND sp.valid_from <= now() AND (sp.valid_to IS NULL OR sp.valid_to > now())
            AND ((sp.tier = 'reseller' AND sp.reseller_id = ?) OR sp.tier = ? OR sp.tier = 'default')
          ORDER BY CASE WHEN sp.tier = 'reseller' THEN 0 WHEN sp.tier = 'default' THEN 2 ELSE 1 END LIMIT 1) p
         LEFT JOIN LATERAL (SELECT sp.price_fen FROM sku_prices sp
          WHERE sp.sku_code = s.code AND sp.valid_from <= now() AND (sp.valid_to IS NULL OR sp.valid_to > now()) AND (sp.tier = ? OR sp.tier = 'default')
          ORDER BY CASE WHEN sp.tier = 'default' THEN 1 ELSE 0 END LIMIT 1) t ON true
        WHERE s.active AND (? = '' OR s.code ILIKE ? OR s.name_zh ILIKE ? OR s.name_en ILIKE ? OR s.brand ILIKE ?)
        ORDER BY s.code LIMIT ? OFFSET ?`,
      [who.resellerId, who.tier, who.tier, search, like, like, like, like, limit + 1, query.offset ?? 0],
    );
    return {
      rows: rows.slice(0, limit).map((r: Record<string, any>) => ({
        code: r.code, nameZh: r.name_zh, nameEn: r.name_en, brand: r.brand, kind: r.kind, faceValueFen: Number(r.face_value_fen), priceFen: Number(r.price_fen),
        source: r.source === 'reseller' ? 'override' : r.source, tierPriceFen: r.tier_price_fen === null ? null : Number(r.tier_price_fen),
      })),
      more: rows.length > limit,
    };
  }

  /** Every active SKU with the price this reseller pays now: the reseller API's product list. */
  async listForReseller(who: { tier: PriceTier; resellerId: number }): Promise<(Sku & { priceFen: Fen })[]> {
    const { rows } = await this.db.raw(
      `SELECT s.*, p.price_fen FROM skus s
        CROSS JOIN LATERAL (${priceChoice({ resellerId: '?', tier: '?', at: 'now()' })}) p
        WHERE s.active ORDER BY s.code`,
      [who.resellerId, who.tier],
    );
    return rows.map((r: Record<string, any>) => ({ ...toSku(r), priceFen: r.price_fen }));
  }
}

import type { Writable } from 'node:stream';
import type { Catalog, PriceListRow, PriceTier } from '../catalog/catalog.ts';
import type { Db } from '../db/knex.ts';
import { CsvSection, streamingWorkbook, XlsxSection, type ExportColumn } from '../files/export-sheet.ts';
import { recordPortalAudit, type PortalActor } from './users.ts';

const SOURCE_WORDS: Record<PriceListRow['source'], string> = {
  override: '专属价 Your override', default: '默认价 Default', silver: '白银等级 Silver tier', gold: '黄金等级 Gold tier',
};
const KIND_WORDS: Record<PriceListRow['kind'], string> = { card_code: '卡密 Card code', direct_topup: '直充 Direct top-up' };
const FACE = '面值(元) Face value (¥)';
const PRICE = '您的价格(元) Your price (¥)';
const TIER_PRICE = '等级价(元) Tier price (¥)';

/** The price list as a sheet: the same conventions as finance's exports (zh + en headers, yuan as #,##0.00, frozen bold header). */
export const PRICE_LIST_COLUMNS: ExportColumn<PriceListRow>[] = [
  { header: '商品编码 SKU', width: 16, value: (r) => r.code },
  { header: '名称 Name (zh)', width: 22, value: (r) => r.nameZh },
  { header: '名称 Name (en)', width: 24, value: (r) => r.nameEn },
  { header: '品牌 Brand', width: 12, value: (r) => r.brand },
  { header: '类型 Kind', width: 16, value: (r) => KIND_WORDS[r.kind] },
  { header: FACE, width: 16, fen: (r) => r.faceValueFen },
  { header: PRICE, width: 18, fen: (r) => r.priceFen },
  { header: '价格来源 Price from', width: 20, value: (r) => SOURCE_WORDS[r.source] },
  { header: TIER_PRICE, width: 16, fen: (r) => r.tierPriceFen ?? r.priceFen },
];
// a price list's prices are not summed: the totals row only counts the SKUs
const NO_SUMS = { [FACE]: null, [PRICE]: null, [TIER_PRICE]: null };

/** The reseller's prices now (its tier's, or its own override), searchable and paged: only its own. */
export async function portalPriceList(db: Db, catalog: Catalog, actor: PortalActor, query: { search?: string; limit?: number; offset?: number }) {
  const r = await db('resellers').where({ id: actor.resellerId }).first('tier');
  const tier = r.tier as PriceTier;
  return { tier, ...(await catalog.priceList({ tier, resellerId: actor.resellerId }, query)) };
}

/** Every line of its price list (a search narrows it) as XLSX or CSV (UTF-8 with a BOM), audited as the reseller user. */
export async function exportPriceList(db: Db, catalog: Catalog, actor: PortalActor, format: 'xlsx' | 'csv', search: string, out: Writable): Promise<number> {
  const { tier, rows } = await portalPriceList(db, catalog, actor, { search });
  await recordPortalAudit(db, { actor, action: 'portal.export_price_list', subjectType: 'reseller', subjectId: actor.resellerId, reason: 'price list downloaded', details: { format, tier, skus: rows.length, search } });
  if (format === 'xlsx') {
    const workbook = streamingWorkbook(out);
    const sheet = new XlsxSection(workbook, '价目表 Price list', PRICE_LIST_COLUMNS);
    for (const row of rows) sheet.add(row);
    sheet.finish('合计 Total', NO_SUMS);
    await workbook.commit();
  } else {
    await CsvSection.begin(out);
    const sheet = new CsvSection(out, PRICE_LIST_COLUMNS);
    await sheet.header();
    for (const row of rows) await sheet.add(row);
    await sheet.finish('合计 Total', NO_SUMS);
    out.end();
  }
  return rows.length;
}

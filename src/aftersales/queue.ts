import type { Writable } from 'node:stream';
import type { Db } from '../db/knex.ts';
import { NotFoundError } from '../errors.ts';
import { CsvSection, streamingWorkbook, XlsxSection, type ExportColumn } from '../files/export-sheet.ts';
import { isoShanghai } from '../dates.ts';
import { complaints, toComplaint, type Complaint } from './store.ts';
import { COMPLAINT_KINDS, type ComplaintKind, type ComplaintStatus } from './types.ts';

/** A complaint as the ops queue lists it. */
export interface QueuedComplaint extends Complaint {
  resellerCode: string;
  resellerOrderId: string;
  sku: string;
  supplierCode: string | null;
}

export interface QueueFilter {
  status?: ComplaintStatus | 'all';
  kind?: ComplaintKind;
  supplier?: string;
  escalated?: boolean;
  limit: number;
  offset: number;
}

const STATUSES = ['open', 'replaced', 'refunded', 'rejected', 'all'];

/** Filters from a query string or CLI options: anything unknown is dropped, never passed to SQL as is. */
export function queueFilterOf(q: Record<string, unknown>, page: { limit: number; offset: number }): QueueFilter {
  const status = STATUSES.includes(String(q.status)) ? (String(q.status) as QueueFilter['status']) : 'open';
  const kind = (COMPLAINT_KINDS as readonly string[]).includes(String(q.kind)) ? (String(q.kind) as ComplaintKind) : undefined;
  const supplier = typeof q.supplier === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(q.supplier) ? q.supplier : undefined;
  return { status, kind, supplier, escalated: q.escalated === '1' || q.escalated === true, ...page };
}

/** The after-sales queue: open ones by their nearest deadline (escalated first), others newest first. */
export async function complaintQueue(db: Db, f: QueueFilter): Promise<{ rows: QueuedComplaint[]; total: number }> {
  const q = db('complaints as c').join('orders as o', 'o.id', 'c.order_id').join('resellers as r', 'r.id', 'c.reseller_id').leftJoin('suppliers as s', 's.id', 'c.supplier_id');
  if (f.status && f.status !== 'all') q.where('c.status', f.status);
  if (f.kind) q.where('c.kind', f.kind);
  if (f.supplier) q.where('s.code', f.supplier);
  if (f.escalated) q.whereNotNull('c.escalation');
  if (f.status === 'open') q.orderByRaw('c.escalation IS NULL, c.resolution_due, c.id');
  else q.orderBy('c.created_at', 'desc').orderBy('c.id', 'desc');
  const rows = await q.limit(f.limit).offset(f.offset)
    .select('c.*', 'r.code as reseller_code', 'o.reseller_order_id', 'o.sku_code', 's.code as supplier_code', db.raw('count(*) OVER ()::int AS total_rows'));
  return {
    total: rows[0]?.total_rows ?? 0,
    rows: rows.map((r) => ({ ...toComplaint(r), resellerCode: r.reseller_code, resellerOrderId: r.reseller_order_id, sku: r.sku_code, supplierCode: r.supplier_code })),
  };
}

/** One complaint for ops: the order, the supplier's answers and every step on the timeline, the claim it raised. */
export async function complaintDetail(db: Db, id: number) {
  const { rows: [row] } = await db.raw(`
    SELECT c.*, r.code AS reseller_code, o.reseller_order_id, o.sku_code, o.kind AS order_kind, o.quantity, o.account, o.amount_fen, o.completed_at,
           s.code AS supplier_code, nc.serial AS replacement_serial
      FROM complaints c JOIN orders o ON o.id = c.order_id JOIN resellers r ON r.id = c.reseller_id
      LEFT JOIN suppliers s ON s.id = c.supplier_id LEFT JOIN card_codes nc ON nc.id = c.replacement_code_id
     WHERE c.id = ?`, [id]);
  if (!row) throw new NotFoundError('complaint', id);
  const claim = await db('supplier_claims').where({ complaint_id: id }).first('id', 'amount_fen', 'status', 'reference');
  return {
    complaint: toComplaint(row),
    order: { id: Number(row.order_id), resellerOrderId: row.reseller_order_id, sku: row.sku_code, kind: row.order_kind, quantity: row.quantity, account: row.account, amountFen: Number(row.amount_fen), completedAt: row.completed_at },
    resellerCode: row.reseller_code as string,
    supplierCode: row.supplier_code as string | null,
    replacementSerial: row.replacement_serial as string | null,
    claim: claim && { id: Number(claim.id), amountFen: Number(claim.amount_fen), status: claim.status as string, reference: claim.reference as string },
    timeline: await complaints.timeline(db, id),
  };
}

export interface ComplaintRate {
  key: string;
  delivered: number;
  complaints: number;
  upheld: number;
  /** complaints per delivered unit */
  rate: number;
}

/**
 * Supplier quality over the last `days` business days: complaints per delivered unit, by supplier
 * (codes received in its batches plus the top-ups it completed) or by SKU (completed orders). Read
 * from small tables only (batches, the daily order rollups, complaints), never the millions of
 * codes or orders, so the overview and stock pages can show it on every load; today's orders are
 * not rolled up yet, so a rate of today's complaints leans high until tonight's rollup.
 */
export async function complaintRates(db: Db, by: 'supplier' | 'sku', days = 30): Promise<ComplaintRate[]> {
  const window = Math.max(1, Math.min(366, Math.floor(days)));
  const sql = by === 'supplier' ? `
    WITH since AS (SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date - ${window} AS d),
    units AS (
      SELECT b.supplier_id, sum(b.code_count) AS n FROM card_batches b, since
       WHERE b.supplier_id IS NOT NULL AND b.received_at >= since.d GROUP BY b.supplier_id
      UNION ALL
      SELECT s.id, sum(m.orders) FROM order_day_margins m JOIN suppliers s ON s.code = m.name, since
       WHERE m.dimension = 'supplier' AND m.business_date >= since.d GROUP BY s.id
    ), delivered AS (SELECT supplier_id, sum(n) AS n FROM units GROUP BY supplier_id),
    filed AS (
      SELECT supplier_id, count(*) AS n, count(*) FILTER (WHERE status IN ('replaced', 'refunded')) AS upheld
        FROM complaints, since WHERE supplier_id IS NOT NULL AND created_at >= since.d GROUP BY supplier_id
    )
    SELECT s.code AS key, coalesce(d.n, 0)::int AS delivered, coalesce(f.n, 0)::int AS complaints, coalesce(f.upheld, 0)::int AS upheld
      FROM suppliers s LEFT JOIN delivered d ON d.supplier_id = s.id LEFT JOIN filed f ON f.supplier_id = s.id
     WHERE f.n IS NOT NULL ORDER BY coalesce(f.n, 0) DESC, s.code` : `
    WITH since AS (SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date - ${window} AS d),
    delivered AS (
      SELECT m.name AS sku_code, sum(m.orders) AS n FROM order_day_margins m, since WHERE m.dimension = 'sku' AND m.business_date >= since.d GROUP BY m.name
    ), filed AS (
      SELECT o.sku_code, count(*) AS n, count(*) FILTER (WHERE c.status IN ('replaced', 'refunded')) AS upheld
        FROM complaints c JOIN orders o ON o.id = c.order_id, since WHERE c.created_at >= since.d GROUP BY o.sku_code
    )
    SELECT f.sku_code AS key, coalesce(d.n, 0)::int AS delivered, f.n::int AS complaints, f.upheld::int AS upheld
      FROM filed f LEFT JOIN delivered d ON d.sku_code = f.sku_code ORDER BY f.n DESC, f.sku_code`;
  const { rows } = await db.raw(sql);
  return rows.map((r: Record<string, any>) => ({ key: r.key, delivered: r.delivered, complaints: r.complaints, upheld: r.upheld, rate: r.delivered > 0 ? r.complaints / r.delivered : 0 }));
}

/** A claim against a supplier, with what the supplier needs to find it: the serial or its own transaction reference. */
export interface ClaimLine {
  id: number;
  supplierCode: string;
  source: string;
  reference: string;
  complaintKey: string | null;
  resellerOrderId: string | null;
  amountFen: number;
  status: string;
  payoutBatchId: number | null;
  createdAt: Date;
}

export async function supplierClaims(db: Db, filter: { supplier?: string; status?: string }): Promise<ClaimLine[]> {
  const q = db('supplier_claims as c').join('suppliers as s', 's.id', 'c.supplier_id')
    .leftJoin('complaints as k', 'k.id', 'c.complaint_id').leftJoin('orders as o', 'o.id', 'k.order_id').leftJoin('payout_lines as l', 'l.id', 'c.payout_line_id')
    .orderBy('s.code').orderBy('c.id');
  if (filter.supplier) q.where('s.code', filter.supplier);
  if (filter.status) q.where('c.status', filter.status);
  const rows = await q.select('c.id', 's.code', 'c.source', 'c.reference', 'c.case_id', 'c.card_batch_id', 'k.complaint_key', 'o.reseller_order_id', 'c.amount_fen', 'c.status', 'l.batch_id', 'c.created_at');
  return rows.map((r) => ({
    id: Number(r.id), supplierCode: r.code, source: r.source,
    reference: r.reference ?? (r.case_id ? `reconciliation case ${r.case_id}` : r.card_batch_id ? `quarantined codes of batch ${r.card_batch_id}` : ''),
    complaintKey: r.complaint_key, resellerOrderId: r.reseller_order_id, amountFen: Math.abs(Number(r.amount_fen)), status: r.status,
    payoutBatchId: r.batch_id === null ? null : Number(r.batch_id), createdAt: r.created_at,
  }));
}

export const CLAIM_COLUMNS: ExportColumn<ClaimLine>[] = [
  { header: '索赔号 Claim', width: 10, value: (c) => c.id },
  { header: '供应商 Supplier', width: 16, value: (c) => c.supplierCode },
  { header: '来源 Source', width: 16, value: (c) => c.source },
  { header: '卡号/流水 Serial or reference', width: 44, value: (c) => c.reference },
  { header: '投诉 Complaint', width: 20, value: (c) => c.complaintKey },
  { header: '分销商订单 Reseller order', width: 22, value: (c) => c.resellerOrderId },
  { header: '状态 Status', width: 10, value: (c) => c.status },
  { header: '付款批次 Payout batch', width: 12, value: (c) => c.payoutBatchId },
  { header: '提出时间 Raised at', width: 26, value: (c) => isoShanghai(c.createdAt) },
  { header: '金额 Amount', width: 14, fen: (c) => c.amountFen },
];

/** The claims for the supplier: XLSX or CSV, with serials and references, totalled. */
export async function exportClaims(lines: ClaimLine[], out: Writable, format: 'xlsx' | 'csv'): Promise<void> {
  if (format === 'csv') {
    await CsvSection.begin(out);
    const sheet = new CsvSection(out, CLAIM_COLUMNS);
    await sheet.header();
    for (const l of lines) await sheet.add(l);
    await sheet.finish();
    out.end();
    return;
  }
  const workbook = streamingWorkbook(out);
  const sheet = new XlsxSection(workbook, '索赔 Claims', CLAIM_COLUMNS);
  for (const l of lines) sheet.add(l);
  sheet.finish();
  await workbook.commit();
}

/**
 * Order search for support: by reseller order id, recharge account or card serial. Shows delivered
 * serials (never codes) with their batch and supplier, and the order's complaints.
 */
export interface FoundOrder {
  id: number;
  resellerOrderId: string;
  resellerCode: string;
  sku: string;
  kind: string;
  quantity: number;
  account: string | null;
  amountFen: number;
  status: string;
  createdAt: Date;
  codes: { serial: string; batch: number; supplier: string | null }[];
  complaints: { id: number; complaintId: string; kind: string; status: string; serial: string | null }[];
}

export async function searchOrders(db: Db, query: string, limit = 50): Promise<FoundOrder[]> {
  const q = query.trim();
  if (!q || q.length > 64) return [];
  const { rows } = await db.raw(`
    WITH hits AS (
      SELECT id FROM orders WHERE reseller_order_id = ?
      UNION SELECT id FROM orders WHERE account = ?
      UNION SELECT order_id FROM card_codes WHERE serial = ? AND order_id IS NOT NULL
      UNION SELECT k.order_id FROM complaints k WHERE k.serial = ?
    )
    SELECT o.id, o.reseller_order_id, o.sku_code, o.kind, o.quantity, o.account, o.amount_fen, o.status, o.created_at, r.code AS reseller_code,
           coalesce((SELECT json_agg(json_build_object('serial', c.serial, 'batch', c.batch_id, 'supplier', s.code) ORDER BY c.id)
                       FROM card_codes c JOIN card_batches b ON b.id = c.batch_id LEFT JOIN suppliers s ON s.id = b.supplier_id
                      WHERE c.order_id = o.id), '[]') AS codes,
           coalesce((SELECT json_agg(json_build_object('id', k.id, 'complaintId', k.complaint_key, 'kind', k.kind, 'status', k.status, 'serial', k.serial) ORDER BY k.id)
                       FROM complaints k WHERE k.order_id = o.id), '[]') AS complaints
      FROM orders o JOIN resellers r ON r.id = o.reseller_id
     WHERE o.id IN (SELECT id FROM hits)
     ORDER BY o.created_at DESC LIMIT ${Math.max(1, Math.min(200, Math.floor(limit)))}`, [q, q, q, q]);
  return rows.map((r: Record<string, any>): FoundOrder => ({
    id: Number(r.id), resellerOrderId: r.reseller_order_id as string, resellerCode: r.reseller_code as string, sku: r.sku_code as string, kind: r.kind as string,
    quantity: r.quantity as number, account: r.account as string | null, amountFen: Number(r.amount_fen), status: r.status as string, createdAt: r.created_at as Date,
    codes: r.codes as { serial: string; batch: number; supplier: string | null }[],
    complaints: r.complaints as { id: number; complaintId: string; kind: string; status: string; serial: string | null }[],
  }));
}

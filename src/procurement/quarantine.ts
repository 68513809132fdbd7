import type { Db } from '../db/knex.ts';

export interface QuarantinedCode {
  id: number;
  quarantinedAt: Date;
  sku: string;
  supplierCode: string | null;
  batchId: number;
  line: number;
  serial: string;
  reason: string;
  detail: string;
  unitCostFen: number;
  /** The claim the delivery raised: open, netted (off a payout) or withdrawn. */
  claimStatus: string | null;
}

/** card_quarantine, newest first, with the claim each delivery raised: what ops look at (CLI and dashboard). */
export async function quarantinedCodes(db: Db, page: { limit: number; offset: number }): Promise<{ rows: QuarantinedCode[]; total: number }> {
  const rows = await db('card_quarantine as q')
    .leftJoin('suppliers as s', 's.id', 'q.supplier_id')
    .leftJoin('supplier_claims as c', 'c.card_batch_id', 'q.batch_id')
    .orderBy('q.quarantined_at', 'desc').orderBy('q.id', 'desc').limit(page.limit).offset(page.offset)
    .select('q.*', 's.code as supplier_code', 'c.status as claim_status', db.raw('count(*) OVER ()::int AS total_rows'));
  return {
    total: rows[0]?.total_rows ?? 0,
    rows: rows.map((r) => ({
      id: r.id, quarantinedAt: r.quarantined_at, sku: r.sku_code, supplierCode: r.supplier_code, batchId: r.batch_id, line: r.line, serial: r.serial,
      reason: r.reason, detail: r.detail, unitCostFen: r.unit_cost_fen, claimStatus: r.claim_status,
    })),
  };
}

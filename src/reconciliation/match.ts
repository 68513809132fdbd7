import type pg from 'pg';
import { addDays, businessDayRange, type BusinessDate } from '../dates.ts';
import { STATEMENT_LINES } from './statement/stage.ts';
import type { ClassCounts, DiscrepancyClass } from './types.ts';

export interface MatchInput {
  runId: number;
  supplierId: number;
  date: BusinessDate;
  /** How far across midnight a line may land from our record of it. */
  windowMinutes: number;
  toleranceFen: number;
  toleranceBp: number;
}

/**
 * Classifies every line of the staged statement (table `stmt`) and every one of our transactions
 * with this supplier on this day into exactly one class, writing recon_items for the run. All of
 * it is joins in PostgreSQL; nothing is matched row by row in JS.
 *
 *  1. Lines find our transactions by our reference (the request id we sent), or by the supplier's
 *     transaction id when the reference is unknown. A line may carry several references (one line
 *     for several of our orders): its amount is compared with their sum.
 *  2. Our transactions are those completed this day, plus those within the window either side of
 *     it: a line may list an order we completed at 23:59:58 on the day before (cross-midnight).
 *  3. A reference listed again on a later line is a duplicate at the supplier.
 *  4. Our successful transactions no line lists are missing at the supplier, unless the next or
 *     previous day's statement already listed them across midnight.
 */
export async function matchStatement(conn: pg.Client, input: MatchInput): Promise<ClassCounts> {
  const { start, end } = businessDayRange(input.date);
  const windowMs = input.windowMinutes * 60_000;
  const from = new Date(start.getTime() - windowMs);
  const to = new Date(end.getTime() + windowMs);
  const q = (sql: string, params: unknown[] = []) => conn.query(sql, params);

  await q(`
    CREATE TEMP TABLE ours ON COMMIT DROP AS
    SELECT request_id, supplier_txn_id, CASE WHEN status IN ('success', 'failed') THEN status ELSE 'pending' END AS status,
           cost_fen, coalesce(completed_at, created_at) AS at,
           coalesce(business_date, (created_at AT TIME ZONE 'Asia/Shanghai')::date) AS our_date
    FROM supplier_transactions
    WHERE supplier_id = $1 AND business_date BETWEEN $2::date - 1 AND $2::date + 1 AND completed_at >= $3 AND completed_at < $4
    UNION ALL
    SELECT request_id, supplier_txn_id, 'pending', cost_fen, created_at, (created_at AT TIME ZONE 'Asia/Shanghai')::date
    FROM supplier_transactions
    WHERE supplier_id = $1 AND business_date IS NULL AND created_at >= $3 AND created_at < $4`,
  [input.supplierId, input.date, from, to]);
  await q('CREATE UNIQUE INDEX ON ours (request_id)');
  await q('ANALYZE ours');

  // One row per line and reference; a reference we do not know is tried as the supplier's txn id.
  await q(`
    CREATE TEMP TABLE pairs ON COMMIT DROP AS
    SELECT l.line_no, l.supplier_txn_id, cardinality(l.refs) AS line_refs, l.sku, l.quantity,
           l.status AS their_status, l.amount_fen AS their_fen, l.completed_at AS their_at,
           coalesce(o.request_id, o2.request_id) AS request_id, coalesce(o.status, o2.status) AS our_status,
           coalesce(o.cost_fen, o2.cost_fen) AS our_fen, coalesce(o.at, o2.at) AS our_at, coalesce(o.our_date, o2.our_date) AS our_date,
           o.request_id IS NULL AND o2.request_id IS NOT NULL AS by_txn_id,
           coalesce(o.request_id, o2.request_id, 'txn:' || l.supplier_txn_id) AS dup_key
    FROM ${STATEMENT_LINES} l
    CROSS JOIN LATERAL unnest(l.refs) AS r(ref)
    LEFT JOIN ours o ON o.request_id = r.ref
    LEFT JOIN ours o2 ON o.request_id IS NULL AND cardinality(l.refs) = 1 AND o2.supplier_txn_id = l.supplier_txn_id`);
  await q(`
    CREATE TEMP TABLE dups ON COMMIT DROP AS
    SELECT dup_key, min(line_no) AS first_line FROM pairs GROUP BY dup_key HAVING count(DISTINCT line_no) > 1`);
  await q(`
    CREATE TEMP TABLE multi ON COMMIT DROP AS
    SELECT line_no, sum(our_fen) AS our_total FROM pairs WHERE line_refs > 1 GROUP BY line_no`);

  await q(`
    INSERT INTO recon_items (run_id, supplier_id, business_date, line_no, supplier_txn_id, line_refs, sku, quantity, their_status, their_fen, their_at,
                             request_id, our_status, our_fen, our_at, our_date, class, rule)
    SELECT $1, $2, $3::date, p.line_no, p.supplier_txn_id, p.line_refs, p.sku, p.quantity, p.their_status, p.their_fen, p.their_at,
           p.request_id, p.our_status, p.our_fen, p.our_at, p.our_date, c.class,
           CASE WHEN c.class = 'duplicate_at_supplier' THEN 'repeated_line'
                WHEN p.request_id IS NULL THEN 'unknown_reference'
                WHEN p.our_date <> $3::date THEN 'cross_midnight'
                WHEN p.line_refs > 1 THEN 'one_to_many'
                WHEN p.by_txn_id THEN 'supplier_txn_id'
                WHEN c.class = 'matched' AND p.their_status = 'success' AND p.their_fen <> p.our_fen THEN 'within_tolerance'
                ELSE 'reference' END
    FROM pairs p
    LEFT JOIN dups d ON d.dup_key = p.dup_key AND p.line_no > d.first_line
    LEFT JOIN multi m ON p.line_refs > 1 AND m.line_no = p.line_no
    CROSS JOIN LATERAL (SELECT CASE
      WHEN d.dup_key IS NOT NULL THEN 'duplicate_at_supplier'
      WHEN p.request_id IS NULL THEN 'missing_in_ours'
      WHEN p.their_status <> p.our_status THEN 'status_mismatch'
      WHEN p.their_status = 'failed' THEN 'matched'
      WHEN abs(p.their_fen - coalesce(m.our_total, p.our_fen)) <= greatest($4::bigint, coalesce(m.our_total, p.our_fen) * $5::bigint / 10000) THEN 'matched'
      ELSE 'amount_mismatch' END AS class) c`,
  [input.runId, input.supplierId, input.date, input.toleranceFen, input.toleranceBp]);

  // Our side: this day's transactions that no line listed.
  await q(`
    INSERT INTO recon_items (run_id, supplier_id, business_date, request_id, our_status, our_fen, our_at, our_date, class, rule)
    SELECT $1, $2, $3::date, o.request_id, o.status, o.cost_fen, o.at, o.our_date,
           CASE WHEN o.status <> 'success' OR n.request_id IS NOT NULL THEN 'matched' ELSE 'missing_at_supplier' END,
           CASE WHEN o.status <> 'success' THEN 'not_billed'
                WHEN n.request_id IS NOT NULL THEN 'cross_midnight'
                WHEN o.at >= $4 AND NOT $6 THEN 'awaiting_next_day'
                ELSE 'absent' END
    FROM ours o
    LEFT JOIN LATERAL (
      SELECT i.request_id FROM recon_items i
      WHERE i.supplier_id = $2 AND i.rule = 'cross_midnight' AND i.request_id = o.request_id AND i.business_date IN ($3::date - 1, $3::date + 1)
      LIMIT 1) n ON o.at < $5 OR o.at >= $4
    WHERE o.our_date = $3::date AND NOT EXISTS (SELECT 1 FROM pairs p WHERE p.request_id = o.request_id)`,
  [input.runId, input.supplierId, input.date, new Date(end.getTime() - windowMs), new Date(start.getTime() + windowMs),
    await dayReconciled(conn, input.supplierId, addDays(input.date, 1))]);

  const { rows } = await q(`
    SELECT class, count(*)::int AS items, count(DISTINCT line_no)::int AS lines, count(request_id)::int AS transactions,
           coalesce(sum(their_fen) FILTER (WHERE line_refs IS NOT NULL), 0)::bigint AS their_fen, coalesce(sum(our_fen), 0)::bigint AS our_fen
    FROM recon_items WHERE run_id = $1 GROUP BY class`, [input.runId]);
  const counts = {} as ClassCounts;
  for (const r of rows) counts[r.class as DiscrepancyClass] = { items: r.items, lines: r.lines, transactions: r.transactions, theirFen: r.their_fen, ourFen: r.our_fen };
  return counts;
}

async function dayReconciled(conn: pg.Client, supplierId: number, date: BusinessDate): Promise<boolean> {
  const { rows } = await conn.query('SELECT 1 FROM recon_runs WHERE supplier_id = $1 AND business_date = $2 AND is_current', [supplierId, date]);
  return rows.length > 0;
}

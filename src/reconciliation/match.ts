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
  /** Called after each step with its duration: how the benchmark shows where the time goes. */
  onPhase?: (name: string, ms: number) => void;
}

/**
 * Classifies every line of the staged statement (table `stmt`) and every one of our transactions
 * with this supplier on this day into exactly one class, writing recon_items for the run (the
 * session should have work_mem for hashing a million rows: see reconcile.ts). All of
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
  let last = performance.now();
  const q = async (sql: string, params: unknown[] = []) => {
    const result = await conn.query(sql, params);
    const now = performance.now();
    input.onPhase?.(/^\s*(\w+(?: \w+)?(?: \w+)?)/.exec(sql)?.[1] ?? 'query', now - last);
    last = now;
    return result;
  };

  await q(`
    CREATE TEMP TABLE ours ON COMMIT DROP AS
    SELECT request_id, supplier_txn_id, CASE WHEN status IN ('success', 'failed') THEN status ELSE 'pending' END AS status,
           cost_fen, completed_at AS at, business_date AS our_date
    FROM supplier_transactions
    WHERE supplier_id = $1 AND business_date BETWEEN $2::date - 1 AND $2::date + 1 AND completed_at >= $3 AND completed_at < $4
    UNION ALL
    SELECT request_id, supplier_txn_id, 'pending', cost_fen, created_at, (created_at AT TIME ZONE 'Asia/Shanghai')::date
    FROM supplier_transactions
    WHERE supplier_id = $1 AND business_date IS NULL AND created_at >= $3 AND created_at < $4`,
  [input.supplierId, input.date, from, to]);
  await q('ANALYZE ours');

  // One row per line and reference. The line's amount goes on its first reference's row only, so
  // sums over rows count each line once. Nearly every line has one reference: those join without
  // unnest, which costs more than a second of a million-line run.
  await q(`
    CREATE TEMP TABLE pairs ON COMMIT DROP AS
    WITH l AS MATERIALIZED ${STATEMENT_LINES}
    SELECT l.line_no, l.supplier_txn_id, 1 AS line_refs, l.sku, l.quantity,
           l.status AS their_status, l.amount_fen AS line_fen, l.amount_fen AS their_fen, l.completed_at AS their_at,
           o.request_id, o.status AS our_status, o.cost_fen AS our_fen, o.at AS our_at, o.our_date, false AS by_txn_id
    FROM l LEFT JOIN ours o ON o.request_id = l.refs[1]
    WHERE cardinality(l.refs) = 1
    UNION ALL
    SELECT l.line_no, l.supplier_txn_id, cardinality(l.refs), l.sku, l.quantity,
           l.status, l.amount_fen, CASE WHEN r.ord = 1 THEN l.amount_fen END, l.completed_at,
           o.request_id, o.status, o.cost_fen, o.at, o.our_date, false
    FROM l CROSS JOIN LATERAL unnest(l.refs) WITH ORDINALITY AS r(ref, ord)
    LEFT JOIN ours o ON o.request_id = r.ref
    WHERE cardinality(l.refs) <> 1`);
  // A single reference we do not know is tried as the supplier's transaction id (few lines).
  await q(`
    UPDATE pairs p SET request_id = o.request_id, our_status = o.status, our_fen = o.cost_fen, our_at = o.at, our_date = o.our_date, by_txn_id = true
    FROM ours o WHERE p.request_id IS NULL AND p.line_refs = 1 AND o.supplier_txn_id = p.supplier_txn_id`);
  await q('ANALYZE pairs');
  await q(`
    CREATE TEMP TABLE dups ON COMMIT DROP AS
    SELECT coalesce(request_id, 'txn:' || supplier_txn_id) AS dup_key, min(line_no) AS first_line
    FROM pairs GROUP BY 1 HAVING min(line_no) <> max(line_no)`);
  await q(`
    CREATE TEMP TABLE multi ON COMMIT DROP AS
    SELECT line_no, sum(our_fen) AS our_total FROM pairs WHERE line_refs > 1 GROUP BY line_no`);
  // small tables the planner must know are small, or it sorts a million rows to join them
  await q('ANALYZE dups, multi');

  const lineItems = await q(`
    WITH ins AS (
      INSERT INTO recon_items (run_id, supplier_id, business_date, line_no, supplier_txn_id, line_refs, sku, quantity, their_status, their_fen, their_at,
                               request_id, our_status, our_fen, our_at, our_date, class, rule)
      SELECT $1, $2, $3::date, p.line_no, p.supplier_txn_id, p.line_refs, p.sku, p.quantity, p.their_status, p.their_fen, p.their_at,
             p.request_id, p.our_status, p.our_fen, p.our_at, p.our_date, c.class,
             CASE WHEN c.class = 'duplicate_at_supplier' THEN 'repeated_line'
                  WHEN p.request_id IS NULL THEN 'unknown_reference'
                  WHEN p.our_date <> $3::date THEN 'cross_midnight'
                  WHEN p.line_refs > 1 THEN 'one_to_many'
                  WHEN p.by_txn_id THEN 'supplier_txn_id'
                  WHEN c.class = 'matched' AND p.their_status = 'success' AND p.line_fen <> p.our_fen THEN 'within_tolerance'
                  ELSE 'reference' END
      FROM pairs p
      LEFT JOIN dups d ON d.dup_key = coalesce(p.request_id, 'txn:' || p.supplier_txn_id) AND p.line_no > d.first_line
      LEFT JOIN multi m ON p.line_refs > 1 AND m.line_no = p.line_no
      CROSS JOIN LATERAL (SELECT CASE
        WHEN d.dup_key IS NOT NULL THEN 'duplicate_at_supplier'
        WHEN p.request_id IS NULL THEN 'missing_in_ours'
        WHEN p.their_status <> p.our_status THEN 'status_mismatch'
        WHEN p.their_status = 'failed' THEN 'matched'
        WHEN abs(p.line_fen - coalesce(m.our_total, p.our_fen)) <= greatest($4::bigint, coalesce(m.our_total, p.our_fen) * $5::bigint / 10000) THEN 'matched'
        ELSE 'amount_mismatch' END AS class) c
      RETURNING class, line_no, line_refs, request_id, their_fen, our_fen)
    ${COUNT_BY_CLASS} FROM ins GROUP BY class`,
  [input.runId, input.supplierId, input.date, input.toleranceFen, input.toleranceBp]);

  // Our side: this day's transactions that no line listed. Near midnight, a neighbouring day's
  // statement may already have listed them.
  const ourItems = await q(`
    WITH ins AS (
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
        WHERE (o.at < $5 OR o.at >= $4) AND i.supplier_id = $2 AND i.rule = 'cross_midnight' AND i.request_id = o.request_id
          AND i.business_date IN ($3::date - 1, $3::date + 1)
        LIMIT 1) n ON true
      WHERE o.our_date = $3::date AND NOT EXISTS (SELECT 1 FROM pairs p WHERE p.request_id = o.request_id)
      RETURNING class, line_no, line_refs, request_id, their_fen, our_fen)
    ${COUNT_BY_CLASS} FROM ins GROUP BY class`,
  [input.runId, input.supplierId, input.date, new Date(end.getTime() - windowMs), new Date(start.getTime() + windowMs),
    await dayReconciled(conn, input.supplierId, addDays(input.date, 1))]);

  const counts = {} as ClassCounts;
  for (const r of [...lineItems.rows, ...ourItems.rows]) {
    const c = (counts[r.class as DiscrepancyClass] ??= { items: 0, lines: 0, transactions: 0, theirFen: 0, ourFen: 0 });
    c.items += r.items;
    c.lines += r.lines;
    c.transactions += r.transactions;
    c.theirFen += Number(r.their_fen);
    c.ourFen += Number(r.our_fen);
  }
  return counts;
}

/**
 * Per class: items, lines, transactions, and amounts. A line's amount is on its first reference's
 * row, so a line counts once, in the class of its first reference.
 */
const COUNT_BY_CLASS = `
  SELECT class, count(*)::int AS items, count(their_fen)::int AS lines,
         count(request_id)::int AS transactions, coalesce(sum(their_fen), 0)::bigint AS their_fen, coalesce(sum(our_fen), 0)::bigint AS our_fen`;

async function dayReconciled(conn: pg.Client, supplierId: number, date: BusinessDate): Promise<boolean> {
  const { rows } = await conn.query('SELECT 1 FROM recon_runs WHERE supplier_id = $1 AND business_date = $2 AND is_current', [supplierId, date]);
  return rows.length > 0;
}

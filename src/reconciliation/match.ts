import type pg from 'pg';
import { addDays, businessDayRange, type BusinessDate } from '../dates.ts';
import { stageTime } from './statement/stage-rows.ts';
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
 * Classifies every line of the staged statement (table `stmt`, one row per line and reference)
 * and every one of our transactions with this supplier on this day into exactly one class,
 * writing the run's recon_items and recon_matches (the session should have work_mem for hashing a
 * million rows: see reconcile.ts). All of it is joins in PostgreSQL; nothing is matched row by
 * row in JS.
 *
 *  1. Lines find our transactions by our reference (the request id we sent), or by the supplier's
 *     transaction id when the reference is unknown. A line may carry several references (one line
 *     for several of our orders): its amount is compared with their sum.
 *  2. Our transactions are those completed this day, plus those within the window either side of
 *     it: a line may list an order we completed at 23:59:58 on the day before (cross-midnight).
 *  3. A reference listed again on a later line is a duplicate at the supplier.
 *  4. Our successful transactions no line lists are missing at the supplier, unless the next or
 *     previous day's statement already listed them across midnight.
 *
 * Plainly matched lines (the day's bulk) are written in blocks to recon_matches; every other line
 * and transaction gets a recon_items row with both sides' detail.
 */
export async function matchStatement(conn: pg.Client, input: MatchInput): Promise<ClassCounts> {
  const { start, end } = businessDayRange(input.date);
  const windowMs = input.windowMinutes * 60_000;
  const from = new Date(start.getTime() - windowMs);
  const to = new Date(end.getTime() + windowMs);
  let last = performance.now();
  const q = async (step: string, sql: string, params: unknown[] = []) => {
    const result = await conn.query(sql, params);
    const now = performance.now();
    input.onPhase?.(step, now - last);
    last = now;
    return result;
  };

  // Every line's reference with the transaction of ours it names, and every transaction of ours in
  // the window that no line names (line_no NULL): one hash join, both sides at once.
  await q('pair', `
    CREATE TEMP TABLE pairs ON COMMIT DROP AS
    SELECT s.line_no, s.line_refs, s.supplier_txn_id, s.sku, s.quantity, s.line_fen, s.their_fen, s.success, s.at_ms, s.ref_seen,
           o.request_id, o.status AS our_status, o.cost_fen AS our_fen, o.at AS our_at, o.our_date, o.supplier_txn_id AS our_txn_id, false AS by_txn_id
    FROM stmt s FULL JOIN (
      SELECT request_id, supplier_txn_id, CASE WHEN status IN ('success', 'failed') THEN status ELSE 'pending' END AS status,
             cost_fen, completed_at AS at, business_date AS our_date
      FROM supplier_transactions
      WHERE supplier_id = $1 AND business_date BETWEEN $2::date - 1 AND $2::date + 1 AND completed_at >= $3 AND completed_at < $4
      UNION ALL
      SELECT request_id, supplier_txn_id, 'pending', cost_fen, created_at, (created_at AT TIME ZONE 'Asia/Shanghai')::date
      FROM supplier_transactions
      WHERE supplier_id = $1 AND business_date IS NULL AND created_at >= $3 AND created_at < $4
    ) o ON o.request_id = s.ref`,
  [input.supplierId, input.date, from, to]);

  // The day's bulk looks plain (looksPlain: one reference, found, same day, amount and status,
  // not seen before in the file). Everything else, a few thousand rows, is copied to \`odd\`, which the
  // steps below work on instead of the million pairs.
  await q('odd rows', `CREATE TEMP TABLE odd ON COMMIT DROP AS SELECT * FROM pairs p WHERE NOT ${looksPlain('$1')}`, [input.date]);

  // A single reference we do not know is tried as the supplier's transaction id.
  const byTxnId = await q('match by txn id', `
    CREATE TEMP TABLE by_txn ON COMMIT DROP AS
    SELECT DISTINCT ON (l.line_no) l.line_no, o.request_id, o.our_status, o.our_fen, o.our_at, o.our_date
    FROM odd l JOIN pairs o ON o.our_txn_id = l.supplier_txn_id
    WHERE l.line_no IS NOT NULL AND l.request_id IS NULL AND l.line_refs = 1 AND o.request_id IS NOT NULL
    ORDER BY l.line_no, o.request_id`);
  if (byTxnId.rowCount) {
    await q('match by txn id', `
      UPDATE odd p SET request_id = b.request_id, our_status = b.our_status, our_fen = b.our_fen, our_at = b.our_at, our_date = b.our_date, by_txn_id = true
      FROM by_txn b WHERE p.line_no = b.line_no AND p.request_id IS NULL`);
    await q('match by txn id', 'DELETE FROM odd p USING by_txn b WHERE p.line_no IS NULL AND p.request_id = b.request_id');
    // a plain-looking line for a transaction that an earlier line named by txn id repeats that line:
    // it leaves the plain rows for odd
    await q('match by txn id', `
      WITH moved AS (
        UPDATE pairs p SET ref_seen = true WHERE ${looksPlain('$1')} AND p.request_id IN (SELECT request_id FROM by_txn) RETURNING p.*)
      INSERT INTO odd SELECT * FROM moved`, [input.date]);
  }

  // A line repeats an earlier one when both name the same transaction of ours (or, unknown to us,
  // carry the same supplier txn id). Only odd lines can be the later of such a pair (a plain-looking
  // line's reference is new in the file), so their keys are the candidates, and only the
  // candidates' rows are grouped.
  await q('duplicates', `
    CREATE TEMP TABLE dups ON COMMIT DROP AS
    SELECT k.dup_key, min(k.line_no) AS first_line
    FROM (
      SELECT p.request_id AS dup_key, p.line_no FROM pairs p WHERE ${looksPlain('$1')}
      UNION ALL
      SELECT coalesce(request_id, 'txn:' || supplier_txn_id), line_no FROM odd WHERE line_no IS NOT NULL
    ) k
    WHERE k.dup_key IN (SELECT coalesce(request_id, 'txn:' || supplier_txn_id) FROM odd WHERE line_no IS NOT NULL)
    GROUP BY 1 HAVING min(k.line_no) <> max(k.line_no)`, [input.date]);
  // a small table the planner must know is small, or it sorts a million rows to join it
  await q('analyse duplicates', 'ANALYZE dups');

  // The day's bulk: lines matched by reference, on the day, at the same amount, both successful.
  // A block per 10,000 lines.
  const plain = await q('plain matches', `
    WITH blocks AS (
      INSERT INTO recon_matches (run_id, supplier_id, business_date, line_nos, request_ids, amounts_fen)
      SELECT $1, $2, $3::date, array_agg(p.line_no), array_agg(p.request_id), array_agg(p.line_fen)
      FROM (
        SELECT p.line_no, p.request_id, p.line_fen FROM pairs p WHERE ${looksPlain('$3')}
        UNION ALL
        SELECT p.line_no, p.request_id, p.line_fen FROM odd p WHERE ${plainMatch('$3')}
      ) p
      WHERE NOT EXISTS (SELECT 1 FROM dups d WHERE d.dup_key = p.request_id AND p.line_no > d.first_line)
      GROUP BY p.line_no / ${MATCH_BLOCK}
      RETURNING amounts_fen),
    total AS (
      SELECT coalesce(sum(cardinality(amounts_fen)), 0)::int AS n, coalesce(sum((SELECT sum(a) FROM unnest(amounts_fen) a)), 0)::bigint AS fen FROM blocks)
    -- a plain line is one line, one transaction, the same amount on both sides
    SELECT 'matched' AS class, n AS items, n AS lines, n AS transactions, fen AS their_fen, fen AS our_fen FROM total`,
  [input.runId, input.supplierId, input.date]);

  // Every other line, classified, with both sides' detail.
  const lineItems = await q('classify lines', `
    WITH ins AS (
      INSERT INTO recon_items (run_id, supplier_id, business_date, line_no, supplier_txn_id, line_refs, sku, quantity, their_status, their_fen, their_at,
                               request_id, our_status, our_fen, our_at, our_date, class, rule)
      SELECT $1, $2, $3::date, p.line_no, p.supplier_txn_id, p.line_refs, p.sku, p.quantity, p.their_status, p.their_fen,
             ${stageTime('p.at_ms')}, p.request_id, p.our_status, p.our_fen, p.our_at, p.our_date, c.class,
             CASE WHEN c.class = 'duplicate_at_supplier' THEN 'repeated_line'
                  WHEN p.request_id IS NULL THEN 'unknown_reference'
                  WHEN p.our_date <> $3::date THEN 'cross_midnight'
                  WHEN p.line_refs > 1 THEN 'one_to_many'
                  WHEN p.by_txn_id THEN 'supplier_txn_id'
                  WHEN c.class = 'matched' AND p.success AND p.line_fen <> p.our_fen THEN 'within_tolerance'
                  ELSE 'reference' END
      FROM (
        -- a line of several references is never plain, so all its rows are here: their sum is its total
        SELECT p.*, d.dup_key IS NOT NULL AS repeated, CASE WHEN p.success THEN 'success' ELSE 'failed' END AS their_status,
               CASE WHEN p.line_refs > 1 THEN sum(p.our_fen) OVER (PARTITION BY p.line_no) END AS our_total
        FROM odd p
        LEFT JOIN dups d ON d.dup_key = coalesce(p.request_id, 'txn:' || p.supplier_txn_id) AND p.line_no > d.first_line
        WHERE p.line_no IS NOT NULL AND (NOT (${plainMatch('$3')}) OR d.dup_key IS NOT NULL)
      ) p
      CROSS JOIN LATERAL (SELECT CASE
        WHEN p.repeated THEN 'duplicate_at_supplier'
        WHEN p.request_id IS NULL THEN 'missing_in_ours'
        WHEN p.their_status <> p.our_status THEN 'status_mismatch'
        WHEN NOT p.success THEN 'matched'
        WHEN abs(p.line_fen - coalesce(p.our_total, p.our_fen)) <= greatest($4::bigint, coalesce(p.our_total, p.our_fen) * $5::bigint / 10000) THEN 'matched'
        ELSE 'amount_mismatch' END AS class) c
      RETURNING class, line_no, line_refs, request_id, their_fen, our_fen)
    ${COUNT_BY_CLASS} FROM ins GROUP BY class`,
  [input.runId, input.supplierId, input.date, input.toleranceFen, input.toleranceBp]);

  // Our side: this day's transactions that no line listed. Near midnight, a neighbouring day's
  // statement may already have listed them.
  const ourItems = await q('classify ours', `
    WITH ins AS (
      INSERT INTO recon_items (run_id, supplier_id, business_date, request_id, our_status, our_fen, our_at, our_date, class, rule)
      SELECT $1, $2, $3::date, o.request_id, o.our_status, o.our_fen, o.our_at, o.our_date,
             CASE WHEN o.our_status <> 'success' OR n.request_id IS NOT NULL THEN 'matched' ELSE 'missing_at_supplier' END,
             CASE WHEN o.our_status <> 'success' THEN 'not_billed'
                  WHEN n.request_id IS NOT NULL THEN 'cross_midnight'
                  WHEN o.our_at >= $4 AND NOT $6 THEN 'awaiting_next_day'
                  ELSE 'absent' END
      FROM odd o
      LEFT JOIN LATERAL (
        SELECT i.request_id FROM recon_items i
        WHERE (o.our_at < $5 OR o.our_at >= $4) AND i.supplier_id = $2 AND i.rule = 'cross_midnight' AND i.request_id = o.request_id
          AND i.business_date IN ($3::date - 1, $3::date + 1)
        LIMIT 1) n ON true
      WHERE o.line_no IS NULL AND o.our_date = $3::date
      -- a transaction not billed (still processing, or failed) that no line lists agrees with the
      -- statement at nothing owed: it counts as matched at ¥0 on our side, or the matched row would
      -- not balance (its cost stays on the item, for the record)
      RETURNING class, line_no, line_refs, request_id, their_fen, CASE WHEN rule = 'not_billed' THEN 0 ELSE our_fen END AS our_fen)
    ${COUNT_BY_CLASS} FROM ins GROUP BY class`,
  [input.runId, input.supplierId, input.date, new Date(end.getTime() - windowMs), new Date(start.getTime() + windowMs),
    await dayReconciled(conn, input.supplierId, addDays(input.date, 1))]);

  const counts = {} as ClassCounts;
  for (const r of [...plain.rows.filter((r) => r.items > 0), ...lineItems.rows, ...ourItems.rows]) {
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
 * A line kept in a recon_matches block, unless it repeats an earlier line: what the classification
 * below calls matched by rule 'reference' with both sides successful. Found by our reference
 * (not the supplier's id), one reference, our transaction of this day, the same status and the
 * same amount (within tolerance but not equal is rule 'within_tolerance'). Never NULL: a line is
 * in a block or in recon_items, never neither. date: the business date's query parameter.
 */
const plainMatch = (date: string) => `coalesce(p.request_id IS NOT NULL AND NOT p.by_txn_id AND p.line_refs = 1 AND p.our_date = ${date}::date
  AND p.success AND p.our_status = 'success' AND p.line_fen = p.our_fen, false)`;

/**
 * A pairs row as the join left it that is certainly a plain match unless a line named by the
 * supplier's txn id repeats it: its reference was not seen before in the file, so no earlier line
 * names it.
 */
const looksPlain = (date: string) => `(${plainMatch(date)} AND NOT p.ref_seen)`;
const MATCH_BLOCK = 10_000;

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

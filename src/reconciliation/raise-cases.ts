import type pg from 'pg';
import type { BusinessDate } from '../dates.ts';

/**
 * Turns a run's discrepancies into cases, inside the run's transaction. A case is keyed by what it
 * is about (class, our reference or the supplier's txn id, and which repeat), not by the run, so
 * re-running a day finds the same cases instead of raising new ones; a resolved case stays
 * resolved. Open cases the new run no longer finds are closed as cleared; cases about one of our
 * transactions that a neighbouring day's statement listed across midnight are closed as matched.
 */
export async function raiseCases(conn: pg.Client, input: { runId: number; supplierId: number; date: BusinessDate }) {
  const params = [input.runId, input.supplierId, input.date];
  const opened = await conn.query(`
    WITH found AS (
      SELECT i.*,
             i.class || ':' || CASE WHEN i.line_refs > 1 AND i.class IN ('amount_mismatch', 'status_mismatch', 'duplicate_at_supplier') THEN 'line:' || i.supplier_txn_id
                                    ELSE coalesce(i.request_id, 'txn:' || i.supplier_txn_id) END AS subject
      FROM recon_items i WHERE i.run_id = $1 AND i.class <> 'matched'
    ), keyed AS (
      SELECT f.*, f.subject || ':' || dense_rank() OVER (PARTITION BY f.subject ORDER BY f.line_no NULLS FIRST) AS subject_key FROM found f
    ), cases AS (
      SELECT subject_key, min(class) AS class, min(supplier_txn_id) AS supplier_txn_id,
             coalesce(array_agg(DISTINCT request_id) FILTER (WHERE request_id IS NOT NULL), '{}') AS request_ids,
             min(line_no) AS line_no, min(sku) AS sku,
             CASE WHEN min(class) IN ('missing_in_ours', 'duplicate_at_supplier') THEN 0
                  WHEN min(class) = 'status_mismatch' THEN coalesce(sum(our_fen) FILTER (WHERE our_status = 'success'), 0)
                  ELSE coalesce(sum(our_fen), 0) END AS our_fen,
             CASE WHEN min(class) = 'missing_at_supplier' THEN 0
                  WHEN min(class) = 'missing_in_ours' AND max(line_refs) > 1 THEN 0
                  ELSE coalesce(max(their_fen) FILTER (WHERE their_status = 'success'), 0) END AS their_fen,
             CASE min(rule) WHEN 'awaiting_next_day' THEN 'completed near midnight: may be listed in the next day''s statement'
                            WHEN 'supplier_txn_id' THEN 'found by the supplier''s transaction id, not our reference' ELSE '' END AS note
      FROM keyed GROUP BY subject_key
    )
    INSERT INTO recon_cases (supplier_id, business_date, subject_key, class, supplier_txn_id, request_ids, line_no, sku, our_fen, their_fen, delta_fen, note, first_run_id, last_run_id)
    SELECT $2, $3::date, subject_key, class, supplier_txn_id, request_ids, line_no, sku, our_fen, their_fen, their_fen - our_fen, note, $1, $1 FROM cases
    ON CONFLICT (supplier_id, business_date, subject_key) DO UPDATE SET
      last_run_id = EXCLUDED.last_run_id,
      line_no = EXCLUDED.line_no,
      our_fen = CASE WHEN recon_cases.state = 'resolved' THEN recon_cases.our_fen ELSE EXCLUDED.our_fen END,
      their_fen = CASE WHEN recon_cases.state = 'resolved' THEN recon_cases.their_fen ELSE EXCLUDED.their_fen END,
      delta_fen = CASE WHEN recon_cases.state = 'resolved' THEN recon_cases.delta_fen ELSE EXCLUDED.delta_fen END,
      updated_at = now()
    RETURNING (xmax = 0) AS inserted, state`, params);

  const cleared = await conn.query(`
    UPDATE recon_cases SET state = 'resolved', resolution = 'cleared', resolved_by = 'system', resolved_at = now(), updated_at = now(),
           resolution_reason = 'not found again when run #' || $1 || ' reconciled the day'
    WHERE supplier_id = $2 AND business_date = $3::date AND state <> 'resolved' AND last_run_id <> $1 AND carried_from IS NULL`, params);

  const matchedOtherDay = await conn.query(`
    UPDATE recon_cases c SET state = 'resolved', resolution = 'matched_other_day', resolved_by = 'system', resolved_at = now(), updated_at = now(),
           resolution_reason = 'listed in the ' || $3 || ' statement, line ' || i.line_no
    FROM recon_items i
    WHERE i.run_id = $1 AND i.supplier_id = $2 AND i.rule = 'cross_midnight' AND i.class = 'matched'
      AND c.supplier_id = $2 AND c.business_date = i.our_date AND c.business_date <> $3::date
      AND c.class = 'missing_at_supplier' AND c.request_ids @> ARRAY[i.request_id] AND c.state <> 'resolved'`, params);

  return {
    opened: opened.rows.filter((r) => r.inserted).length,
    stillOpen: opened.rows.filter((r) => r.state !== 'resolved').length,
    cleared: cleared.rowCount ?? 0,
    matchedOtherDay: matchedOtherDay.rowCount ?? 0,
  };
}

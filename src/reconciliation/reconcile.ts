import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { recordAudit } from '../audit/audit-log.ts';
import type { BusinessDate } from '../dates.ts';
import { actorFromRef, SCHEDULE, SYSTEM, type Actor, type Schedule } from '../users/actor.ts';
import type { Db } from '../db/knex.ts';
import { KamengError, ValidationError } from '../errors.ts';
import type { Supplier } from '../suppliers/registry.ts';
import { matchStatement } from './match.ts';
import { raiseCases } from './raise-cases.ts';
import { StatementFormatError } from './statement/errors.ts';
import { loadProfile } from './statement/profiles.ts';
import { fileSha256 } from './statement/read.ts';
import type { StatementLine } from './statement/rows.ts';
import { stageStatement, statementFormat } from './statement/stage.ts';
import type { ClassCounts, ReconSummary, SuspiciousEvidence } from './types.ts';

/**
 * Most of a file's lines are unknown to us: another day's or another supplier's statement. The run
 * stops before it opens a case per line; finance looks at the evidence and confirms, or uploads the
 * right file.
 */
export class SuspiciousStatementError extends KamengError {
  constructor(readonly evidence: SuspiciousEvidence) {
    super('SUSPICIOUS_STATEMENT', `${Math.round(evidence.share * 100)}% of the statement's ${evidence.lines} lines (${evidence.unknownLines}) are unknown to us (the limit is ${Math.round(evidence.threshold * 100)}%): `
      + `its lines are dated ${evidence.fileDates.map((d) => `${d.date} (${d.lines})`).join(', ') || 'nowhere'}; we hold ${evidence.ourTransactions} transactions that day`
      + `${evidence.knownElsewhere.length ? `; ${evidence.knownElsewhere.map((k) => `${k.count} of its references are ${k.supplierCode}'s for ${k.date ?? 'no date yet'}`).join(', ')}` : ''}`
      + `. Nothing was written (run #${evidence.runId}); confirm it to reconcile it anyway, or upload the right file.`, { details: { ...evidence } });
  }
}

/** A statement this small is never suspicious: a quiet day may well be half unknown. */
const SUSPICIOUS_MIN_LINES = 20;

export interface ReconcileInput {
  supplier: Supplier;
  date: BusinessDate;
  /** The statement file, readable by this process. */
  file: string;
  /** The name the supplier gave it (reported in problems); defaults to the file's base name. */
  fileName?: string;
  source: 'fetched' | 'uploaded';
  workflowId: string;
  triggeredBy: string;
  /** Originals are kept here, by hash: finance may need the file the supplier sent. */
  archiveDir: string;
  windowMinutes: number;
  onProgress?: (linesRead: number) => void;
  onPhase?: (name: string, ms: number) => void;
  /** Stop as suspicious when most lines are unknown (default true); false once finance has confirmed the file. */
  checkSuspicious?: boolean;
  /** Who confirmed a suspicious file (recorded on the run). */
  confirmedBy?: string;
}

/**
 * Reconciles one supplier's statement for one business date, in one transaction: stage the file,
 * match, replace the day's previous result, raise cases. A bad file is recorded as a rejected run
 * and changes nothing else. Re-running with the same file gives the same result.
 */
export async function reconcileDay(db: Db, input: ReconcileInput): Promise<ReconSummary> {
  const started = performance.now();
  const fileName = input.fileName ?? path.basename(input.file);
  const sha256 = await fileSha256(input.file);
  // The same bytes again for the same day are that day's statement; for another day, only when
  // they carry no lines (a day without activity looks the same every day).
  const received = await db('recon_statements').where({ supplier_id: input.supplier.id, sha256 }).orderBy('id');
  const known = received.find((r) => r.business_date === input.date);
  const elsewhere = received.find((r) => r.business_date !== input.date && r.line_count !== 0);
  if (!known && elsewhere) {
    throw new ValidationError(`${fileName} was already received as ${input.supplier.code}'s statement for ${elsewhere.business_date} (statement #${elsewhere.id}); it cannot also be the statement for ${input.date}`, { statementId: elsewhere.id });
  }
  const storedPath = known?.stored_path ?? received[0]?.stored_path ?? (await archive(input, sha256, fileName));
  const [run] = await db('recon_runs').insert({
    supplier_id: input.supplier.id, business_date: input.date, workflow_id: input.workflowId, triggered_by: input.triggeredBy,
  }).returning('id');
  const runId: number = run.id;

  let lastReport = 0;
  const progress = (lines: number) => {
    input.onProgress?.(lines);
    if (lines - lastReport < 50_000) return;
    lastReport = lines;
    void db('recon_runs').where({ id: runId }).update({ lines_read: lines }).catch(() => undefined);
  };

  let mark = performance.now();
  const phase = (name: string) => {
    const now = performance.now();
    input.onPhase?.(name, now - mark);
    mark = now;
  };
  const conn = await reconciliationConnection(db);
  try {
    await conn.query('BEGIN');
    // one reconciliation of a supplier-day at a time, whoever starts it
    await conn.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`recon:${input.supplier.id}:${input.date}`]);
    const profile = await loadProfile(db, input.supplier.id);
    const staged = await stageStatement(conn, {
      path: storedPath, name: fileName, format: statementFormat(fileName), profile, onProgress: progress,
    });
    const statementId = known?.id ?? (await conn.query(`
      INSERT INTO recon_statements (supplier_id, business_date, file_name, sha256, stored_path, source, byte_size, line_count, received_by)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
    [input.supplier.id, input.date, fileName, sha256, storedPath, input.source, (await fs.stat(storedPath)).size, staged.lines, input.triggeredBy])).rows[0].id;

    phase('stage');
    const counts = await matchStatement(conn, {
      onPhase: (name, ms) => { input.onPhase?.(name, ms); mark = performance.now(); },
      runId, supplierId: input.supplier.id, date: input.date, windowMinutes: input.windowMinutes,
      toleranceFen: input.supplier.reconToleranceFen, toleranceBp: input.supplier.reconToleranceBp,
    });
    const unknown = counts.missing_in_ours?.lines ?? 0;
    const saleLines = staged.lines - staged.side.length;
    if (input.checkSuspicious !== false && saleLines >= SUSPICIOUS_MIN_LINES && unknown / saleLines > profile.suspiciousShare) {
      throw new SuspiciousStatementError(await evidenceOf(conn, { runId, supplierId: input.supplier.id, date: input.date, lines: saleLines, unknown, threshold: profile.suspiciousShare }));
    }
    await classifySide(conn, { runId, supplierId: input.supplier.id, date: input.date, side: staged.side, counts });
    phase('refunds and processing');
    // the day's result is this run's: earlier runs' items go
    for (const table of ['recon_items', 'recon_matches']) {
      await conn.query(`DELETE FROM ${table} WHERE run_id IN (SELECT id FROM recon_runs WHERE supplier_id = $1 AND business_date = $2 AND id <> $3)`, [input.supplier.id, input.date, runId]);
    }
    await conn.query('UPDATE recon_runs SET is_current = false WHERE supplier_id = $1 AND business_date = $2 AND is_current', [input.supplier.id, input.date]);
    phase('replace previous');
    const cases = await raiseCases(conn, { runId, supplierId: input.supplier.id, date: input.date });
    phase('cases');
    await conn.query(`UPDATE recon_runs SET status = 'completed', is_current = true, statement_id = $2, lines_read = $3, counts = $4, finished_at = now(), findings = $5, confirmed_by = $6 WHERE id = $1`,
      [runId, statementId, staged.lines, JSON.stringify({ classes: counts, cases }), JSON.stringify(staged.findings.slice(0, 200)), input.confirmedBy ?? null]);
    await conn.query('COMMIT');
    phase('commit');
    await recordAudit(db, {
      actor: await auditActor(db, input.triggeredBy), action: 'recon.run', subjectType: 'recon_run', subjectId: runId,
      reason: `${input.supplier.code} ${input.date}: ${fileName}`,
      details: { supplier: input.supplier.code, date: input.date, statementId, lines: staged.lines, items: Object.fromEntries(Object.entries(counts).map(([c, n]) => [c, n!.items])), cases },
    });
    return {
      runId, supplierCode: input.supplier.code, date: input.date, statementId, statementReused: Boolean(known), lines: staged.lines, counts, cases,
      seconds: Math.round(performance.now() - started) / 1000, findings: staged.findings,
    };
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => undefined);
    if (err instanceof SuspiciousStatementError) {
      await db('recon_runs').where({ id: runId }).update({
        status: 'suspicious', error: storable(err.message).slice(0, 4000), finished_at: db.fn.now(), evidence: JSON.stringify(err.evidence, (_key, value: unknown) => (typeof value === 'string' ? storable(value) : value)),
      });
      throw err;
    }
    const rejected = err instanceof StatementFormatError;
    await db('recon_runs').where({ id: runId }).update({
      status: rejected ? 'rejected' : 'failed', error: storable((err as Error).message).slice(0, 4000), finished_at: db.fn.now(),
      problems: JSON.stringify(rejected ? err.problems : [], (_key, value: unknown) => (typeof value === 'string' ? storable(value) : value)),
    });
    if (rejected) {
      await recordAudit(db, {
        actor: await auditActor(db, input.triggeredBy), action: 'recon.rejected', subjectType: 'recon_run', subjectId: runId,
        reason: storable((err as Error).message).slice(0, 500), details: { supplier: input.supplier.code, date: input.date, file: fileName },
      }).catch(() => undefined);
    }
    throw err;
  } finally {
    await conn.end().catch(() => undefined);
  }
}

/** Who a run is audited as: the schedule, the user who asked (by name), or the system (a name no user has). */
async function auditActor(db: Db, triggeredBy: string): Promise<Actor | Schedule> {
  if (triggeredBy === 'schedule') return SCHEDULE;
  return actorFromRef(db, triggeredBy).catch(() => SYSTEM);
}

/** What a suspicious file held (dates, references) against what the day holds. */
async function evidenceOf(conn: pg.Client, input: { runId: number; supplierId: number; date: BusinessDate; lines: number; unknown: number; threshold: number }): Promise<SuspiciousEvidence> {
  const dates = await conn.query(`
    SELECT to_char((timestamptz 'epoch' + at_ms * interval '1 millisecond') AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD') AS date, count(DISTINCT line_no)::int AS lines
    FROM stmt GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5`);
  const refs = await conn.query('SELECT ref FROM stmt ORDER BY line_no LIMIT 5');
  const ours = await conn.query(`SELECT count(*)::int AS n, (array_agg(request_id ORDER BY request_id))[1:5] AS sample FROM supplier_transactions WHERE supplier_id = $1 AND business_date = $2`, [input.supplierId, input.date]);
  const elsewhere = await conn.query(`
    SELECT s.code AS supplier_code, to_char(t.business_date, 'YYYY-MM-DD') AS date, count(*)::int AS count
    FROM (SELECT ref FROM stmt LIMIT 2000) r JOIN supplier_transactions t ON t.request_id = r.ref JOIN suppliers s ON s.id = t.supplier_id
    WHERE NOT (t.supplier_id = $1 AND t.business_date = $2) GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 5`, [input.supplierId, input.date]);
  return {
    runId: input.runId, lines: input.lines, unknownLines: input.unknown, share: Math.round((input.unknown / input.lines) * 1000) / 1000, threshold: input.threshold,
    fileDates: dates.rows, sampleReferences: refs.rows.map((r) => r.ref), ourTransactions: ours.rows[0]?.n ?? 0, ourSampleReferences: ours.rows[0]?.sample ?? [],
    knownElsewhere: elsewhere.rows.map((r) => ({ supplierCode: r.supplier_code, date: r.date, count: r.count })),
  };
}

/**
 * Refund and reversal lines, and lines still processing at the supplier: never sales, so not
 * staged. A processing line takes over our transaction it names (which would otherwise be missing
 * at the supplier); a refund is a discrepancy of its own, with our transaction's detail beside it.
 */
async function classifySide(conn: pg.Client, input: { runId: number; supplierId: number; date: BusinessDate; side: StatementLine[]; counts: ClassCounts }): Promise<void> {
  if (!input.side.length) return;
  const rows = input.side.flatMap((l) => l.merchantOrderNos.map((ref, i) => ({
    line: l.line, refs: l.merchantOrderNos.length, txn: l.supplierTxnId, ref, sku: l.sku, quantity: l.quantity, fen: i === 0 ? l.amountFen : null,
    status: l.status === 'refund' ? 'refunded' : 'processing', at: l.completedAt.toISOString(), cls: l.status === 'refund' ? 'refund_at_supplier' : 'processing_at_supplier',
  })));
  const col = <K extends keyof (typeof rows)[number]>(k: K) => rows.map((r) => r[k]);
  await conn.query(`
    CREATE TEMP TABLE side ON COMMIT DROP AS
    SELECT * FROM unnest($1::int[], $2::int[], $3::text[], $4::text[], $5::text[], $6::int[], $7::bigint[], $8::text[], $9::timestamptz[], $10::text[])
      AS s(line_no, line_refs, supplier_txn_id, ref, sku, quantity, their_fen, their_status, their_at, class)`,
  [col('line'), col('refs'), col('txn'), col('ref'), col('sku'), col('quantity'), col('fen'), col('status'), col('at'), col('cls')]);
  // a processing line for our transaction that no sale line listed (missing at the supplier, or not
  // billed as not final on our side either): that transaction's item becomes the line's
  const fromMatched = await conn.query(`
    UPDATE recon_items i SET class = 'processing_at_supplier', rule = 'supplier_processing', line_no = s.line_no, supplier_txn_id = s.supplier_txn_id,
           line_refs = s.line_refs, sku = s.sku, quantity = s.quantity, their_status = s.their_status, their_fen = s.their_fen, their_at = s.their_at
    FROM side s
    WHERE i.run_id = $1 AND i.line_no IS NULL AND i.request_id = s.ref AND s.class = 'processing_at_supplier'
      AND (i.class = 'missing_at_supplier' OR (i.class = 'matched' AND i.rule = 'not_billed'))
    RETURNING (i.our_status <> 'success') AS was_matched, i.our_fen`, [input.runId]);
  await conn.query(`
    INSERT INTO recon_items (run_id, supplier_id, business_date, line_no, supplier_txn_id, line_refs, sku, quantity, their_status, their_fen, their_at,
                             request_id, our_status, our_fen, our_at, our_date, class, rule)
    SELECT $1, $2, $3::date, s.line_no, s.supplier_txn_id, s.line_refs, s.sku, s.quantity, s.their_status, s.their_fen, s.their_at,
           t.request_id, t.status, t.cost_fen, t.completed_at, t.business_date, s.class,
           CASE WHEN s.class = 'refund_at_supplier' AND t.request_id IS NOT NULL THEN 'reversal_of_our_transaction'
                WHEN s.class = 'refund_at_supplier' THEN 'refund_unknown_reference' ELSE 'supplier_processing' END
    FROM side s
    LEFT JOIN supplier_transactions t ON t.request_id = s.ref AND t.supplier_id = $2
    WHERE NOT EXISTS (SELECT 1 FROM recon_items i WHERE i.run_id = $1 AND i.line_no = s.line_no AND i.request_id = s.ref)`, [input.runId, input.supplierId, input.date]);
  // the counts follow: what a processing line took over leaves its class
  const recount = await conn.query(`SELECT class, count(*)::int AS items, count(their_fen)::int AS lines, count(request_id)::int AS transactions,
      coalesce(sum(their_fen), 0)::bigint AS their_fen, coalesce(sum(our_fen), 0)::bigint AS our_fen
    FROM recon_items WHERE run_id = $1 AND class IN ('missing_at_supplier', 'refund_at_supplier', 'processing_at_supplier') GROUP BY class`, [input.runId]);
  const matched = input.counts.matched;
  for (const r of fromMatched.rows) {
    if (!r.was_matched || !matched) continue;
    matched.items--;
    matched.transactions--;
    matched.ourFen -= Number(r.our_fen ?? 0);
  }
  for (const cls of ['missing_at_supplier', 'refund_at_supplier', 'processing_at_supplier'] as const) delete input.counts[cls];
  for (const r of recount.rows) {
    input.counts[r.class as 'refund_at_supplier'] = { items: r.items, lines: r.lines, transactions: r.transactions, theirFen: Number(r.their_fen), ourFen: Number(r.our_fen) };
  }
}

/** PostgreSQL text and jsonb cannot hold NUL, which a damaged file can bring into a problem's text. */
const storable = (text: string) => text.replaceAll('\u0000', '\uFFFD');

/**
 * A connection of its own rather than one from the pool: the million-row temp tables of a large
 * statement need more than the default 8 MB of temp buffers, which can only be set before a
 * session first touches a temp table. Memory is taken only as used.
 */
async function reconciliationConnection(db: Db): Promise<pg.Client> {
  const { connectionString } = db.client.config.connection as { connectionString: string };
  const conn = new pg.Client({ connectionString, application_name: 'kameng-reconciliation', options: '-c temp_buffers=512MB -c work_mem=256MB' });
  await conn.connect();
  return conn;
}

async function archive(input: ReconcileInput, sha256: string, fileName: string): Promise<string> {
  const dir = path.join(input.archiveDir, input.supplier.code);
  await fs.mkdir(dir, { recursive: true });
  const target = path.join(dir, `${sha256}${path.extname(fileName).toLowerCase() || '.csv'}`);
  if (path.resolve(input.file) !== path.resolve(target)) {
    const tmp = `${target}.${process.pid}.partial`;
    await fs.copyFile(input.file, tmp);
    await fs.rename(tmp, target);
  }
  return target;
}

import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { recordAudit } from '../audit/audit-log.ts';
import type { BusinessDate } from '../dates.ts';
import { actorFromRef, SCHEDULE, SYSTEM, type Actor, type Schedule } from '../users/actor.ts';
import type { Db } from '../db/knex.ts';
import { ValidationError } from '../errors.ts';
import type { Supplier } from '../suppliers/registry.ts';
import { matchStatement } from './match.ts';
import { raiseCases } from './raise-cases.ts';
import { StatementFormatError } from './statement/errors.ts';
import { fileSha256 } from './statement/read.ts';
import { stageStatement, statementFormat } from './statement/stage.ts';
import type { ReconSummary } from './types.ts';

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
    const staged = await stageStatement(conn, {
      path: storedPath, name: fileName, format: statementFormat(fileName), columns: input.supplier.statementColumns, onProgress: progress,
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
    // the day's result is this run's: earlier runs' items go
    for (const table of ['recon_items', 'recon_matches']) {
      await conn.query(`DELETE FROM ${table} WHERE run_id IN (SELECT id FROM recon_runs WHERE supplier_id = $1 AND business_date = $2 AND id <> $3)`, [input.supplier.id, input.date, runId]);
    }
    await conn.query('UPDATE recon_runs SET is_current = false WHERE supplier_id = $1 AND business_date = $2 AND is_current', [input.supplier.id, input.date]);
    phase('replace previous');
    const cases = await raiseCases(conn, { runId, supplierId: input.supplier.id, date: input.date });
    phase('cases');
    await conn.query(`UPDATE recon_runs SET status = 'completed', is_current = true, statement_id = $2, lines_read = $3, counts = $4, finished_at = now() WHERE id = $1`,
      [runId, statementId, staged.lines, JSON.stringify({ classes: counts, cases })]);
    await conn.query('COMMIT');
    phase('commit');
    await recordAudit(db, {
      actor: await auditActor(db, input.triggeredBy), action: 'recon.run', subjectType: 'recon_run', subjectId: runId,
      reason: `${input.supplier.code} ${input.date}: ${fileName}`,
      details: { supplier: input.supplier.code, date: input.date, statementId, lines: staged.lines, items: Object.fromEntries(Object.entries(counts).map(([c, n]) => [c, n!.items])), cases },
    });
    return {
      runId, supplierCode: input.supplier.code, date: input.date, statementId, statementReused: Boolean(known), lines: staged.lines, counts, cases,
      seconds: Math.round(performance.now() - started) / 1000,
    };
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => undefined);
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

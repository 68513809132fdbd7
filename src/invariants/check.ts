import type { Db } from '../db/knex.ts';
import { INVARIANTS, type Invariant } from './invariants.ts';

export interface InvariantResult {
  invariant: Invariant;
  checked: number;
  violations: number;
  samples: string[];
  ms: number;
}

export interface CheckReport {
  results: InvariantResult[];
  violations: number;
}

/** Runs every invariant in one read-only snapshot, so they all judge the same state of the books. */
export async function checkInvariants(db: Db): Promise<CheckReport> {
  return db.transaction(async (trx) => {
    // each check hashes up to a row per order or per entry: in memory, not spilled to disk
    await trx.raw(`SET LOCAL work_mem = '256MB'`);
    const results: InvariantResult[] = [];
    for (const invariant of INVARIANTS) {
      const started = performance.now();
      const { rows: [row] } = await trx.raw(invariant.sql);
      results.push({ invariant, checked: row.checked ?? 0, violations: row.violations ?? 0, samples: row.samples ?? [], ms: performance.now() - started });
    }
    return { results, violations: results.reduce((n, r) => n + r.violations, 0) };
  }, { isolationLevel: 'repeatable read', readOnly: true });
}

/** The report as a person reads it: one line per invariant, samples under a broken one. */
export function formatReport(report: CheckReport): string {
  const lines = report.results.map((r) => {
    const mark = r.violations === 0 ? 'ok  ' : 'FAIL';
    const head = `${mark} ${r.invariant.zh} / ${r.invariant.en}: ${r.checked} checked, ${r.violations} violations (${Math.round(r.ms)} ms)`;
    return r.violations === 0 ? head : `${head}\n${r.samples.map((s) => `       - ${s}`).join('\n')}`;
  });
  lines.push(report.violations === 0 ? 'all invariants hold' : `${report.violations} violation(s)`);
  return lines.join('\n');
}

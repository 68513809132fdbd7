import type { Db } from '../../src/db/knex.ts';
import { checkInvariants, formatReport } from '../../src/invariants/check.ts';

/** The invariant checker over what the benchmark wrote: fast numbers on broken books would mean nothing. */
export async function reportInvariants(db: Db): Promise<void> {
  const report = await checkInvariants(db);
  console.log(`\ninvariants after the benchmark:\n${formatReport(report)}`);
  if (report.violations > 0) process.exitCode = 1;
}

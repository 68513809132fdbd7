import { checkInvariants, formatReport } from '../invariants/check.ts';
import { withCli } from './context.ts';

/** `kameng check`: every invariant with its count; exits 1 on any violation. */
export async function checkCommand(): Promise<void> {
  const report = await withCli((ctx) => checkInvariants(ctx.db));
  console.log(formatReport(report));
  if (report.violations > 0) process.exitCode = 1;
}

import Table from 'cli-table3';
import { checkInvariants, type CheckReport } from '../invariants/check.ts';
import { withCli } from './context.ts';

/** `kameng check`: every invariant with its count; exits 1 on any violation. */
export async function checkCommand(): Promise<void> {
  const started = performance.now();
  const report = await withCli((ctx) => checkInvariants(ctx.db));
  printReport(report);
  console.log(report.violations === 0
    ? `all ${report.results.length} invariants hold (${Math.round(performance.now() - started)} ms)`
    : `${report.violations} violation(s) (${Math.round(performance.now() - started)} ms)`);
  if (report.violations > 0) process.exitCode = 1;
}

function printReport(report: CheckReport): void {
  const table = new Table({ head: ['', '不变量 invariant', '检查 checked', '违反 violations', '示例 samples', 'ms'], wordWrap: true, colWidths: [6, 60, null, null, 50, null] });
  for (const r of report.results) {
    table.push([
      r.violations === 0 ? 'ok' : 'FAIL', `${r.invariant.zh}\n${r.invariant.en}`, r.checked, r.violations,
      r.samples.join('\n'), Math.round(r.ms),
    ]);
  }
  console.log(table.toString());
}

import fs from 'node:fs/promises';
import type { Command } from 'commander';
import Table from 'cli-table3';
import { isoShanghai } from '../dates.ts';
import { ValidationError } from '../errors.ts';
import { formatYuan } from '../money.ts';
import { FIELD_LABELS, STATEMENT_FIELDS } from '../reconciliation/statement/columns.ts';
import { formatProblem } from '../reconciliation/statement/errors.ts';
import { parseProfile, type StatementProfile } from '../reconciliation/statement/profile.ts';
import { loadProfile, previewStatement, saveProfile, savedProfile, sourceOf, type Preview } from '../reconciliation/statement/profiles.ts';
import { confirmSuspiciousStatement } from '../reconciliation/trigger.ts';
import { withActor, withCli } from './context.ts';

/**
 * `kameng statement-profile show|test|set` (how a supplier's statements are read, issue 19) and
 * `kameng recon-confirm` (reconcile a statement the run stopped as suspicious).
 */
export function registerStatementProfileCommands(program: Command): void {
  const profile = program.command('statement-profile').description("A supplier's statement profile (对账单格式): header aliases, quantity default, status words, footer, time zone, amount unit");
  profile.command('show').description('Print the saved profile (JSON)').requiredOption('--supplier <code>', 'supplier code')
    .action((o: { supplier: string }) => withCli(async (ctx) => {
      const supplier = await ctx.deps.suppliers.byCode(o.supplier);
      const saved = await savedProfile(ctx.db, supplier.id);
      console.log(JSON.stringify(saved.profile, null, 2));
      if (saved.updatedBy) console.log(`# saved by ${saved.updatedBy} at ${isoShanghai(saved.updatedAt!)}`);
    }));
  profile.command('test').description('Read a sample statement by the profile: the first 20 lines, the column each field came from, problems and totals; nothing is saved')
    .requiredOption('--supplier <code>', 'supplier code').requiredOption('--file <path>', 'sample statement (CSV or XLSX)')
    .option('--profile <json-file>', 'try this profile instead of the saved one')
    .action((o: { supplier: string; file: string; profile?: string }) => withCli(async (ctx) => {
      const supplier = await ctx.deps.suppliers.byCode(o.supplier);
      const p = o.profile ? parseProfile(await readJson(o.profile), supplier.statementColumns) : await loadProfile(ctx.db, supplier.id);
      const preview = await previewStatement(o.file, o.file.split('/').pop()!, p);
      printPreview(preview, p);
      if (preview.totalProblems) process.exitCode = 1;
    }));
  profile.command('set').description('Validate and save a profile from a JSON file (audited, as the logged-in finance user)')
    .requiredOption('--supplier <code>', 'supplier code').requiredOption('--file <json-file>', 'the profile')
    .option('--reason <text>', 'why', 'statement profile saved')
    .action((o: { supplier: string; file: string; reason: string }) => withActor('reconciliation', async (ctx, actor) => {
      const saved = await saveProfile(ctx.db, actor, o.supplier, await readJson(o.file), o.reason);
      console.log(`saved ${o.supplier}'s statement profile:\n${JSON.stringify(saved, null, 2)}`);
    }));

  program.command('recon-confirm').description('Confirm a statement its run stopped as suspicious (most lines unknown to us): reconcile it anyway (audited)')
    .requiredOption('--supplier <code>', 'supplier code').requiredOption('--date <date>', 'business date YYYY-MM-DD')
    .requiredOption('--reason <text>', 'why this file is the day\'s')
    .action((o: { supplier: string; date: string; reason: string }) => withActor('reconciliation', async (ctx, actor) => {
      const { runId, workflowId } = await confirmSuspiciousStatement(await ctx.temporal(), ctx.db, actor, { supplierCode: o.supplier, date: o.date, reason: o.reason });
      console.log(`confirmed run #${runId}: ${workflowId} reconciles the statement now`);
    }));
}

async function readJson(file: string): Promise<unknown> {
  const text = await fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => { throw new ValidationError(`cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`); });
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ValidationError(`${file} is not JSON: ${(err as Error).message}`);
  }
}

export function printPreview(preview: Preview, profile: StatementProfile): void {
  console.log(`表头 header (line ${preview.headerLine}${preview.encoding ? `, ${preview.encoding}` : ''}${preview.delimiter ? `, separator ${JSON.stringify(preview.delimiter)}` : ''}): ${preview.header.join(' | ')}`);
  const fields = STATEMENT_FIELDS.filter((f) => f !== 'completedDate' && f !== 'completedTime' && f !== 'kind');
  const from = new Table({ head: ['字段 field', '来自列 from column'] });
  for (const f of STATEMENT_FIELDS) if (preview.columns[f] || !['completedDate', 'completedTime', 'completedAt'].includes(f)) from.push([FIELD_LABELS[f], sourceOf(preview, f, profile)]);
  console.log(from.toString());
  const lines = new Table({ head: ['行 line', ...fields.map((f) => FIELD_LABELS[f].split(' ')[0]!)] });
  for (const l of preview.lines) {
    lines.push([l.line, l.supplierTxnId, l.merchantOrderNos.join('|'), l.sku, l.quantity, formatYuan(l.amountFen), l.status, isoShanghai(l.completedAt)]);
  }
  console.log(lines.toString());
  console.log(`${preview.totalLines} lines read${preview.totalLines > preview.lines.length ? ` (first ${preview.lines.length} shown)` : ''}`);
  for (const f of preview.findings) console.log(`${f.kind === 'control_total_mismatch' ? '!! 合计不符 control total' : `-- ${f.kind}`}: line ${f.line}: ${f.message}`);
  if (preview.totalProblems) {
    console.log(`问题 problems (${preview.totalProblems}; the file would be refused):`);
    for (const p of preview.problems.slice(0, 50)) console.log(`  ${formatProblem(p)}`);
  }
}

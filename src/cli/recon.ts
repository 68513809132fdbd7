import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { businessDateOf, addDays } from '../dates.ts';
import { rootMessage, ValidationError } from '../errors.ts';
import { displayYuan } from '../money.ts';
import { ReconCases, type CaseFilter } from '../reconciliation/cases.ts';
import { exportDiscrepancies } from '../reconciliation/export.ts';
import { startReconciliation } from '../reconciliation/trigger.ts';
import { CLASSES, CLASS_LABELS, RESOLUTIONS, RESOLUTION_LABELS, CASE_FILTER_STATES, type CaseFilterState, type CaseState, type DiscrepancyClass, type ReconSummary, type Resolution } from '../reconciliation/types.ts';
import { withActor, withCli } from './context.ts';

/**
 * `kameng recon --supplier S --date D [--file F] [--export out.xlsx]`: reconcile one supplier-day
 * through its workflow (fetching the statement from the supplier unless a file is given), with a
 * progress bar of lines read and a summary table per class.
 */
export async function reconCommand(options: { supplier: string; date?: string; file?: string; export?: string }): Promise<void> {
  await withActor('reconciliation', async (ctx, actor) => {
    const supplier = await ctx.deps.suppliers.byCode(options.supplier);
    const date = options.date ?? addDays(businessDateOf(new Date()), -1);
    const total = options.file ? await countLines(options.file) : 0;
    const handle = await startReconciliation(await ctx.temporal(), ctx.config, {
      supplierCode: supplier.code, date, file: options.file, triggeredBy: actor.username,
    });
    console.log(`对账 reconciling ${supplier.code} ${supplier.name} for ${date} (workflow ${handle.workflowId})${options.file ? ' from the file (a reconciliation waiting for the supplier takes it)' : ': fetching the statement from the supplier'}`);
    const bar = new cliProgress.SingleBar({
      format: '读取对账单 lines [{bar}] {value}/{total} | {duration}s', noTTYOutput: true, notTTYSchedule: 5000,
    }, cliProgress.Presets.shades_classic);
    bar.start(total, 0);
    const poll = setInterval(() => {
      void ctx.db('recon_runs').where({ workflow_id: handle.workflowId, supplier_id: supplier.id, business_date: date }).orderBy('id', 'desc').first('lines_read')
        .then((r) => { if (r) { if (r.lines_read > total) bar.setTotal(r.lines_read); bar.update(r.lines_read); } })
        .catch(() => undefined);
    }, 500);
    let summary: ReconSummary;
    try {
      summary = await handle.result();
    } catch (err) {
      throw new ValidationError(`reconciliation failed: ${rootMessage(err)}`);
    } finally {
      clearInterval(poll);
      bar.stop();
    }
    bar.setTotal(summary.lines);
    printSummary(summary);
    if (options.export) {
      const { rows } = await writeExport(new ReconCases(ctx.db, ctx.deps.ledger), { supplierCode: supplier.code, date }, options.export);
      console.log(`exported ${rows} discrepancies to ${options.export}`);
    }
  });
}

/** `kameng cases`: discrepancy cases, filtered and paginated. */
export async function casesCommand(options: { supplier?: string; date?: string; state?: string; class?: string; page: string; export?: string }): Promise<void> {
  // a filter that names nothing is refused before anything is opened, not answered "no cases match"
  if (options.class && !CLASSES.includes(options.class as DiscrepancyClass)) throw new ValidationError(`--class must be one of ${CLASSES.join(', ')}`);
  if (options.state && !CASE_FILTER_STATES.includes(options.state as CaseFilterState)) throw new ValidationError(`--state must be one of ${CASE_FILTER_STATES.join(', ')}`);
  await withCli(async (ctx) => {
    const cases = new ReconCases(ctx.db, ctx.deps.ledger);
    const filter = { supplierCode: options.supplier, date: options.date, state: (options.state ?? 'unresolved') as CaseState | 'unresolved', class: options.class as DiscrepancyClass | undefined };
    if (options.export) {
      const { rows } = await writeExport(cases, filter, options.export);
      console.log(`exported ${rows} cases to ${options.export}`);
      return;
    }
    const page = await cases.list({ ...filter, page: Number(options.page) });
    const table = new Table({ head: ['#', '供应商 supplier', '日期 date', '类型 class', '单号 reference', '我方 ours', '供应商 theirs', '差额 delta', '状态 state'] });
    for (const c of page.cases) {
      table.push([c.id, c.supplierCode, c.businessDate, `${CLASS_LABELS[c.class].zh} ${CLASS_LABELS[c.class].en}`, c.requestIds.join(',') || c.supplierTxnId || '',
        displayYuan(c.ourFen), displayYuan(c.theirFen), displayYuan(c.deltaFen), c.resolution ? `${c.state}: ${c.resolution}` : c.state]);
    }
    console.log(page.cases.length ? table.toString() : 'no cases match');
    console.log(`page ${page.page} of ${Math.max(1, Math.ceil(page.total / page.pageSize))} (${page.total} cases)`);
  });
}

/** `kameng resolve <case>`: settle a discrepancy (audited; the same resolution twice is a no-op). */
export async function resolveCommand(caseId: string, options: { resolution: string; reason: string }): Promise<void> {
  if (!RESOLUTIONS.includes(options.resolution as Resolution)) throw new ValidationError(`--resolution must be one of ${RESOLUTIONS.join(', ')}`);
  await withActor('reconciliation', async (ctx, actor) => {
    const c = await new ReconCases(ctx.db, ctx.deps.ledger).resolve(Number(caseId), { resolution: options.resolution as Resolution, actor, reason: options.reason });
    const label = RESOLUTION_LABELS[options.resolution as Resolution];
    console.log(`case ${c.id} resolved: ${label.zh} ${label.en}${c.ledgerEntryId ? ` (ledger entry ${c.ledgerEntryId})` : ''}`);
  });
}

function printSummary(s: ReconSummary): void {
  const table = new Table({ head: ['类型 class', '行 lines', '我方交易 our txns', '供应商金额 theirs', '我方金额 ours'] });
  for (const cls of CLASSES) {
    const c = s.counts[cls];
    table.push([`${CLASS_LABELS[cls].zh} ${CLASS_LABELS[cls].en}`, c?.lines ?? 0, c?.transactions ?? 0, displayYuan(c?.theirFen ?? 0), displayYuan(c?.ourFen ?? 0)]);
  }
  console.log(table.toString());
  console.log(`${s.lines} lines in ${s.seconds}s${s.statementReused ? ' (this statement had been received before: recognised, not counted twice)' : ''}; ` +
    `cases: ${s.cases.opened} new, ${s.cases.stillOpen} open, ${s.cases.cleared} cleared, ${s.cases.matchedOtherDay} matched on another day`);
}

async function writeExport(cases: ReconCases, filter: CaseFilter, file: string): Promise<{ rows: number }> {
  const out = createWriteStream(file);
  const result = await exportDiscrepancies(cases, filter, out);
  if (!out.writableFinished) await once(out, 'finish');
  return result;
}

/** Lines in a file, for the progress bar's total (a quick byte scan). */
async function countLines(file: string): Promise<number> {
  let n = 0;
  try {
    for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++;
    }
  } catch (err) {
    throw new ValidationError(`cannot read the statement file ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  return Math.max(0, n - 1);
}

import { createWriteStream } from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { addDays, assertBusinessDate, businessDateOf } from '../dates.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { displayYuan, parseYuan } from '../money.ts';
import { exportPayoutBatch, payoutBankAccounts } from '../payouts/export.ts';
import { Payouts, type PayoutBatch } from '../payouts/payouts.ts';
import { exportDaySummary, exportResellerStatement, type ExportFormat } from '../settlement/export.ts';
import { Rebates } from '../settlement/rebates.ts';
import { Statements } from '../settlement/statements.ts';
import { assertDayOver, runSettlement } from '../settlement/trigger.ts';
import { settlementWorkflowId } from '../../workflows/settlement.ts';
import { cliActor, withActor, withCli } from './context.ts';
import { assertMay } from '../users/actor.ts';

const yesterday = () => addDays(businessDateOf(new Date()), -1);

/** `kameng settle --date D`: settle every unsettled day through D by the settlement workflow, then show D's statements. */
export async function settleCommand(options: { date?: string }): Promise<void> {
  // an open day is refused before anything else, logged in or not
  const date = assertDayOver(options.date ?? yesterday());
  await withActor('settlement', async (ctx, actor) => {
    console.log(`结算 settling resellers through ${date} (workflow ${settlementWorkflowId(date)})`);
    const result = await runSettlement(await ctx.temporal(), ctx.config, { date, actor });
    const table = new Table({ head: ['结算日 day', '对账单 statements', '明细 lines', '补记 late', '结算人 by', '状态 state'] });
    for (const d of result.settled) table.push([d.date, d.statements, d.lines, d.lateLines, d.settledBy, d.created ? '新结算 settled now' : '已结算 already settled']);
    console.log(result.settled.length ? table.toString() : `${date} was already settled; nothing changed`);
    for (const r of result.rebates) console.log(`返利 rebates ${r.month}: ${r.awarded} resellers, ${displayYuan(r.totalFen)}`);
    const { rows, total } = await new Statements(ctx.db).forDay(date, { limit: 20, offset: 0 });
    const statements = new Table({ head: ['分销商 reseller', '期初 opening', '充值 top-ups', '订单 orders', '退款 refunds', '调整 adj.', '返利 rebates', '期末 closing'] });
    for (const s of rows) {
      statements.push([s.resellerCode, displayYuan(s.openingFen), displayYuan(s.topupsFen), `${s.ordersCount} / ${displayYuan(s.ordersGrossFen)}`,
        displayYuan(s.refundsFen), displayYuan(s.adjustmentsFen), displayYuan(s.rebatesFen), displayYuan(s.closingFen)]);
    }
    if (total) console.log(`${statements.toString()}\n${total > rows.length ? `first ${rows.length} of ${total}; ` : ''}export them: kameng statement --date ${date}`);
  });
}

/**
 * `kameng statement --reseller R --from D1 --to D2 --format xlsx|csv [--out F]` (csv: a zip, one file per table): one reseller's
 * statement; `kameng statement --date D`: every reseller's statement of a day in one workbook.
 */
export async function statementCommand(options: { reseller?: string; from?: string; to?: string; date?: string; format: string; out?: string }): Promise<void> {
  const format = options.format as ExportFormat;
  if (format !== 'xlsx' && format !== 'csv') throw new ValidationError('--format must be xlsx or csv');
  await withCli(async (ctx) => {
    const statements = new Statements(ctx.db);
    let expected: number;
    let write: (out: NodeJS.WritableStream, onLines: (n: number) => void) => Promise<{ lines: number; closingFen: number }>;
    let file: string;
    if (options.reseller) {
      const to = assertBusinessDate(options.to ?? options.date ?? yesterday(), '--to');
      const from = assertBusinessDate(options.from ?? to, '--from');
      const days = await statements.forReseller(options.reseller, from, to);
      if (days.length === 0) throw new NotFoundError(`settled statement of ${options.reseller} between ${from} and ${to}`, options.reseller);
      expected = days.reduce((n, d) => n + d.lines, 0);
      // a CSV statement is a zip of one CSV per table (their headers differ)
      file = options.out ?? `statement-${options.reseller}-${from}-${to}.${format === 'csv' ? 'csv.zip' : 'xlsx'}`;
      write = (out, onLines) => exportResellerStatement(statements, { resellerCode: options.reseller!, from, to, format }, out as never, onLines);
    } else {
      const date = assertBusinessDate(options.date ?? yesterday(), '--date');
      if (format !== 'xlsx') throw new ValidationError('the day summary workbook is XLSX; give --reseller for a CSV statement');
      await statements.assertSettled(date);
      const day = await ctx.db('settlement_days').where({ business_date: date }).first();
      expected = day.lines;
      file = options.out ?? `settlement-${date}.xlsx`;
      write = (out, onLines) => exportDaySummary(statements, date, out as never, onLines);
    }
    const bar = new cliProgress.SingleBar({ format: '导出 lines [{bar}] {value}/{total} | {duration}s', noTTYOutput: true, notTTYSchedule: 5000 }, cliProgress.Presets.shades_classic);
    bar.start(expected, 0);
    try {
      const result = await write(createWriteStream(file), (n) => bar.increment(n));
      bar.stop();
      console.log(`wrote ${result.lines} lines to ${path.resolve(file)} (closing ${displayYuan(result.closingFen)})`);
    } finally {
      bar.stop();
    }
  });
}

/** `kameng rebates rules|award|show`: monthly volume rebate brackets per tier, and the month's awards. */
export async function rebatesCommand(action: string, options: { tier?: string; brackets?: string; month?: string }): Promise<void> {
  await withCli(async (ctx) => {
    // changing the rules or awarding moves money: a finance user, logged in; reading them does not
    const acting = async () => assertMay(await cliActor(ctx), 'settlement');
    const rebates = new Rebates(ctx.db, ctx.deps.ledger);
    if (action === 'rules') {
      if (options.tier && options.brackets !== undefined) {
        await acting();
        // "0:1%,5000:3%": from 0 yuan 1%, from 5,000 yuan 3% (marginal)
        const brackets = options.brackets.split(',').filter(Boolean).map((b) => {
          const m = /^([\d.,]+):(\d+(?:\.\d{1,2})?)%$/.exec(b.trim());
          if (!m) throw new ValidationError(`--brackets: "${b}" is not <from yuan>:<rate>%, e.g. 5000:1.5%`);
          return { thresholdFen: parseYuan(m[1]!, '--brackets threshold'), rateBp: Math.round(Number(m[2]) * 100) };
        });
        await rebates.setRules(options.tier, brackets);
      }
      const table = new Table({ head: ['等级 tier', '起点 from', '比例 rate'] });
      for (const r of await rebates.rules()) table.push([r.tier, displayYuan(r.thresholdFen), `${(r.rateBp / 100).toFixed(2)}%`]);
      console.log(table.toString());
      return;
    }
    if (!options.month) throw new ValidationError('--month YYYY-MM is required');
    const awards = action === 'award' ? await rebates.awardMonth(options.month, await acting()) : action === 'show' ? await rebates.awards(options.month) : undefined;
    if (!awards) throw new ValidationError(`unknown action "${action}": rules, award or show`);
    const table = new Table({ head: ['分销商 reseller', '等级 tier', '净销售额 net gross', '返利 rebate', '凭证 entry'] });
    for (const a of awards) table.push([a.resellerCode, a.tier, displayYuan(a.netGrossFen), displayYuan(a.rebateFen), a.entryId ?? '']);
    console.log(table.toString());
  });
}

/** `kameng payouts list|show|draft|approve|paid|failed|cancel|export`: supplier payout batches. */
export async function payoutsCommand(action: string, options: { batch?: string; from?: string; to?: string; supplier?: string[]; reference?: string; reason?: string; format?: string; out?: string; page?: string; forBank?: boolean }): Promise<void> {
  await withCli(async (ctx) => {
    const payouts = new Payouts(ctx.db, ctx.deps.ledger);
    // list, show and export read; every other step is a finance user's, logged in
    const acting = async () => assertMay(await cliActor(ctx), 'settlement');
    const batchId = () => {
      const id = Number(options.batch);
      if (!Number.isSafeInteger(id) || id <= 0) throw new ValidationError('--batch <number> is required');
      return id;
    };
    switch (action) {
      case 'list': {
        const page = Math.max(1, Number(options.page ?? 1));
        const { rows, total } = await payouts.list({ limit: 20, offset: (page - 1) * 20 });
        const table = new Table({ head: ['#', '状态 status', '期间 period', '金额 total', '创建 by', '审批 approved', '银行流水 bank ref'] });
        for (const b of rows) table.push([b.id, b.status, `${b.periodFrom}..${b.periodTo}`, displayYuan(b.totalFen), b.createdBy, b.approvedBy ?? '', b.bankReference ?? '']);
        console.log(`${table.toString()}\npage ${page} of ${Math.max(1, Math.ceil(total / 20))}`);
        return;
      }
      case 'draft': {
        const to = assertBusinessDate(options.to ?? yesterday(), '--to');
        const from = assertBusinessDate(options.from ?? `${to.slice(0, 8)}01`, '--from');
        return print(await payouts.draft({ from, to, actor: await acting(), suppliers: options.supplier?.length ? options.supplier : undefined }));
      }
      case 'show': return print(await payouts.get(batchId()));
      case 'approve': return print(await payouts.approve(batchId(), await acting()));
      case 'paid':
        if (!options.reference) throw new ValidationError('--reference <bank reference> is required');
        return print(await payouts.markPaid(batchId(), await acting(), options.reference));
      case 'failed': return print(await payouts.markFailed(batchId(), await acting(), options.reason ?? ''));
      case 'cancel': return print(await payouts.cancel(batchId(), await acting(), options.reason ?? 'cancelled'));
      case 'export': {
        const format = (options.format ?? 'xlsx') as 'xlsx' | 'csv';
        if (format !== 'xlsx' && format !== 'csv') throw new ValidationError('--format must be xlsx or csv');
        const batch = await payouts.get(batchId());
        const file = options.out ?? `payout-${batch.id}.${format}`;
        // bank accounts masked, except in the file for the bank (an approved batch, finance logged in)
        if (options.forBank) await acting();
        await exportPayoutBatch(batch, format, createWriteStream(file), await payoutBankAccounts(ctx.deps.suppliers, batch, { forBank: options.forBank }));
        console.log(`wrote payout batch #${batch.id} (${batch.lines.length} suppliers, ${displayYuan(batch.totalFen)}) to ${path.resolve(file)}`);
        return;
      }
      default: throw new ValidationError(`unknown action "${action}": list, show, draft, approve, paid, failed, cancel or export`);
    }
  });
}

function print(batch: PayoutBatch): void {
  console.log(`付款批次 payout batch #${batch.id}: ${batch.status}, ${batch.periodFrom}..${batch.periodTo}, created by ${batch.createdBy}${batch.approvedBy ? `, approved by ${batch.approvedBy}` : ''}${batch.bankReference ? `, bank reference ${batch.bankReference}` : ''}`);
  const table = new Table({ head: ['供应商 supplier', '应付 payable', '索赔 claims', '付款 amount'] });
  for (const l of batch.lines) table.push([`${l.supplierCode} ${l.supplierName}`, displayYuan(l.payableFen), displayYuan(l.claimsFen), displayYuan(l.amountFen)]);
  table.push(['合计 total', '', '', displayYuan(batch.totalFen)]);
  console.log(table.toString());
}

/** `kameng adjust --reseller R --amount ¥ --reference X --reason ...`: a finance correction to a wallet, audited. */
export async function adjustCommand(options: { reseller: string; amount: string; reference: string; reason: string }): Promise<void> {
  await withActor('settlement', async (ctx, actor) => {
    const reseller = await ctx.db('resellers').where({ code: options.reseller }).first('id', 'name');
    if (!reseller) throw new NotFoundError('reseller', options.reseller);
    const amountFen = parseYuan(options.amount, '--amount');
    const { entryId, created } = await ctx.deps.resellers.adjustWallet({ resellerId: reseller.id, amountFen, reference: options.reference, reason: options.reason, actor });
    console.log(`${created ? 'posted' : 'already posted'}: ${displayYuan(amountFen)} to ${options.reseller} ${reseller.name} (ledger entry ${entryId}); balance ${displayYuan(await ctx.deps.resellers.walletBalance(reseller.id))}`);
  });
}

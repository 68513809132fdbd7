import fs from 'node:fs';
import { finished } from 'node:stream/promises';
import Table from 'cli-table3';
import type { Command } from 'commander';
import { decideComplaint } from '../aftersales/complaints.ts';
import { complaintDetail, complaintQueue, exportClaims, queueFilterOf, supplierClaims } from '../aftersales/queue.ts';
import { formatShanghai } from '../dates.ts';
import { ValidationError } from '../errors.ts';
import { formatYuan, parseYuan } from '../money.ts';
import { withActor, withCli } from './context.ts';

/** `kameng complaints ...`: the after-sales (售后) queue, one complaint's timeline, ops decisions, supplier claims. */
export function registerComplaintCommands(program: Command): void {
  program
    .command('complaints')
    .description('After-sales (售后): list [--status open|replaced|refunded|rejected|all --kind K --supplier S --escalated] | show <id> | decide <id> --decision replace|refund|reject --reason R [--amount yuan] | claims [--supplier S --status open|netted] [--out file.xlsx|.csv]')
    .argument('<action>', 'list, show, decide or claims')
    .argument('[id]', 'complaint number (show, decide)')
    .option('--status <s>', 'list: status (default open)')
    .option('--kind <k>', 'list: invalid_code, used_code, not_received or wrong_amount')
    .option('--supplier <code>', 'list / claims: supplier code')
    .option('--escalated', 'list: only complaints past an SLA deadline')
    .option('--decision <d>', 'decide: replace, refund or reject')
    .option('--reason <text>', 'decide: why (a rejection\'s reason is what the reseller sees)')
    .option('--amount <yuan>', 'decide refund: a partial refund, in yuan (default: the whole charge)')
    .option('--out <file>', 'claims: write an XLSX (or .csv) for the supplier')
    .option('--page <n>', 'list page', '1')
    .action(complaintsCommand);
}

type Options = { status?: string; kind?: string; supplier?: string; escalated?: boolean; decision?: string; reason?: string; amount?: string; out?: string; page: string };

async function complaintsCommand(action: string, id: string | undefined, options: Options): Promise<void> {
  const number = () => {
    if (!id || !/^[1-9]\d{0,14}$/.test(id)) throw new ValidationError(`complaints ${action}: give the complaint number, e.g. \`kameng complaints ${action} 12\``);
    return Number(id);
  };
  switch (action) {
    case 'list':
      return withCli(async ({ db }) => {
        const size = 50;
        const page = Math.max(1, Number(options.page) || 1);
        const { rows, total } = await complaintQueue(db, queueFilterOf({ ...options, escalated: options.escalated ? '1' : undefined }, { limit: size, offset: (page - 1) * size }));
        const table = new Table({ head: ['投诉 #', '分销商 reseller', '订单 order', '类型 kind', '卡号 serial', '供应商答复 supplier', '状态 status', 'SLA', '解决期限 due'] });
        for (const c of rows) {
          table.push([c.id, c.resellerCode, c.resellerOrderId, c.kind, c.serial ?? '', c.supplierVerdict ?? '…', c.status, c.escalation ?? '', formatShanghai(c.resolutionDue)]);
        }
        console.log(rows.length ? table.toString() : 'no complaints');
        if (total > size) console.log(`page ${page} of ${Math.ceil(total / size)} (${total} complaints); --page N for more`);
      });
    case 'show':
      return withCli(async ({ db }) => {
        const d = await complaintDetail(db, number());
        const c = d.complaint;
        console.log(`complaint #${c.id} (${c.complaintKey}) from ${d.resellerCode}: ${c.kind}${c.serial ? ` serial ${c.serial}` : ''} · order ${d.order.resellerOrderId} (${d.order.sku}) · ${c.status}`);
        console.log(`supplier ${d.supplierCode ?? '-'} answered: ${c.supplierVerdict ?? '(not yet)'}; first response due ${formatShanghai(c.firstResponseDue)}, resolution due ${formatShanghai(c.resolutionDue)}${c.escalation ? `; ESCALATED (${c.escalation})` : ''}`);
        if (c.decidedAt) console.log(`decided ${c.status} by ${c.decidedBy} at ${formatShanghai(c.decidedAt)}: ${c.decisionReason}${c.refundFen ? ` · refund ${formatYuan(c.refundFen)}` : ''}${d.replacementSerial ? ` · replacement serial ${d.replacementSerial}` : ''}`);
        if (d.claim) console.log(`claim #${d.claim.id} against the supplier: ${formatYuan(d.claim.amountFen)} (${d.claim.status}) · ${d.claim.reference}`);
        for (const e of d.timeline) console.log(`  ${formatShanghai(e.at)}  ${e.kind.padEnd(18)} ${e.actor.padEnd(16)} ${JSON.stringify(e.detail)}`);
      });
    case 'decide':
      return withActor('fulfillment', async (ctx, actor) => {
        const state = await decideComplaint({ db: ctx.db, temporal: await ctx.temporal() }, number(), { actor, decision: options.decision ?? '', reason: options.reason ?? '', amountFen: options.amount === undefined ? undefined : parseYuan(options.amount) });
        console.log(`complaint ${id}: ${state.status}`);
      });
    case 'claims':
      return withCli(async ({ db }) => {
        const lines = await supplierClaims(db, { supplier: options.supplier, status: options.status });
        if (options.out) {
          const out = fs.createWriteStream(options.out);
          await exportClaims(lines, out, options.out.endsWith('.csv') ? 'csv' : 'xlsx');
          await finished(out);
          console.log(`${lines.length} claim(s) written to ${options.out}`);
          return;
        }
        const table = new Table({ head: ['索赔 #', '供应商 supplier', '来源 source', '卡号/流水 reference', '金额 amount', '状态 status'] });
        for (const l of lines) table.push([l.id, l.supplierCode, l.source, l.reference, formatYuan(l.amountFen), l.status]);
        console.log(lines.length ? table.toString() : 'no claims');
      });
    default:
      throw new ValidationError(`unknown \`kameng complaints ${action}\`: list, show, decide or claims`);
  }
}

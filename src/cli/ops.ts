import Table from 'cli-table3';
import { formatYuan } from '../money.ts';
import { orders } from '../orders/orders.ts';
import type { OpsAction, TopUpState } from '../fulfillment/types.ts';
import { withCli } from './context.ts';

/** `kameng stuck`: open top-ups, stuck ones first. */
export async function stuckCommand(options: { all?: boolean; page: string }): Promise<void> {
  await withCli(async ({ db }) => {
    const size = 50;
    const page = Math.max(1, Number(options.page));
    const { rows, total } = await orders.open(db, { status: options.all ? undefined : 'stuck', limit: size, offset: (page - 1) * size });
    const table = new Table({ head: ['订单 order', '状态 status', 'SKU', '账号 account', '金额 amount', '下单时间 placed at'] });
    for (const o of rows) table.push([o.id, o.status, o.sku, o.account ?? '', formatYuan(o.amountFen), o.createdAt.toISOString()]);
    console.log(rows.length ? table.toString() : 'no stuck top-ups');
    if (total > size) console.log(`page ${page} of ${Math.ceil(total / size)} (${total} orders); --page N for more`);
  });
}

/** `kameng ops ACTION --order N --actor WHO --reason WHY`: an audited action on a stuck top-up, through its workflow. */
export async function opsCommand(action: string, options: { order: string; actor: string; reason: string; supplier?: string; reference?: string }): Promise<void> {
  const request = ((): OpsAction => {
    const base = { actor: options.actor, reason: options.reason };
    switch (action) {
      case 'retry': return { action: 'retry', ...base };
      case 'refund': return { action: 'refund', ...base };
      case 'switch':
        if (!options.supplier) throw new Error('switch needs --supplier CODE');
        return { action: 'switchSupplier', supplierCode: options.supplier, ...base };
      case 'succeed':
        if (!options.reference) throw new Error('succeed needs --reference SUPPLIER_REFERENCE');
        return { action: 'markSucceeded', supplierReference: options.reference, ...base };
      default: throw new Error(`unknown action ${action}: retry, switch, succeed or refund`);
    }
  })();
  await withCli(async (ctx) => {
    const client = await ctx.temporal();
    try {
      const state = await client.workflow.getHandle(`topup-${options.order}`).executeUpdate<TopUpState, [OpsAction]>('opsAction', { args: [request] });
      console.log(`order ${options.order}: ${state.status} after ${state.attempts.length} supplier attempt(s)`);
    } catch (err) {
      const reason = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
      console.error(`order ${options.order}: refused: ${reason}`);
      process.exitCode = 2;
    }
  });
}

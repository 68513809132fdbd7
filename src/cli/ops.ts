import Table from 'cli-table3';
import { formatShanghai } from '../dates.ts';
import { displayYuan } from '../money.ts';
import { orders } from '../orders/orders.ts';
import { applyOpsAction, OpsActionUnavailableError, opsActionFrom } from '../fulfillment/ops.ts';
import { callbackDeliveries, resendResellerCallback } from '../fulfillment/reseller-callback.ts';
import { withActor, withCli } from './context.ts';

/** `kameng stuck`: open top-ups, stuck ones first. */
export async function stuckCommand(options: { all?: boolean; page: string }): Promise<void> {
  await withCli(async ({ db }) => {
    const size = 50;
    const page = Math.max(1, Number(options.page));
    const { rows, total } = await orders.open(db, { status: options.all ? undefined : 'stuck', limit: size, offset: (page - 1) * size });
    const table = new Table({ head: ['订单 order', '状态 status', 'SKU', '账号 account', '金额 amount', '下单时间 placed at'] });
    for (const o of rows) table.push([o.id, o.status, o.sku, o.account ?? '', displayYuan(o.amountFen), formatShanghai(o.createdAt)]);
    console.log(rows.length ? table.toString() : 'no stuck top-ups');
    if (total > size) console.log(`page ${page} of ${Math.ceil(total / size)} (${total} orders); --page N for more`);
  });
}

/** `kameng ops ACTION --order N --reason WHY`: an audited action on a stuck top-up, through its workflow, as the logged-in ops user. */
export async function opsCommand(action: string, options: { order: string; reason: string; supplier?: string; reference?: string; force?: boolean }): Promise<void> {
  await withActor('fulfillment', async (ctx, actor) => {
    const request = opsActionFrom(action, { ...options, actor });
    const client = await ctx.temporal().catch((err: Error) => { throw new OpsActionUnavailableError(options.order, err.message); });
    const state = await applyOpsAction(client, options.order, request, { db: ctx.db });
    console.log(`order ${options.order}: ${state.status} after ${state.attempts.length} supplier attempt(s)`);
  });
}

/** `kameng callbacks resend --order N --reason WHY`: tells the reseller a final order's outcome again (audited, as the logged-in ops user). */
export async function resendCallbackCommand(options: { order: string; reason: string }): Promise<void> {
  await withActor('fulfillment', async (ctx, actor) => {
    const result = await resendResellerCallback(ctx.deps, { orderId: Number(options.order), actor, reason: options.reason });
    console.log(result.delivered ? `order ${options.order}: the reseller took the callback` : `order ${options.order}: not delivered: ${result.error ?? 'no callback URL'}`);
    for (const d of await callbackDeliveries(ctx.db, Number(options.order))) console.log(`  #${d.attempt} ${d.delivered ? 'delivered' : 'failed'} ${d.status_code ?? ''} ${d.error ?? ''}`);
  });
}

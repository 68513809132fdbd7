import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { stockLevels } from '../inventory/stock.ts';
import { formatYuan, parseYuan } from '../money.ts';
import { procurementWorkflowId } from '../../workflows/procurement.ts';
import { quarantinedCodes } from '../procurement/quarantine.ts';
import { importStockFile } from '../procurement/receipt.ts';
import { withActor, withCli } from './context.ts';

/** `kameng import-codes`: a card code file into stock, all or nothing, booked (src/procurement/receipt.ts), with a progress bar. */
export async function importCodesCommand(options: { sku: string; file: string; unitCost: string; supplier?: string; batchKey?: string; counterAccount?: string; reason?: string }): Promise<void> {
  // stock moves money (inventory against a payable or an account): a logged-in user imports it
  await withActor('settlement', async ({ db, deps, config }, actor) => {
    const bar = new cliProgress.SingleBar({ format: '导入 importing [{bar}] {value} rows | {duration}s', noTTYOutput: true, notTTYSchedule: 5000 }, cliProgress.Presets.shades_classic);
    bar.start(0, 0);
    const result = await importStockFile({ ...deps, db }, {
      sku: options.sku, file: options.file, unitCostFen: parseYuan(options.unitCost, '--unit-cost'), batchKey: options.batchKey,
      supplier: options.supplier, counterAccount: options.counterAccount, reason: options.reason, actor, sealing: config.cardImport,
      onProgress: (n) => { bar.setTotal(n); bar.update(n); },
    }).finally(() => bar.stop());
    console.log(result.created
      ? `imported ${result.imported} codes into ${options.sku} (batch ${result.batchId}, cost ¥${formatYuan(result.totalCostFen)}, booked ${options.supplier ? `on ${options.supplier}'s credit` : `against ${options.counterAccount}`})`
      : `batch already imported (batch ${result.batchId}, ${result.imported} codes): nothing added`);
  });
}

/** `kameng quarantine`: card codes suppliers delivered that were not stocked, with the reason and the claim. */
export async function quarantineCommand(options: { page: string }): Promise<void> {
  await withCli(async ({ db }) => {
    const size = 50;
    const page = Math.max(1, Number(options.page) || 1);
    const { rows, total } = await quarantinedCodes(db, { limit: size, offset: (page - 1) * size });
    const table = new Table({ head: ['时间 at (Asia/Shanghai)', 'SKU', '供应商 supplier', '批次 batch', '行 line', '卡号 serial', '原因 reason', '成本 cost', '索赔 claim'] });
    for (const q of rows) table.push([shanghaiTime(q.quarantinedAt), q.sku, q.supplierCode ?? '', q.batchId, q.line, q.serial, q.detail, formatYuan(q.unitCostFen), q.claimStatus ?? '']);
    console.log(total === 0 ? 'no quarantined codes' : `${table.toString()}\npage ${page} of ${Math.ceil(total / size)} (${total} codes)`);
  });
}

const shanghaiTime = (d: Date) => `${new Date(d.getTime() + 8 * 3_600_000).toISOString().replace('T', ' ').slice(0, 19)} +08:00`;

/** `kameng stock`: available codes per card SKU against the threshold. */
export async function stockCommand(): Promise<void> {
  await withCli(async ({ db }) => {
    const table = new Table({ head: ['SKU', '名称 name', '可用 available', '已售 delivered', '阈值 threshold', ''] });
    for (const l of await stockLevels(db)) table.push([l.sku, `${l.nameZh} ${l.nameEn}`, l.available, l.delivered, l.threshold, l.low ? '库存不足 LOW' : '']);
    console.log(table.toString());
  });
}

/** `kameng qualifications`: supplier licences and brand authorisations expiring soon. */
export async function qualificationsCommand(options: { within: string }): Promise<void> {
  await withCli(async ({ deps }) => {
    const rows = await deps.suppliers.expiringQualifications({ withinDays: Number(options.within) });
    const table = new Table({ head: ['供应商 supplier', '资质 qualification', '品牌 brand', '证件号 document', '到期 expires', '剩余天数 days left'] });
    for (const q of rows) {
      table.push([`${q.supplierCode} ${q.supplierName}`, q.kind === 'business_licence' ? '营业执照 licence' : '品牌授权 authorisation', q.brand ?? '', q.documentNo, q.expiresOn, q.daysLeft < 0 ? `已过期 expired (${q.daysLeft})` : q.daysLeft]);
    }
    console.log(rows.length ? table.toString() : `no qualification expires within ${options.within} days`);
  });
}

/** `kameng procure`: buy a batch now, and wait for it. */
export async function procureCommand(options: { sku: string; quantity?: string }): Promise<void> {
  await withCli(async (ctx) => {
    const client = await ctx.temporal();
    const workflowId = procurementWorkflowId(options.sku);
    console.log(`starting ${workflowId} ...`);
    const result = await client.workflow.execute('procureStock', {
      taskQueue: ctx.config.temporal.taskQueues.procurement, workflowId,
      args: [{ sku: options.sku, quantity: options.quantity ? Number(options.quantity) : undefined, reason: 'on_demand' }],
    });
    console.log(`bought ${result.imported} × ${result.sku}${result.quarantined ? ` (${result.quarantined} more quarantined and claimed back)` : ''} from ${result.supplierCode} for ¥${formatYuan(result.totalCostFen)} (batch ${result.batchId})`);
  });
}

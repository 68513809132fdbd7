import path from 'node:path';
import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { importCardCodes, readCodeFile } from '../inventory/import.ts';
import { stockLevels } from '../inventory/stock.ts';
import { formatYuan, parseYuan } from '../money.ts';
import { withCli } from './context.ts';

/** `kameng import-codes`: a card code file into stock, all or nothing, with a progress bar. */
export async function importCodesCommand(options: { sku: string; file: string; unitCost: string; supplier?: string; batchKey?: string }): Promise<void> {
  await withCli(async ({ db, deps }) => {
    const supplier = options.supplier ? await deps.suppliers.byCode(options.supplier) : undefined;
    const bar = new cliProgress.SingleBar({ format: '导入 importing [{bar}] {value} rows | {duration}s', noTTYOutput: true, notTTYSchedule: 5000 }, cliProgress.Presets.shades_classic);
    bar.start(0, 0);
    const result = await importCardCodes(db, deps.vault, {
      batchKey: options.batchKey ?? `file:${path.basename(options.file)}`, sku: options.sku, unitCostFen: parseYuan(options.unitCost, '--unit-cost'),
      source: supplier ? 'supplier_delivery' : 'file', supplierId: supplier?.id, fileName: path.basename(options.file),
      rows: readCodeFile(options.file), onProgress: (n) => { bar.setTotal(n); bar.update(n); },
    }).finally(() => bar.stop());
    console.log(result.created
      ? `imported ${result.imported} codes into ${options.sku} (batch ${result.batchId}, cost ¥${formatYuan(result.totalCostFen)})`
      : `batch already imported (batch ${result.batchId}, ${result.imported} codes): nothing added`);
  });
}

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
    const workflowId = `procure-${options.sku}`;
    console.log(`starting ${workflowId} ...`);
    const result = await client.workflow.execute('procureStock', {
      taskQueue: ctx.config.temporal.taskQueues.procurement, workflowId,
      args: [{ sku: options.sku, quantity: options.quantity ? Number(options.quantity) : undefined, reason: 'on_demand' }],
    });
    console.log(`bought ${result.imported} × ${result.sku} from ${result.supplierCode} for ¥${formatYuan(result.totalCostFen)} (batch ${result.batchId})`);
  });
}

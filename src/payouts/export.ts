import type { Writable } from 'node:stream';
import { CsvSection, streamingWorkbook, XlsxSection, type ExportColumn } from '../files/export-sheet.ts';
import type { PayoutBatch, PayoutLine } from './payouts.ts';

const STATUS_LABELS: Record<PayoutBatch['status'], string> = {
  draft: '草稿 Draft', approved: '已审批 Approved', paid: '已付款 Paid', failed: '付款失败 Failed', cancelled: '已取消 Cancelled',
};

const columns = (batch: PayoutBatch): ExportColumn<PayoutLine>[] => [
  { header: '供应商 Supplier', width: 14, value: (l) => l.supplierCode },
  { header: '名称 Name', width: 22, value: (l) => l.supplierName },
  { header: '应付(元) Payable (¥)', width: 16, fen: (l) => l.payableFen },
  { header: '扣除索赔(元) Claims netted (¥)', width: 20, fen: (l) => l.claimsFen },
  { header: '付款金额(元) Amount (¥)', width: 18, fen: (l) => l.amountFen },
  { header: '批次 Batch', width: 8, value: () => batch.id },
  { header: '期间 Period', width: 24, value: () => `${batch.periodFrom} ~ ${batch.periodTo}` },
  { header: '状态 Status', width: 16, value: () => STATUS_LABELS[batch.status] },
  { header: '银行流水 Bank reference', width: 22, value: () => batch.bankReference },
];

/** A payout batch as finance sends it to the bank or files it: one row per supplier and a totals row. */
export async function exportPayoutBatch(batch: PayoutBatch, format: 'xlsx' | 'csv', out: Writable): Promise<void> {
  if (format === 'xlsx') {
    const workbook = streamingWorkbook(out);
    const sheet = new XlsxSection(workbook, `付款批次 Payout #${batch.id}`, columns(batch));
    for (const line of batch.lines) sheet.add(line);
    sheet.finish();
    await workbook.commit();
    return;
  }
  await CsvSection.begin(out);
  const csv = new CsvSection(out, columns(batch));
  await csv.header();
  for (const line of batch.lines) await csv.add(line);
  await csv.finish();
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

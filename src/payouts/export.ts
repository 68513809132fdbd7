import type { Writable } from 'node:stream';
import { ValidationError } from '../errors.ts';
import { CsvSection, streamingWorkbook, XlsxSection, type ExportColumn } from '../files/export-sheet.ts';
import type { BankAccount, SupplierRegistry } from '../suppliers/registry.ts';
import { maskedBankAccount } from '../suppliers/admin.ts';
import type { PayoutBatch, PayoutLine } from './payouts.ts';

/**
 * The suppliers' bank accounts for a payout export: masked (last four digits), except in the file
 * finance sends to the bank (`forBank`), which only an approved batch has.
 */
export async function payoutBankAccounts(registry: SupplierRegistry, batch: PayoutBatch, options: { forBank?: boolean } = {}): Promise<Map<number, BankAccount>> {
  const full = options.forBank === true;
  if (full && batch.status !== 'approved') throw new ValidationError(`payout batch #${batch.id} is ${batch.status}: only an approved batch goes to the bank with full account numbers`);
  const accounts = new Map<number, BankAccount>();
  for (const line of batch.lines) {
    const account = registry.bankAccount(await registry.byId(line.supplierId));
    if (account) accounts.set(line.supplierId, full ? account : maskedBankAccount(account));
  }
  return accounts;
}

const STATUS_LABELS: Record<PayoutBatch['status'], string> = {
  draft: '草稿 Draft', approved: '已审批 Approved', paid: '已付款 Paid', failed: '付款失败 Failed', cancelled: '已取消 Cancelled',
};

const columns = (batch: PayoutBatch, accounts?: Map<number, BankAccount>): ExportColumn<PayoutLine>[] => [
  { header: '供应商 Supplier', width: 14, value: (l) => l.supplierCode },
  { header: '名称 Name', width: 22, value: (l) => l.supplierName },
  { header: '应付(元) Payable (¥)', width: 16, fen: (l) => l.payableFen },
  { header: '扣除索赔(元) Claims netted (¥)', width: 20, fen: (l) => l.claimsFen },
  { header: '付款金额(元) Amount (¥)', width: 18, fen: (l) => l.amountFen },
  { header: '批次 Batch', width: 8, value: () => batch.id },
  { header: '期间 Period', width: 24, value: () => `${batch.periodFrom} ~ ${batch.periodTo}` },
  { header: '状态 Status', width: 16, value: () => STATUS_LABELS[batch.status] },
  { header: '银行流水 Bank reference', width: 22, value: () => batch.bankReference },
  ...(accounts ? [
    { header: '开户行 Bank', width: 20, value: (l: PayoutLine) => accounts.get(l.supplierId)?.bankName ?? '未登记 not entered' },
    { header: '户名 Account name', width: 22, value: (l: PayoutLine) => accounts.get(l.supplierId)?.accountName ?? '' },
    { header: '账号 Account number', width: 24, value: (l: PayoutLine) => accounts.get(l.supplierId)?.accountNumber ?? '' },
  ] satisfies ExportColumn<PayoutLine>[] : []),
];

/**
 * A payout batch as finance sends it to the bank or files it: one row per supplier and a totals row,
 * with each supplier's bank account when `accounts` is given (see payoutBankAccounts).
 */
export async function exportPayoutBatch(batch: PayoutBatch, format: 'xlsx' | 'csv', out: Writable, accounts?: Map<number, BankAccount>): Promise<void> {
  if (format === 'xlsx') {
    const workbook = streamingWorkbook(out);
    const sheet = new XlsxSection(workbook, `付款批次 Payout #${batch.id}`, columns(batch, accounts));
    for (const line of batch.lines) sheet.add(line);
    sheet.finish();
    await workbook.commit();
    return;
  }
  await CsvSection.begin(out);
  const csv = new CsvSection(out, columns(batch, accounts));
  await csv.header();
  for (const line of batch.lines) await csv.add(line);
  await csv.finish();
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

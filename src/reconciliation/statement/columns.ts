/**
 * The columns a supplier statement must have, and the headers suppliers use for them. A supplier
 * with unusual headers gets its own mapping (supplier config `statementColumns`), merged over these.
 */
export type StatementField = 'supplierTxnId' | 'merchantOrderNo' | 'sku' | 'quantity' | 'amount' | 'status' | 'completedAt';

export type ColumnMapping = Record<StatementField, string[]>;

export const DEFAULT_COLUMNS: ColumnMapping = {
  supplierTxnId: ['supplier_txn_id', 'txn_id', 'transaction_id', '订单号', '流水号', '供应商订单号'],
  merchantOrderNo: ['merchant_order_no', 'request_id', 'our_reference', '商户订单号', '客户订单号'],
  sku: ['sku', 'product_code', '商品编码', '产品编码'],
  quantity: ['quantity', 'qty', '数量'],
  amount: ['amount', 'amount_yuan', '金额', '金额(元)', '金额（元）', '结算金额'],
  status: ['status', '状态', '订单状态'],
  completedAt: ['completed_at', 'completed_time', 'finish_time', '完成时间', '交易时间'],
};

export const FIELD_LABELS: Record<StatementField, string> = {
  supplierTxnId: '订单号 supplier txn id',
  merchantOrderNo: '商户订单号 merchant order no',
  sku: '商品编码 sku',
  quantity: '数量 quantity',
  amount: '金额(元) amount',
  status: '状态 status',
  completedAt: '完成时间 completed at',
};

const normalise = (h: string) => h.replace(/^\uFEFF/, '').trim().toLowerCase().replace(/\s+/g, '_');

/** Finds each field's column index from a header row; reports the fields it cannot find. */
export function resolveColumns(header: string[], mapping: Partial<ColumnMapping> = {}): { index: Record<StatementField, number>; missing: StatementField[] } {
  const names = header.map(normalise);
  const index = {} as Record<StatementField, number>;
  const missing: StatementField[] = [];
  for (const field of Object.keys(DEFAULT_COLUMNS) as StatementField[]) {
    const aliases = [...(mapping[field] ?? []), ...DEFAULT_COLUMNS[field]].map(normalise);
    const at = names.findIndex((n) => aliases.includes(n));
    if (at === -1) missing.push(field);
    else index[field] = at;
  }
  return { index, missing };
}

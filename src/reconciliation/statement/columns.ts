/**
 * The columns a supplier statement has, and the headers suppliers use for them. A supplier with
 * unusual headers gets its own aliases (its statement profile, src/reconciliation/statement/profile.ts),
 * tried before these. Aliases are in order of preference: a statement with both 结算金额 and 面值 is
 * settled at 结算金额.
 */
export type StatementField = 'supplierTxnId' | 'merchantOrderNo' | 'sku' | 'quantity' | 'amount' | 'status' | 'completedAt' | 'completedDate' | 'completedTime' | 'kind';

export type ColumnMapping = Record<StatementField, string[]>;

export const STATEMENT_FIELDS: StatementField[] = ['supplierTxnId', 'merchantOrderNo', 'sku', 'quantity', 'amount', 'status', 'completedAt', 'completedDate', 'completedTime', 'kind'];

export const DEFAULT_COLUMNS: ColumnMapping = {
  supplierTxnId: ['supplier_txn_id', 'txn_id', 'transaction_id', 'trade_no', 'serial_no', '订单号', '流水号', '供应商订单号', '交易号', '交易流水号', '平台订单号',
    '系统订单号', '充值流水号', '上游订单号', '渠道订单号', '交易单号', '订单编号', '平台流水号', 'order_id', 'order_no', 'order_number', 'transaction_no', 'txn_no',
    'trade_id', 'serial_number', 'platform_order_no', 'system_order_no', 'supplier_order_no'],
  merchantOrderNo: ['merchant_order_no', 'request_id', 'our_reference', 'out_trade_no', 'client_order_no', '商户订单号', '客户订单号', '外部订单号', '商户单号',
    '下游订单号', '商户流水号', '用户订单号', '合作方订单号', '外部流水号', '第三方订单号', '代理商订单号', '商家订单号', '商户订单编号', '外部单号', '客户单号',
    '商家单号', '下游单号', 'merchant_order_id', 'merchant_order_number', 'out_order_no', 'external_order_no', 'customer_order_no', 'client_order_id', 'partner_order_no'],
  sku: ['sku', 'product_code', 'goods_id', 'product_id', '商品编码', '产品编码', '商品代码', '产品代码', '商品编号', '产品编号', '商品id', '产品id'],
  quantity: ['quantity', 'qty', 'count', '数量', '购买数量', '充值数量', '件数'],
  amount: ['amount', 'amount_yuan', 'amount_fen', 'settle_amount', 'cost', '结算金额', '成本', '成本价', '扣款金额', '实付金额', '交易金额', '金额', '采购金额',
    '订单金额', '支付金额', '充值金额', '进价', '成交金额', '实扣金额', '结算价', '采购价', 'settlement_amount', 'paid_amount', 'amount_paid', 'actual_amount',
    'deduct_amount', 'cost_price', 'order_amount', 'total_amount', '面值', 'price'],
  status: ['status', 'state', 'result', '状态', '交易状态', '订单状态', '充值状态', '处理状态', '结果', '充值结果', '支付状态', '交易结果', '订单结果', 'trade_status',
    'order_status', 'txn_status', 'transaction_status', 'recharge_status', 'pay_status'],
  completedAt: ['completed_at', 'completed_time', 'finish_time', 'trade_time', '完成时间', '成功时间', '交易时间', '充值时间', '处理时间', '交易完成时间', '订单完成时间',
    '支付时间', '成交时间', '结算时间', '付款时间', '到账时间', 'complete_time', 'completion_time', 'finished_at', 'success_time', 'transaction_time', 'txn_time',
    'paid_at', 'pay_time', '时间', '下单时间', '创建时间', '订单时间', 'order_time', 'create_time', 'created_time', 'time', 'created_at', 'datetime', 'date_time'],
  completedDate: ['date', 'trade_date', '日期', '交易日期', '完成日期', '充值日期'],
  completedTime: ['time', 'trade_time', '时间', '交易时间', '完成时间', '充值时间'],
  /** What a line is (消费, 退款, 冲正): a refund or reversal by this column is no sale, whatever its status says. */
  kind: ['交易类型', '业务类型', '订单类型', '类型', '收支类型', 'type', 'txn_type', 'trade_type', 'transaction_type', 'order_type', 'biz_type'],
};

export const FIELD_LABELS: Record<StatementField, string> = {
  supplierTxnId: '订单号 supplier txn id',
  merchantOrderNo: '商户订单号 merchant order no',
  sku: '商品编码 sku',
  quantity: '数量 quantity',
  amount: '金额(元) amount',
  status: '状态 status',
  completedAt: '完成时间 completed at',
  completedDate: '日期 date',
  completedTime: '时间 time',
  kind: '交易类型 kind',
};

/** A header cell as compared: no BOM, no spaces, lower case, half-width brackets, no unit suffix such as (元). */
export const normaliseHeader = (h: string) => h.replace(/^\uFEFF/, '').normalize('NFKC').trim().toLowerCase()
    .replace(/[:：.#]+$/, '').replace(/\s*[(（[【](元|分|rmb|cny|¥|￥|yuan|fen|人民币)[)）\]】]$/, '')
  // "商户\n订单号", "结算 金额": a line break or a space between Chinese characters is layout, not a word break
  .replace(/(?<=[\u3400-\u9fff])\s+|\s+(?=[\u3400-\u9fff])/g, '').replace(/[\s.\-/]+/g, '_');

/** The unit a header says its amounts are in ("金额(分)"), if it says. */
export const headerUnit = (h: string): 'fen' | 'yuan' | undefined => {
  const m = /[(（[【](元|分|rmb|cny|¥|￥|yuan|fen|人民币)[)）\]】]\s*$/i.exec(h.normalize('NFKC').trim()) ?? (/_fen$/i.test(h.trim()) ? ['', 'fen'] : undefined);
  if (!m) return undefined;
  return m[1] === '分' || m[1]!.toLowerCase() === 'fen' ? 'fen' : 'yuan';
};

/** Column index per field; -1 where the statement has none. */
export type ColumnIndex = Record<StatementField, number>;

/**
 * Finds each field's column from a header row (the profile's aliases first, then the defaults, each
 * in order of preference; a column serves one field). Reports the fields a statement cannot do
 * without: our reference (or the supplier's id, which then stands for it), the amount and the time
 * (one column, or a date and a time column).
 */
export function resolveColumns(header: string[], mapping: Partial<ColumnMapping> = {}): { index: ColumnIndex; missing: StatementField[] } {
  const names = header.map(normaliseHeader);
  const index = {} as ColumnIndex;
  const used = new Set<number>();
  const find = (field: StatementField) => {
    for (const alias of [...(mapping[field] ?? []), ...DEFAULT_COLUMNS[field]].map(normaliseHeader)) {
      const at = names.findIndex((n, i) => n === alias && !used.has(i));
      if (at !== -1) {
        used.add(at);
        return at;
      }
    }
    return -1;
  };
  // the profile's own aliases claim their columns before any default does
  for (const field of STATEMENT_FIELDS) index[field] = -1;
  for (const field of STATEMENT_FIELDS) {
    for (const alias of (mapping[field] ?? []).map(normaliseHeader)) {
      const at = names.findIndex((n, i) => n === alias && !used.has(i));
      if (at !== -1) {
        used.add(at);
        index[field] = at;
        break;
      }
    }
  }
  for (const field of ['merchantOrderNo', 'supplierTxnId', 'sku', 'quantity', 'amount', 'status', 'kind'] as const) if (index[field] === -1) index[field] = find(field);
  // a date column and a time column, or one column with both
  if (index.completedDate === -1 && index.completedAt === -1) index.completedDate = find('completedDate');
  if (index.completedDate !== -1 && index.completedTime === -1 && index.completedAt === -1) index.completedTime = find('completedTime');
  if (index.completedAt === -1 && (index.completedDate === -1 || index.completedTime === -1)) {
    const lone = index.completedDate;
    if (index.completedTime !== -1) { used.delete(index.completedTime); index.completedTime = -1; }
    if (index.completedDate !== -1) { used.delete(index.completedDate); index.completedDate = -1; }
    index.completedAt = find('completedAt');
    // a 日期 column and no other: it may hold the whole time ("2026-11-23 09:05:01"); a date alone is refused line by line
    if (index.completedAt === -1 && lone !== -1) {
      index.completedAt = lone;
      used.add(lone);
    }
  }
  const missing: StatementField[] = [];
  if (index.merchantOrderNo === -1 && index.supplierTxnId === -1) missing.push('merchantOrderNo');
  if (index.amount === -1) missing.push('amount');
  if (index.completedAt === -1 && index.completedDate === -1) missing.push('completedAt');
  // a column that looks like a status but is none we know would read every line as successful: its name must be given
  if (index.status === -1 && names.some((n, i) => !used.has(i) && /状态|status|state/.test(n))) missing.push('status');
  return { index, missing };
}

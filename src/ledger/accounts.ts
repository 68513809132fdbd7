/** Kinds of ledger account (rows of ledger_account_kinds). */
export type AccountKind =
  | 'platform_cash'
  | 'reseller_wallet'
  | 'supplier_payable'
  | 'inventory'
  | 'revenue'
  | 'cost_of_goods'
  | 'refunds'
  | 'adjustments'
  | 'write_offs'
  | 'order_holds'
  | 'rebates'
  | 'payouts_in_transit';

export type PlatformAccountKind = Exclude<AccountKind, 'reseller_wallet' | 'supplier_payable'>;

export const DEFAULT_CURRENCY = 'CNY';

const suffix = (currency: string) => (currency === DEFAULT_CURRENCY ? '' : `:${currency}`);

/** Account codes: stable, readable names that postings refer to. */
export const accountCode = {
  platform: (kind: PlatformAccountKind, currency = DEFAULT_CURRENCY) => `platform:${kind}${suffix(currency)}`,
  resellerWallet: (resellerId: number | string, currency = DEFAULT_CURRENCY) => `reseller:${resellerId}:wallet${suffix(currency)}`,
  supplierPayable: (supplierId: number | string, currency = DEFAULT_CURRENCY) => `supplier:${supplierId}:payable${suffix(currency)}`,
};

export const PLATFORM_ACCOUNTS: { kind: PlatformAccountKind; name: string }[] = [
  { kind: 'platform_cash', name: '平台资金 Platform cash' },
  { kind: 'inventory', name: '库存 Inventory' },
  { kind: 'revenue', name: '销售收入 Revenue' },
  { kind: 'cost_of_goods', name: '销售成本 Cost of goods sold' },
  { kind: 'refunds', name: '退款 Refunds' },
  { kind: 'adjustments', name: '调账 Adjustments' },
  { kind: 'write_offs', name: '核销损失 Write-offs' },
  { kind: 'order_holds', name: '待履约订单 Orders in progress' },
  { kind: 'rebates', name: '返利支出 Volume rebates' },
  { kind: 'payouts_in_transit', name: '在途付款 Payouts in transit' },
];

/** Where a wallet posting goes on a reseller's statement, by the kind of ledger entry it belongs to. */
export type Section = 'topup' | 'order' | 'refund' | 'adjustment' | 'rebate' | 'other';

export const SECTION_BY_ENTRY_KIND: Record<string, Section> = {
  wallet_topup: 'topup',
  // a mistaken recharge reversed (src/wallet/recharges.ts): still 充值, negative
  wallet_recharge_reversal: 'topup',
  order_sale: 'order',
  order_hold: 'order',
  order_refund: 'refund',
  complaint_refund: 'refund',
  wallet_adjustment: 'adjustment',
  rebate: 'rebate',
};

export const SECTION_LABELS: Record<Section, { zh: string; en: string }> = {
  topup: { zh: '充值', en: 'Top-ups' },
  order: { zh: '订单', en: 'Orders' },
  refund: { zh: '退款', en: 'Refunds' },
  adjustment: { zh: '调整', en: 'Adjustments' },
  rebate: { zh: '返利', en: 'Rebates' },
  other: { zh: '其他', en: 'Other' },
};

/** The mapping as a SQL CASE over an entry-kind column (kinds are our own constants, not input). */
export function sectionSql(kindColumn: string): string {
  const arms = Object.entries(SECTION_BY_ENTRY_KIND).map(([kind, section]) => `WHEN '${kind}' THEN '${section}'`).join(' ');
  return `(CASE ${kindColumn} ${arms} ELSE 'other' END)`;
}

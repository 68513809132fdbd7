import type { BusinessDate } from '../dates.ts';
import { accountCode } from '../ledger/accounts.ts';
import { credit, debit, type EntryInput } from '../ledger/ledger.ts';

/**
 * The direct top-up's money, one entry per event (README "Top-up money"). The ledger moves it; this is
 * the only place that says which accounts, which sign and which amount.
 *
 * | event    | debit                         | credit                              | wallet  | supplier payable |
 * |----------|-------------------------------|-------------------------------------|---------|------------------|
 * | hold     | reseller wallet, price        | order_holds, price                  | − price | —                |
 * | sale     | order_holds, price            | revenue, price                      | —       | + cost           |
 * |          | cost_of_goods, cost           | supplier payable, cost              |         |                  |
 * | refund   | order_holds, price            | reseller wallet, price              | + price | —                |
 *
 * Each order has one hold and exactly one of sale or refund (idempotency keys per order), so
 * order_holds returns to zero for every final order.
 */
export interface TopUpOrder {
  id: number;
  resellerId: number;
  sku: string;
  account: string | null;
  amountFen: number;
}

export const topUpBooks = {
  /** The order is placed: its price leaves the wallet and is held until the outcome is known. */
  hold(order: TopUpOrder, businessDate: BusinessDate): EntryInput {
    return {
      idempotencyKey: `order-hold:${order.id}`, kind: 'order_hold', businessDate,
      description: `直充预扣 top-up hold ${order.sku} → ${order.account}`,
      metadata: { orderId: order.id, resellerId: order.resellerId, sku: order.sku },
      postings: [debit(accountCode.resellerWallet(order.resellerId), order.amountFen), credit(accountCode.platform('order_holds'), order.amountFen)],
    };
  },

  /** The supplier delivered: the held price becomes revenue, and we owe the supplier its cost. */
  sale(order: TopUpOrder, sold: { supplierId: number; costFen: number; requestId: string | null; markedBy: string | null }): EntryInput {
    return {
      idempotencyKey: `order-complete:${order.id}`, kind: 'order_sale',
      description: `直充成功 top-up succeeded ${order.sku} → ${order.account}${sold.markedBy ? ` (marked by ${sold.markedBy})` : ''}`,
      metadata: { orderId: order.id, resellerId: order.resellerId, supplierId: sold.supplierId, requestId: sold.requestId },
      postings: [
        debit(accountCode.platform('order_holds'), order.amountFen), credit(accountCode.platform('revenue'), order.amountFen),
        debit(accountCode.platform('cost_of_goods'), sold.costFen), credit(accountCode.supplierPayable(sold.supplierId), sold.costFen),
      ],
    };
  },

  /** No supplier delivered (or ops decided so): the held price goes back to the wallet. */
  refund(order: TopUpOrder, reason: string): EntryInput {
    return {
      idempotencyKey: `order-refund:${order.id}`, kind: 'order_refund',
      description: `直充退款 top-up refunded: ${reason}`,
      metadata: { orderId: order.id, resellerId: order.resellerId, reason },
      postings: [debit(accountCode.platform('order_holds'), order.amountFen), credit(accountCode.resellerWallet(order.resellerId), order.amountFen)],
    };
  },
};

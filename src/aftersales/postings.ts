import { accountCode } from '../ledger/accounts.ts';
import { credit, debit, type EntryInput } from '../ledger/ledger.ts';
import type { ComplaintDecision, SupplierVerdict } from './types.ts';

/**
 * After-sales money, one entry per outcome (README "After-sales (售后)"). The ledger moves it; this is
 * the only place that says which accounts, which sign and which amount.
 *
 * | outcome  | subject  | entry (key)               | debit                     | credit                    | wallet   | supplier payable | next payout        |
 * |----------|----------|---------------------------|---------------------------|---------------------------|----------|------------------|--------------------|
 * | replace  | card     | complaint-replace:<id>    | cost_of_goods, new cost   | inventory, new cost       | —        | —                | − claim (bad cost) |
 * | refund   | card     | complaint-refund:<id>     | refunds, ≤ unit price     | reseller wallet           | + refund | —                | − claim (bad cost) |
 * | refund   | top-up   | complaint-refund:<id>     | refunds, ≤ order amount   | reseller wallet           | + refund | —                | − claim (its cost) |
 * | reject   | any      | none                      |                           |                           | —        | —                | —                  |
 * | (claim netted at payout approval: payout:<batch>:<supplier>:approved, Dr payable, Cr adjustments, the claim) |  | − claim | − claim |
 *
 * A claim is raised only when the supplier itself confirmed the fault (its code check answered used
 * or invalid, its delivery query not delivered) and ops did not reject: `claimFor` below. One key
 * per complaint makes a complaint's money outcome happen at most once.
 */
export interface ComplaintMoney {
  complaintId: number;
  resellerId: number;
  orderId: number;
  sku: string;
}

export interface AftersalesEffect {
  /** The entry posted now, if any: which accounts. */
  entry: { debit: 'cost_of_goods' | 'refunds'; credit: 'inventory' | 'reseller_wallet' } | null;
  /** How the reseller's wallet moves, in units of the refund. */
  wallet: 1 | 0;
  /** Whether a claim against the supplier is raised (when the supplier confirmed the fault). */
  claim: boolean;
}

/** The table above as data: tests check each cell against the books. */
export const AFTERSALES_EFFECTS: Record<ComplaintDecision['decision'], AftersalesEffect> = {
  replace: { entry: { debit: 'cost_of_goods', credit: 'inventory' }, wallet: 0, claim: true },
  refund: { entry: { debit: 'refunds', credit: 'reseller_wallet' }, wallet: 1, claim: true },
  reject: { entry: null, wallet: 0, claim: false },
};

/** The supplier's answer says it is at fault: a code it sold us was used or invalid, or it billed a top-up it did not deliver. */
export const supplierAtFault = (verdict: SupplierVerdict | null | undefined): boolean =>
  verdict === 'used' || verdict === 'invalid' || verdict === 'not_delivered';

export const claimFor = (decision: ComplaintDecision['decision'], verdict: SupplierVerdict | null | undefined): boolean =>
  AFTERSALES_EFFECTS[decision].claim && supplierAtFault(verdict);

export const complaintBooks = {
  /** Another code from stock goes to the order: its cost leaves inventory for cost of goods. */
  replace(c: ComplaintMoney, replacement: { codeId: number; serial: string; costFen: number }): EntryInput {
    return {
      idempotencyKey: `complaint-replace:${c.complaintId}`, kind: 'complaint_replace',
      description: `售后换卡 complaint #${c.complaintId}: replacement code ${replacement.serial} for order ${c.orderId}`,
      metadata: { complaintId: c.complaintId, orderId: c.orderId, resellerId: c.resellerId, sku: c.sku, codeId: replacement.codeId },
      postings: [debit(accountCode.platform('cost_of_goods'), replacement.costFen), credit(accountCode.platform('inventory'), replacement.costFen)],
    };
  },

  /** The sale is reversed to the wallet, once per complaint. */
  refund(c: ComplaintMoney, amountFen: number, reason: string): EntryInput {
    return {
      idempotencyKey: `complaint-refund:${c.complaintId}`, kind: 'complaint_refund',
      description: `售后退款 complaint #${c.complaintId} refund for order ${c.orderId}: ${reason}`,
      metadata: { complaintId: c.complaintId, orderId: c.orderId, resellerId: c.resellerId, sku: c.sku, reason },
      postings: [debit(accountCode.platform('refunds'), amountFen), credit(accountCode.resellerWallet(c.resellerId), amountFen)],
    };
  },
};

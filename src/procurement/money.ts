import { ValidationError } from '../errors.ts';
import { accountCode } from '../ledger/accounts.ts';
import { credit, debit, type EntryInput, type Posting } from '../ledger/ledger.ts';
import type { Fen } from '../money.ts';

/**
 * The money table of stock coming in (README: "Stock receipts: the money table"). One function per
 * row; the booking (booking.ts) posts what these return, in the transaction that stocks the codes.
 *
 * | event                                   | debit                                       | credit                     | payable        | next payout        |
 * | supplier delivery, n codes, k rejected  | inventory (n-k)c, adjustments k·c (claimed) | supplier payable n·c       | +n·c           | +n·c, claim -k·c   |
 * | import with a supplier, n codes          | inventory n·c                               | supplier payable n·c       | +n·c           | +n·c               |
 * | import against an account, n codes       | inventory n·c                               | platform cash/adjustments  | none           | none               |
 * | card sale (src/orders, for reference)    | cost of goods Σc                            | inventory Σc               | none           | none               |
 * | a zero cost (c = 0), a repeated batch    | no entry                                    |                            | none           | none               |
 *
 * Inventory is debited only with what is on the shelf, so its balance is the cost of the codes in
 * stock (invariant stock_valuation). A rejected code is owed all the same (the supplier delivered
 * and bills it) and claimed back: its cost waits in adjustments until the payout that nets the claim
 * credits adjustments with it (src/payouts: approve).
 */

/** Accounts stock brought in without a supplier may be booked against: bought for cash, or found/opening stock. */
export const IMPORT_COUNTER_ACCOUNTS = ['platform_cash', 'adjustments'] as const;
export type ImportCounterAccount = (typeof IMPORT_COUNTER_ACCOUNTS)[number];

export interface StockedFigures {
  sku: string;
  currency: string;
  batchId: number;
  /** Codes put on the shelf. */
  stocked: number;
  /** Codes of the delivery quarantined (never on the shelf). */
  quarantined: number;
  unitCostFen: Fen;
}

/** A delivery on the supplier's credit (a procurement, or a file with --supplier): we owe all of it. */
export function supplierReceiptEntry(key: string, supplierId: number, f: StockedFigures): EntryInput | undefined {
  const owed = (f.stocked + f.quarantined) * f.unitCostFen;
  if (owed === 0) return undefined;
  const postings: Posting[] = [];
  if (f.stocked > 0) postings.push(debit(accountCode.platform('inventory', f.currency), f.stocked * f.unitCostFen));
  if (f.quarantined > 0) postings.push(debit(accountCode.platform('adjustments', f.currency), f.quarantined * f.unitCostFen));
  postings.push(credit(accountCode.supplierPayable(supplierId, f.currency), owed));
  return {
    idempotencyKey: key,
    kind: 'procurement',
    description: `采购入库 stock received: ${f.sku}, batch ${f.batchId}` + (f.quarantined > 0 ? `, ${f.quarantined} code(s) quarantined and claimed` : ''),
    metadata: { supplierId, sku: f.sku, batchId: f.batchId, stocked: f.stocked, quarantined: f.quarantined, unitCostFen: f.unitCostFen },
    postings,
  };
}

/** Stock that no supplier bills through us: booked against cash or adjustments, with the reason and who says so. */
export function stockImportEntry(key: string, counter: ImportCounterAccount, f: StockedFigures, why: { reason: string; actor: string }): EntryInput | undefined {
  if (f.quarantined > 0) throw new ValidationError('an import booked against an account is all or nothing: it has no supplier to claim quarantined codes from');
  const cost = f.stocked * f.unitCostFen;
  if (cost === 0) return undefined;
  return {
    idempotencyKey: key,
    kind: 'stock_import',
    description: `卡密入库 stock imported: ${f.sku}, batch ${f.batchId}, against ${counter}: ${why.reason}`,
    metadata: { sku: f.sku, batchId: f.batchId, stocked: f.stocked, unitCostFen: f.unitCostFen, counter, reason: why.reason, actor: why.actor },
    postings: [debit(accountCode.platform('inventory', f.currency), cost), credit(accountCode.platform(counter, f.currency), cost)],
  };
}

/** The claim a delivery's quarantined codes raise against its supplier: what we owe beyond what we agree we owe. */
export const quarantineClaimFen = (f: StockedFigures): Fen => f.quarantined * f.unitCostFen;

import type { DiscrepancyClass, Resolution } from './types.ts';

/**
 * What each resolution of a discrepancy does to the money, by what the supplier bills against our
 * books (delta = theirs - ours; our books already hold "ours" in the supplier's payable):
 *
 * | supplier bills        | resolution      | ledger entry now                           | claim       | next payout |
 * | more (delta > 0)      | accept_supplier | Dr adjustments, Cr supplier payable, delta | none        | + delta     |
 * | more (delta > 0)      | write_off       | Dr write-offs, Cr supplier payable, delta  | none        | + delta     |
 * | more (delta > 0)      | accept_ours     | none: we owe what our books say             | none        | unchanged   |
 * | less (delta < 0)      | accept_supplier | none now; at payout approval Dr payable,   | abs(delta)  | - abs(delta)|
 * |                       |                 | Cr adjustments, abs(delta)                 |             |             |
 * | less (delta < 0)      | write_off       | refused: nothing of ours to write off      |             |             |
 * | less (delta < 0)      | accept_ours     | none                                       | none        | unchanged   |
 * | either                | carry_forward   | none; the case moves to the next day       | none        | unchanged   |
 *
 * A claim exists only for money we paid or owe beyond what we agree we owe: accepting our own
 * figure agrees with our books, so it never makes a claim (a line the supplier billed twice, never
 * booked by us, is simply not paid).
 */
export type Direction = 'bills_more' | 'bills_less';

export interface ResolutionEffect {
  /** The ledger entry posted at resolution: debit `against`, credit the payable (amount: delta). */
  entry: { against: 'adjustments' | 'write_offs' } | null;
  /** A claim of abs(delta) netted off the next payout (Dr payable, Cr adjustments at approval). */
  claim: boolean;
  /** How the supplier's next payout moves, in units of abs(delta). */
  payout: 1 | 0 | -1;
  /** Why this resolution does not apply, when it does not. */
  refused?: string;
}

export const RESOLUTION_EFFECTS: Record<Direction, Record<Resolution, ResolutionEffect>> = {
  bills_more: {
    accept_supplier: { entry: { against: 'adjustments' }, claim: false, payout: 1 },
    write_off: { entry: { against: 'write_offs' }, claim: false, payout: 1 },
    accept_ours: { entry: null, claim: false, payout: 0 },
    carry_forward: { entry: null, claim: false, payout: 0 },
  },
  bills_less: {
    accept_supplier: { entry: null, claim: true, payout: -1 },
    write_off: { entry: null, claim: false, payout: 0, refused: 'the supplier bills less than our books: there is no loss to write off; accept the supplier\'s figure (a claim on the difference) or ours' },
    accept_ours: { entry: null, claim: false, payout: 0 },
    carry_forward: { entry: null, claim: false, payout: 0 },
  },
};

/** Which way each class can go: the table above applies to every class by its delta's sign. */
export const CLASS_DIRECTIONS: Record<Exclude<DiscrepancyClass, 'matched'>, Direction[]> = {
  amount_mismatch: ['bills_more', 'bills_less'],
  status_mismatch: ['bills_more', 'bills_less'],
  missing_at_supplier: ['bills_less'],
  missing_in_ours: ['bills_more'],
  duplicate_at_supplier: ['bills_more'],
  // the supplier gives money back, or has not charged yet: it bills less than our books
  refund_at_supplier: ['bills_less'],
  processing_at_supplier: ['bills_less'],
};

export const directionOf = (deltaFen: number): Direction => (deltaFen > 0 ? 'bills_more' : 'bills_less');

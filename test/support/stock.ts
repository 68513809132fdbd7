import { SYSTEM } from '../../src/users/actor.ts';
import { randomUUID } from 'node:crypto';
import type { StockBooking } from '../../src/inventory/import.ts';
import type { Ledger } from '../../src/ledger/ledger.ts';
import { againstAccount } from '../../src/procurement/booking.ts';

/** Stock a test puts on the shelf: booked like any import without a supplier (against adjustments). */
export const testStock = (ledger: Ledger): StockBooking =>
  againstAccount(ledger, { key: `card-import:test-${randomUUID()}`, counter: 'adjustments', reason: 'test stock', actor: SYSTEM });

import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import type { Actor, Schedule } from '../users/actor.ts';
import { ValidationError } from '../errors.ts';
import type { StockBooking, StockedBatch } from '../inventory/import.ts';
import type { Ledger } from '../ledger/ledger.ts';
import { IMPORT_COUNTER_ACCOUNTS, quarantineClaimFen, stockImportEntry, supplierReceiptEntry, type ImportCounterAccount, type StockedFigures } from './money.ts';

/**
 * How a batch of card codes is booked, in the transaction that stocks it (src/inventory/import.ts).
 * The entries are the money table's (money.ts); these add the claim and the audit row.
 */

const figures = (b: StockedBatch): StockedFigures => ({
  sku: b.sku, currency: b.currency, batchId: b.batchId, stocked: b.stocked, quarantined: b.quarantined, unitCostFen: b.unitCostFen,
});

/**
 * On the supplier's credit: we owe the whole delivery; quarantined codes become a claim against
 * the supplier (supplier_claims, source card_quarantine), netted off its next payout.
 */
export function onSupplierCredit(ledger: Ledger, input: { key: string; supplierId: number }): StockBooking {
  return async (trx, batch) => {
    const entry = supplierReceiptEntry(input.key, input.supplierId, figures(batch));
    if (entry) await ledger.post(entry, trx);
    await raiseQuarantineClaim(trx, input.supplierId, batch);
  };
}

/** A person brings stock in against cash or adjustments: who, and why, go into the entry and the audit log. */
export function againstAccount(ledger: Ledger, input: { key: string; counter: ImportCounterAccount; reason: string; actor: Actor | Schedule }): StockBooking {
  assertCounterBooking(input);
  return async (trx, batch) => {
    const entry = stockImportEntry(input.key, input.counter, figures(batch), { reason: input.reason.trim(), actor: input.actor.username });
    if (entry) await ledger.post(entry, trx);
    await recordAudit(trx, {
      actor: input.actor, action: 'stock.import', subjectType: 'card_batch', subjectId: batch.batchId, reason: input.reason.trim(),
      details: { sku: batch.sku, stocked: batch.stocked, unitCostFen: batch.unitCostFen, counter: input.counter },
    });
  };
}

export function assertCounterBooking(input: { counter?: string; reason?: string; actor?: Actor | Schedule }): asserts input is { counter: ImportCounterAccount; reason: string; actor: Actor | Schedule } {
  const missing = [
    !IMPORT_COUNTER_ACCOUNTS.includes(input.counter as ImportCounterAccount) && `a counter-account (${IMPORT_COUNTER_ACCOUNTS.join(' or ')}${input.counter ? `, not "${input.counter}"` : ''})`,
    (input.reason?.trim().length ?? 0) < 3 && 'a reason (at least 3 characters)',
    !input.actor && 'who is importing (a logged-in user: `kameng login`)',
  ].filter(Boolean);
  if (missing.length) throw new ValidationError(`stock without a supplier must be booked against an account: it needs ${missing.join(', ')}`);
}

/** supplier_claims for a delivery's quarantined codes: one per delivery (card_batch_id is unique). */
async function raiseQuarantineClaim(trx: Knex.Transaction, supplierId: number, batch: StockedBatch): Promise<void> {
  const amount = quarantineClaimFen(figures(batch));
  if (amount <= 0) return;
  await trx('supplier_claims').insert({ source: 'card_quarantine', card_batch_id: batch.batchId, supplier_id: supplierId, amount_fen: amount }).onConflict('card_batch_id').ignore();
}

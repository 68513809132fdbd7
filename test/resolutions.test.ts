import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../src/users/actor.ts';
import { userActor } from './support/actors.ts';
import { accountCode } from '../src/ledger/accounts.ts';
import { credit, debit } from '../src/ledger/ledger.ts';
import { Payouts } from '../src/payouts/payouts.ts';
import { ReconCases } from '../src/reconciliation/cases.ts';
import { CLASS_DIRECTIONS, RESOLUTION_EFFECTS, type Direction } from '../src/reconciliation/resolutions.ts';
import { RESOLUTIONS, type DiscrepancyClass, type Resolution } from '../src/reconciliation/types.ts';
import { openHarness, uniq, type Harness } from './support/harness.ts';

let h: Harness;
let amy: Actor;
let cases: ReconCases;
let payouts: Payouts;
const PURCHASES = 1_416_500; // ¥14,165 of real purchases we owe the supplier
const THROUGH = '2099-12-31';

beforeAll(async () => {
  h = await openHarness({ worker: false });
  await h.ledger.openPlatformAccounts();
  cases = new ReconCases(h.db, h.ledger);
  payouts = new Payouts(h.db, h.ledger);
  amy = await userActor(h.db, 'finance');
});
afterAll(() => h.close());

/** A supplier we owe ¥14,165 for real purchases, and one discrepancy case of a class. */
async function supplierWithCase(cls: DiscrepancyClass, ourFen: number, theirFen: number) {
  const supplier = await h.deps.suppliers.upsert({ code: uniq('res').toLowerCase(), name: '供应商', apiBaseUrl: 'http://127.0.0.1:1', apiKey: 'k' });
  await h.ledger.post({
    idempotencyKey: uniq('purchases'), kind: 'procurement', businessDate: '2026-11-20',
    postings: [debit(accountCode.platform('cost_of_goods'), PURCHASES), credit(accountCode.supplierPayable(supplier.id), PURCHASES)],
  });
  const [c] = await h.db('recon_cases').insert({
    supplier_id: supplier.id, business_date: '2026-11-24', subject_key: uniq('k'), class: cls, our_fen: ourFen, their_fen: theirFen,
    delta_fen: theirFen - ourFen, first_run_id: 0, last_run_id: 0,
  }).returning('id');
  return { supplier, caseId: Number(c.id) };
}

/** What the supplier's next payout would be: drafted, read, and dropped again. */
async function nextPayout(code: string): Promise<number> {
  const batch = await payouts.draft({ from: '2026-01-01', to: THROUGH, actor: amy, suppliers: [code] });
  await payouts.cancel(batch.id, amy, 'only looking');
  return batch.totalFen;
}

/** Figures (ours, theirs) of a class going one way: the supplier bills ¥47.50 more or less than our books. */
const FIGURES: Record<Direction, Partial<Record<DiscrepancyClass, [number, number]>>> = {
  bills_more: { amount_mismatch: [4_850, 9_600], status_mismatch: [0, 4_750], missing_in_ours: [0, 4_750], duplicate_at_supplier: [0, 4_750] },
  bills_less: {
    amount_mismatch: [9_600, 4_850], status_mismatch: [4_750, 0], missing_at_supplier: [4_750, 0],
    // a refund line (a negative amount) of a sale we keep, and a line still processing at the supplier
    refund_at_supplier: [0, -4_750], processing_at_supplier: [4_750, 0],
  },
};

describe('every class × resolution moves the money as the resolution table says', () => {
  for (const [cls, directions] of Object.entries(CLASS_DIRECTIONS) as [Exclude<DiscrepancyClass, 'matched'>, Direction[]][]) {
    for (const direction of directions) {
      for (const resolution of RESOLUTIONS as readonly Resolution[]) {
        const effect = RESOLUTION_EFFECTS[direction][resolution];
        it(`${cls}, supplier ${direction.replace('_', ' ')}, ${resolution}`, async () => {
          const [ours, theirs] = FIGURES[direction][cls]!;
          const delta = theirs - ours;
          const { supplier, caseId } = await supplierWithCase(cls, ours, theirs);
          const before = await nextPayout(supplier.code);
          expect(before).toBe(PURCHASES);
          const act = cases.resolve(caseId, { resolution, actor: amy, reason: 'checked with the supplier' });
          if (effect.refused) {
            await expect(act).rejects.toThrow(/no loss to write off/);
            expect((await cases.get(caseId)).state).toBe('open');
            return;
          }
          const resolved = await act;
          const entry = await h.db('ledger_postings as p').join('ledger_accounts as a', 'a.id', 'p.account_id')
            .join('ledger_entries as e', 'e.id', 'p.entry_id').where('e.idempotency_key', `recon-case:${caseId}`).select('a.code', 'p.amount');
          if (effect.entry) {
            expect(Object.fromEntries(entry.map((p) => [p.code, Number(p.amount)]))).toEqual({
              [accountCode.platform(effect.entry.against)]: delta, [accountCode.supplierPayable(supplier.id)]: -delta,
            });
            expect(resolved.ledgerEntryId).not.toBeNull();
          } else {
            expect(entry).toEqual([]);
          }
          const claims = await h.db('supplier_claims').where({ case_id: caseId }).pluck('amount_fen');
          expect(claims.map(Number)).toEqual(effect.claim ? [Math.abs(delta)] : []);
          expect(await nextPayout(supplier.code)).toBe(PURCHASES + effect.payout * Math.abs(delta));
        });
      }
    }
  }
});

describe('accepting our figure on a line the supplier billed twice', () => {
  it('pays the real purchases in full: no claim for money we never booked', async () => {
    const { supplier, caseId } = await supplierWithCase('duplicate_at_supplier', 0, 475_000);
    await cases.resolve(caseId, { resolution: 'accept_ours', actor: amy, reason: 'billed twice: we pay it once' });
    expect(await h.db('supplier_claims').where({ case_id: caseId })).toEqual([]);
    expect(await nextPayout(supplier.code)).toBe(1_416_500);
  });
});

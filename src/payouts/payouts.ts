import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import { assertBusinessDate, type BusinessDate } from '../dates.ts';
import type { Db } from '../db/knex.ts';
import { KamengError, NotFoundError, ValidationError } from '../errors.ts';
import { accountCode } from '../ledger/accounts.ts';
import { credit, debit, type Ledger } from '../ledger/ledger.ts';
import { assertMay, type Actor } from '../users/actor.ts';

export type PayoutStatus = 'draft' | 'approved' | 'paid' | 'failed' | 'cancelled';

export interface PayoutLine {
  supplierId: number;
  supplierCode: string;
  supplierName: string;
  payableFen: number;
  claimsFen: number;
  amountFen: number;
}

export interface PayoutBatch {
  id: number;
  status: PayoutStatus;
  periodFrom: BusinessDate;
  periodTo: BusinessDate;
  totalFen: number;
  createdBy: string;
  createdByUserId: number | null;
  createdAt: Date;
  approvedBy: string | null;
  approvedByUserId: number | null;
  approvedAt: Date | null;
  bankReference: string | null;
  paidAt: Date | null;
  failedReason: string | null;
  lines: PayoutLine[];
}

export class PayoutStateError extends KamengError {
  constructor(batch: number, status: PayoutStatus, action: string) {
    super('PAYOUT_STATE', `payout batch #${batch} is ${status}: it cannot be ${action}`, { details: { batch, status, action } });
  }
}

/** Four eyes: the finance user who drafted a batch may not approve it (the same user id, whatever the name looks like). */
export class SelfApprovalError extends KamengError {
  constructor(batch: number, actor: Actor) {
    super('SELF_APPROVAL', `payout batch #${batch} was created by ${actor.username}; another finance user must approve it`, { details: { batch, actor: actor.username, userId: actor.userId } });
  }
}

export class PayableChangedError extends KamengError {
  constructor(batch: number, supplierCode: string, drafted: number, now: number) {
    super('PAYABLE_CHANGED', `payout batch #${batch}: ${supplierCode}'s payable is ${now} fen now, less than the ${drafted} fen drafted; cancel the batch and draft again`, { details: { batch, supplierCode, drafted, now } });
  }
}

interface DraftRow { supplier_id: number; payable_fen: number; claims_fen: number }

/** Ledger entry kinds of the payout cycle: they count against the payable whatever their date. */
const PAYOUT_KINDS = ['payout_approved', 'payout_failed'];

/**
 * Supplier payouts: a batch of what we owe each supplier through a period, net of claims we won
 * in reconciliation, moved through the ledger at each step:
 *   approve: payable -> payouts in transit (claims: payable -> adjustments, recovered by paying less)
 *   paid:    payouts in transit -> platform cash
 *   failed:  payouts in transit -> back to payable
 */
export class Payouts {
  constructor(private readonly db: Db, private readonly ledger: Ledger) {}

  /** Drafts a batch for every supplier with something to pay through `to`; none in another open batch. */
  async draft(input: { from: BusinessDate; to: BusinessDate; actor: Actor; /** Only these supplier codes (default: all). */ suppliers?: string[] }): Promise<PayoutBatch> {
    assertBusinessDate(input.from, 'from');
    assertBusinessDate(input.to, 'to');
    if (input.to < input.from) throw new ValidationError(`period ${input.from}..${input.to} ends before it starts`);
    assertMay(input.actor, 'settlement');
    const id = await this.db.transaction(async (trx) => {
      await trx.raw("SELECT pg_advisory_xact_lock(hashtext('kameng:payouts'))");
      const { rows: lines } = await trx.raw(
        `WITH accrued_after AS (
           SELECT p.account_id, sum(p.amount) AS amount
             FROM ledger_entries e JOIN ledger_postings p ON p.entry_id = e.id
            WHERE e.business_date > ?::date AND e.kind <> ALL (?::text[])
            GROUP BY p.account_id
         ), claims AS (
           SELECT supplier_id, sum(abs(amount_fen)) AS fen FROM supplier_claims
            WHERE status = 'open' AND payout_line_id IS NULL GROUP BY supplier_id
         )
         SELECT s.id AS supplier_id,
                (-(coalesce((SELECT sum(amount) FROM ledger_postings WHERE account_id = a.id), 0) - coalesce(aa.amount, 0)))::bigint AS payable_fen,
                coalesce(c.fen, 0)::bigint AS claims_fen
           FROM suppliers s
           JOIN ledger_accounts a ON a.code = 'supplier:' || s.id || ':payable'
           LEFT JOIN accrued_after aa ON aa.account_id = a.id
           LEFT JOIN claims c ON c.supplier_id = s.id
          WHERE NOT EXISTS (SELECT 1 FROM payout_lines l WHERE l.supplier_id = s.id AND l.open)
            AND (?::text[] IS NULL OR s.code = ANY (?::text[]))
          ORDER BY s.code`,
        [input.to, PAYOUT_KINDS, input.suppliers ?? null, input.suppliers ?? null],
      );
      const payable = (lines as DraftRow[]).filter((l) => l.payable_fen - l.claims_fen > 0);
      if (payable.length === 0) throw new ValidationError(`nothing to pay through ${input.to}: no supplier has a payable above its open claims outside another open batch`);
      const total = payable.reduce((n, l) => n + l.payable_fen - l.claims_fen, 0);
      const [batch] = await trx('payout_batches').insert({
        status: 'draft', period_from: input.from, period_to: input.to, total_fen: total, created_by: input.actor.username, created_by_user_id: input.actor.userId,
      }).returning('id');
      for (const l of payable) {
        const [line] = await trx('payout_lines').insert({
          batch_id: batch.id, supplier_id: l.supplier_id, payable_fen: l.payable_fen, claims_fen: l.claims_fen, amount_fen: l.payable_fen - l.claims_fen,
        }).returning('id');
        await trx('supplier_claims').where({ supplier_id: l.supplier_id, status: 'open' }).whereNull('payout_line_id').update({ payout_line_id: line.id });
      }
      await recordAudit(trx, { actor: input.actor, action: 'payout.draft', subjectType: 'payout_batch', subjectId: batch.id, reason: `period ${input.from}..${input.to}`, details: { totalFen: total, suppliers: payable.length } });
      return batch.id as number;
    });
    return this.get(id);
  }

  /** A second finance user approves; the payable moves to payouts in transit. Idempotent for the same approver. */
  async approve(id: number, actor: Actor): Promise<PayoutBatch> {
    assertMay(actor, 'settlement');
    await this.db.transaction(async (trx) => {
      const batch = await this.lock(trx, id);
      if (batch.status === 'approved' && batch.approvedByUserId === actor.userId) return;
      if (batch.status !== 'draft') throw new PayoutStateError(id, batch.status, 'approved');
      // on ids; a batch drafted before users were actors is compared by its creator's name, as a user would type it
      if (batch.createdByUserId === actor.userId || (batch.createdByUserId === null && batch.createdBy.trim().toLowerCase() === actor.username)) {
        throw new SelfApprovalError(id, actor);
      }
      for (const line of batch.lines) {
        const owed = await this.ledger.balance(accountCode.supplierPayable(line.supplierId), {}, trx);
        if (owed < line.payableFen) throw new PayableChangedError(id, line.supplierCode, line.payableFen, owed);
        await this.ledger.post({
          idempotencyKey: `payout:${id}:${line.supplierId}:approved`, kind: 'payout_approved',
          description: `供应商付款 payout #${id} to ${line.supplierCode} (${batch.periodFrom}..${batch.periodTo}) approved`,
          metadata: { batchId: id, supplierId: line.supplierId, claimsFen: line.claimsFen, actor: actor.username, actorUserId: actor.userId },
          postings: [
            debit(accountCode.supplierPayable(line.supplierId), line.payableFen),
            credit(accountCode.platform('payouts_in_transit'), line.amountFen),
            ...(line.claimsFen > 0 ? [credit(accountCode.platform('adjustments'), line.claimsFen)] : []),
          ],
        }, trx);
      }
      await trx.raw(
        `UPDATE supplier_claims c SET status = 'netted' FROM payout_lines l WHERE c.payout_line_id = l.id AND l.batch_id = ? AND c.status = 'open'`, [id],
      );
      await trx('payout_batches').where({ id }).update({ status: 'approved', approved_by: actor.username, approved_by_user_id: actor.userId, approved_at: trx.fn.now() });
      await recordAudit(trx, { actor, action: 'payout.approve', subjectType: 'payout_batch', subjectId: id, reason: 'approved', details: { totalFen: batch.totalFen } });
    });
    return this.get(id);
  }

  /** The bank paid it: in-transit money leaves platform cash. Idempotent for the same bank reference. */
  async markPaid(id: number, actor: Actor, bankReference: string): Promise<PayoutBatch> {
    assertMay(actor, 'settlement');
    if (!bankReference?.trim()) throw new ValidationError('a paid payout needs the bank reference');
    await this.db.transaction(async (trx) => {
      const batch = await this.lock(trx, id);
      if (batch.status === 'paid' && batch.bankReference === bankReference) return;
      if (batch.status !== 'approved') throw new PayoutStateError(id, batch.status, 'marked paid');
      await this.ledger.post({
        idempotencyKey: `payout:${id}:paid`, kind: 'payout_paid',
        description: `供应商付款 payout #${id} paid, bank reference ${bankReference}`,
        metadata: { batchId: id, bankReference, actor: actor.username, actorUserId: actor.userId },
        postings: [debit(accountCode.platform('payouts_in_transit'), batch.totalFen), credit(accountCode.platform('platform_cash'), batch.totalFen)],
      }, trx);
      await trx('payout_batches').where({ id }).update({ status: 'paid', bank_reference: bankReference, paid_at: trx.fn.now() });
      await trx('payout_lines').where({ batch_id: id }).update({ open: false });
      await recordAudit(trx, { actor, action: 'payout.paid', subjectType: 'payout_batch', subjectId: id, reason: bankReference, details: { totalFen: batch.totalFen } });
    });
    return this.get(id);
  }

  /** The transfer bounced: the money goes back to what we owe each supplier. */
  async markFailed(id: number, actor: Actor, reason: string): Promise<PayoutBatch> {
    assertMay(actor, 'settlement');
    if (!reason || reason.trim().length < 3) throw new ValidationError('a failed payout needs a reason (at least 3 characters)');
    await this.db.transaction(async (trx) => {
      const batch = await this.lock(trx, id);
      if (batch.status === 'failed') return;
      if (batch.status !== 'approved') throw new PayoutStateError(id, batch.status, 'marked failed');
      for (const line of batch.lines) {
        await this.ledger.post({
          idempotencyKey: `payout:${id}:${line.supplierId}:failed`, kind: 'payout_failed',
          description: `供应商付款 payout #${id} to ${line.supplierCode} failed: ${reason}`,
          metadata: { batchId: id, supplierId: line.supplierId, actor: actor.username, actorUserId: actor.userId },
          postings: [debit(accountCode.platform('payouts_in_transit'), line.amountFen), credit(accountCode.supplierPayable(line.supplierId), line.amountFen)],
        }, trx);
      }
      await trx('payout_batches').where({ id }).update({ status: 'failed', failed_reason: reason, failed_at: trx.fn.now() });
      await trx('payout_lines').where({ batch_id: id }).update({ open: false });
      await recordAudit(trx, { actor, action: 'payout.failed', subjectType: 'payout_batch', subjectId: id, reason });
    });
    return this.get(id);
  }

  /** A draft can be dropped; its suppliers and claims are free for the next batch. */
  async cancel(id: number, actor: Actor, reason: string): Promise<PayoutBatch> {
    assertMay(actor, 'settlement');
    await this.db.transaction(async (trx) => {
      const batch = await this.lock(trx, id);
      if (batch.status === 'cancelled') return;
      if (batch.status !== 'draft') throw new PayoutStateError(id, batch.status, 'cancelled');
      await trx.raw(`UPDATE supplier_claims c SET payout_line_id = NULL FROM payout_lines l WHERE c.payout_line_id = l.id AND l.batch_id = ?`, [id]);
      await trx('payout_lines').where({ batch_id: id }).update({ open: false });
      await trx('payout_batches').where({ id }).update({ status: 'cancelled' });
      await recordAudit(trx, { actor, action: 'payout.cancel', subjectType: 'payout_batch', subjectId: id, reason });
    });
    return this.get(id);
  }

  async get(id: number, q: Db | Knex.Transaction = this.db): Promise<PayoutBatch> {
    const b = await q('payout_batches').where({ id }).first();
    if (!b) throw new NotFoundError('payout batch', id);
    const lines = await q('payout_lines as l').join('suppliers as s', 's.id', 'l.supplier_id').where('l.batch_id', id).orderBy('s.code')
      .select('l.supplier_id', 's.code', 's.name', 'l.payable_fen', 'l.claims_fen', 'l.amount_fen');
    return {
      id: b.id, status: b.status, periodFrom: b.period_from, periodTo: b.period_to, totalFen: b.total_fen, createdBy: b.created_by, createdByUserId: b.created_by_user_id, createdAt: b.created_at,
      approvedBy: b.approved_by, approvedByUserId: b.approved_by_user_id, approvedAt: b.approved_at, bankReference: b.bank_reference, paidAt: b.paid_at, failedReason: b.failed_reason,
      lines: lines.map((l) => ({ supplierId: l.supplier_id, supplierCode: l.code, supplierName: l.name, payableFen: l.payable_fen, claimsFen: l.claims_fen, amountFen: l.amount_fen })),
    };
  }

  async list(page: { limit: number; offset: number }): Promise<{ rows: Omit<PayoutBatch, 'lines'>[]; total: number }> {
    const rows = await this.db('payout_batches').orderBy('id', 'desc').limit(page.limit).offset(page.offset)
      .select('*', this.db.raw('count(*) OVER ()::int AS total_rows'));
    return {
      total: rows[0]?.total_rows ?? 0,
      rows: rows.map((b) => ({
        id: b.id, status: b.status, periodFrom: b.period_from, periodTo: b.period_to, totalFen: b.total_fen, createdBy: b.created_by, createdByUserId: b.created_by_user_id, createdAt: b.created_at,
        approvedBy: b.approved_by, approvedByUserId: b.approved_by_user_id, approvedAt: b.approved_at, bankReference: b.bank_reference, paidAt: b.paid_at, failedReason: b.failed_reason,
      })),
    };
  }

  private async lock(trx: Knex.Transaction, id: number): Promise<PayoutBatch> {
    const row = await trx('payout_batches').where({ id }).forUpdate().first('id');
    if (!row) throw new NotFoundError('payout batch', id);
    return this.get(id, trx);
  }
}

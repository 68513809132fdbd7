import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import { addDays, type BusinessDate } from '../dates.ts';
import type { Db } from '../db/knex.ts';
import { KamengError, NotFoundError, ValidationError } from '../errors.ts';
import { accountCode } from '../ledger/accounts.ts';
import { credit, debit, type Ledger } from '../ledger/ledger.ts';
import { assertMay, type Actor } from '../users/actor.ts';
import { directionOf, RESOLUTION_EFFECTS } from './resolutions.ts';
import { CLASS_LABELS, RESOLUTIONS, type CaseState, type DiscrepancyClass, type ReconCase, type Resolution } from './types.ts';

export class CaseConflictError extends KamengError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('CASE_CONFLICT', message, { details });
  }
}

export interface CaseFilter {
  supplierCode?: string;
  date?: BusinessDate;
  from?: BusinessDate;
  to?: BusinessDate;
  state?: CaseState | 'unresolved';
  class?: DiscrepancyClass;
  page?: number;
  pageSize?: number;
}

const toCase = (r: Record<string, any>): ReconCase => ({
  id: r.id, supplierId: r.supplier_id, supplierCode: r.supplier_code, businessDate: r.business_date, class: r.class,
  supplierTxnId: r.supplier_txn_id, requestIds: r.request_ids, lineNo: r.line_no, sku: r.sku, ourFen: r.our_fen, theirFen: r.their_fen,
  deltaFen: r.delta_fen, note: r.note, state: r.state, resolution: r.resolution, resolutionReason: r.resolution_reason,
  resolvedBy: r.resolved_by, resolvedAt: r.resolved_at, ledgerEntryId: r.ledger_entry_id, carriedFrom: r.carried_from, createdAt: r.created_at,
});

/**
 * Discrepancy cases and how finance settles them, by the table in resolutions.ts: a bill above our
 * books accepted (or written off) raises what we owe them through the ledger, a bill below our books
 * accepted is a claim netted off their next payout, accepting ours changes nothing (we pay what our
 * books say), carrying forward moves the case to the next day. Each resolution is audited, and resolving twice the same way is a no-op.
 */
export class ReconCases {
  constructor(private readonly db: Db, private readonly ledger: Ledger) {}

  private query(trx: Db | Knex.Transaction = this.db) {
    return trx('recon_cases as c').join('suppliers as s', 's.id', 'c.supplier_id').select('c.*', 's.code as supplier_code');
  }

  async get(id: number, trx: Db | Knex.Transaction = this.db): Promise<ReconCase> {
    const row = await this.query(trx).where('c.id', id).first();
    if (!row) throw new NotFoundError('reconciliation case', id);
    return toCase(row);
  }

  async list(filter: CaseFilter = {}): Promise<{ cases: ReconCase[]; total: number; page: number; pageSize: number }> {
    const pageSize = Math.min(Math.max(filter.pageSize ?? 50, 1), 500);
    const page = Math.max(filter.page ?? 1, 1);
    const base = this.db('recon_cases as c').join('suppliers as s', 's.id', 'c.supplier_id');
    if (filter.supplierCode) base.where('s.code', filter.supplierCode);
    if (filter.date) base.where('c.business_date', filter.date);
    if (filter.from) base.where('c.business_date', '>=', filter.from);
    if (filter.to) base.where('c.business_date', '<=', filter.to);
    if (filter.state === 'unresolved') base.whereNot('c.state', 'resolved');
    else if (filter.state) base.where('c.state', filter.state);
    if (filter.class) base.where('c.class', filter.class);
    const [counted] = await base.clone().count<{ n: number }[]>({ n: '*' });
    const n = counted?.n ?? 0;
    const rows = await base.select('c.*', 's.code as supplier_code').orderBy([{ column: 'c.business_date', order: 'desc' }, { column: 'c.id', order: 'asc' }])
      .limit(pageSize).offset((page - 1) * pageSize);
    return { cases: rows.map(toCase), total: Number(n), page, pageSize };
  }

  /** Someone is looking into it. */
  async investigate(id: number, input: { actor: Actor; reason: string }): Promise<ReconCase> {
    assertMay(input.actor, 'reconciliation');
    requireReason(input.reason);
    return this.db.transaction(async (trx) => {
      const c = await this.lock(trx, id);
      if (c.state === 'resolved') throw new CaseConflictError(`case #${id} is already resolved (${c.resolution})`);
      if (c.state !== 'investigating') {
        await trx('recon_cases').where({ id }).update({ state: 'investigating', updated_at: trx.fn.now() });
        await recordAudit(trx, { actor: input.actor, action: 'recon.investigate', subjectType: 'recon_case', subjectId: id, reason: input.reason });
      }
      return this.get(id, trx);
    });
  }

  async resolve(id: number, input: { resolution: Resolution; actor: Actor; reason: string }): Promise<ReconCase> {
    assertMay(input.actor, 'reconciliation');
    if (!RESOLUTIONS.includes(input.resolution)) throw new ValidationError(`resolution must be one of ${RESOLUTIONS.join(', ')}, not "${input.resolution}"`);
    requireReason(input.reason);
    return this.db.transaction(async (trx) => {
      const c = await this.lock(trx, id);
      if (c.state === 'resolved') {
        if (c.resolution === input.resolution) return c;
        throw new CaseConflictError(`case #${id} was already resolved as ${c.resolution} by ${c.resolvedBy}`, { caseId: id, resolution: c.resolution });
      }
      let ledgerEntryId: number | null = null;
      let carriedTo: number | null = null;
      // the one table of what each resolution does to the money: src/reconciliation/resolutions.ts
      const effect = RESOLUTION_EFFECTS[directionOf(c.deltaFen)][input.resolution];
      if (c.deltaFen !== 0 && effect.refused) throw new ValidationError(`case #${id}: cannot ${input.resolution}: ${effect.refused}`, { caseId: id, deltaFen: c.deltaFen });
      if (c.deltaFen !== 0 && effect.entry) {
        ledgerEntryId = (await this.postAdjustment(trx, c, effect.entry.against, input.resolution, input.actor)).id;
      } else if (c.deltaFen !== 0 && effect.claim) {
        await trx('supplier_claims').insert({ case_id: c.id, supplier_id: c.supplierId, amount_fen: Math.abs(c.deltaFen) }).onConflict('case_id').ignore();
      }
      if (input.resolution === 'carry_forward') carriedTo = await this.carry(trx, c);
      await trx('recon_cases').where({ id }).update({
        state: 'resolved', resolution: input.resolution, resolution_reason: input.reason, resolved_by: input.actor.username, resolved_by_user_id: input.actor.userId,
        resolved_at: trx.fn.now(), ledger_entry_id: ledgerEntryId, updated_at: trx.fn.now(),
      });
      await recordAudit(trx, { actor: input.actor, action: `recon.${input.resolution}`, subjectType: 'recon_case', subjectId: id, reason: input.reason, details: { deltaFen: c.deltaFen, ledgerEntryId, carriedTo } });
      return this.get(id, trx);
    });
  }

  /**
   * We agree we owe more than our books hold: what we owe them grows by the difference, against
   * adjustments (our books were wrong) or write-offs (a loss we choose not to dispute).
   */
  private postAdjustment(trx: Knex.Transaction, c: ReconCase, against: 'adjustments' | 'write_offs', resolution: Resolution, actor: Actor) {
    const payable = accountCode.supplierPayable(c.supplierId);
    const amount = c.deltaFen;
    const label = CLASS_LABELS[c.class];
    return this.ledger.post({
      idempotencyKey: `recon-case:${c.id}`,
      kind: against === 'write_offs' ? 'recon_write_off' : 'recon_adjustment',
      description: `${against === 'write_offs' ? '对账核销 write-off' : '对账调整 adjustment'}: ${c.supplierCode} ${c.businessDate} ${label.zh} ${label.en}, case #${c.id} (${resolution})`,
      metadata: { caseId: c.id, supplierId: c.supplierId, class: c.class, deltaFen: c.deltaFen, actor: actor.username, actorUserId: actor.userId },
      postings: [debit(accountCode.platform(against), amount), credit(payable, amount)],
    }, trx);
  }

  private async carry(trx: Knex.Transaction, c: ReconCase): Promise<number> {
    const next = addDays(c.businessDate, 1);
    const [row] = await trx('recon_cases').insert({
      supplier_id: c.supplierId, business_date: next, subject_key: `carried:${c.id}`, class: c.class, supplier_txn_id: c.supplierTxnId,
      request_ids: c.requestIds, line_no: c.lineNo, sku: c.sku, our_fen: c.ourFen, their_fen: c.theirFen, delta_fen: c.deltaFen,
      note: `carried from ${c.businessDate} (case #${c.id})`, carried_from: c.id, first_run_id: 0, last_run_id: 0,
    }).onConflict(['supplier_id', 'business_date', 'subject_key']).merge(['updated_at']).returning('id');
    return row.id;
  }

  private async lock(trx: Knex.Transaction, id: number): Promise<ReconCase> {
    const row = await trx('recon_cases').where({ id }).forUpdate().first('id');
    if (!row) throw new NotFoundError('reconciliation case', id);
    return this.get(id, trx);
  }
}

function requireReason(reason: string) {
  if (typeof reason !== 'string' || reason.trim().length < 3) throw new ValidationError('a reason is required (at least 3 characters): it goes into the audit log');
}

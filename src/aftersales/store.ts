import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import { deliverCallback } from '../callbacks/deliver.ts';
import type { Db } from '../db/knex.ts';
import { NotFoundError } from '../errors.ts';
import type { Ledger } from '../ledger/ledger.ts';
import { orders, type Order } from '../orders/orders.ts';
import type { ResellerRegistry } from '../resellers/registry.ts';
import type { SupplierRegistry } from '../suppliers/registry.ts';
import { actorFromRef, assertMay, type Actor, type Schedule } from '../users/actor.ts';
import { claimFor, complaintBooks, type ComplaintMoney } from './postings.ts';
import type { ComplaintDecision, ComplaintKind, ComplaintPlan, ComplaintStatus, DecisionCheck, SupplierVerdict } from './types.ts';

type Queryable = Db | Knex.Transaction;

export interface Complaint {
  id: number;
  resellerId: number;
  complaintKey: string;
  requestHash: string;
  orderId: number;
  kind: ComplaintKind;
  serial: string | null;
  codeId: number | null;
  note: string;
  status: ComplaintStatus;
  supplierId: number | null;
  supplierVerdict: SupplierVerdict | null;
  escalation: 'first_response' | 'resolution' | null;
  escalatedAt: Date | null;
  firstResponseDue: Date;
  resolutionDue: Date;
  decisionReason: string | null;
  decidedBy: string | null;
  decidedByUserId: number | null;
  decidedAt: Date | null;
  refundFen: number | null;
  replacementCodeId: number | null;
  createdAt: Date;
}

export const toComplaint = (r: Record<string, any>): Complaint => ({
  id: Number(r.id), resellerId: Number(r.reseller_id), complaintKey: r.complaint_key, requestHash: r.request_hash, orderId: Number(r.order_id), kind: r.kind,
  serial: r.serial, codeId: r.code_id === null ? null : Number(r.code_id), note: r.note, status: r.status,
  supplierId: r.supplier_id === null ? null : Number(r.supplier_id), supplierVerdict: r.supplier_verdict, escalation: r.escalation, escalatedAt: r.escalated_at,
  firstResponseDue: r.first_response_due, resolutionDue: r.resolution_due, decisionReason: r.decision_reason, decidedBy: r.decided_by,
  decidedByUserId: r.decided_by_user_id === null ? null : Number(r.decided_by_user_id), decidedAt: r.decided_at,
  refundFen: r.refund_fen === null ? null : Number(r.refund_fen), replacementCodeId: r.replacement_code_id === null ? null : Number(r.replacement_code_id),
  createdAt: r.created_at,
});

/** complaints and complaint_events: SQL for the tables, owned here. */
export const complaints = {
  async byId(db: Queryable, id: number, options: { forUpdate?: boolean } = {}): Promise<Complaint> {
    const q = db('complaints').where({ id });
    const row = await (options.forUpdate ? q.forUpdate() : q).first();
    if (!row) throw new NotFoundError('complaint', id);
    return toComplaint(row);
  },

  async event(db: Queryable, complaintId: number, kind: string, who: Actor | Schedule | { username: string; userId?: number }, detail: Record<string, unknown> = {}): Promise<void> {
    await db('complaint_events').insert({
      complaint_id: complaintId, kind, actor: who.username, actor_user_id: 'userId' in who && who.userId ? who.userId : null, detail: JSON.stringify(detail),
    });
  },

  async timeline(db: Queryable, complaintId: number): Promise<{ at: Date; kind: string; actor: string; detail: Record<string, unknown> }[]> {
    const rows = await db('complaint_events').where({ complaint_id: complaintId }).orderBy('id').select('at', 'kind', 'actor', 'detail');
    return rows.map((r) => ({ at: r.at, kind: r.kind, actor: r.actor, detail: r.detail }));
  },
};

export interface AftersalesDeps {
  db: Db;
  ledger: Ledger;
  suppliers: SupplierRegistry;
  resellers: ResellerRegistry;
  settings: { supplierTimeoutMs: number; allowPrivateCallbacks: boolean };
}

const SUPPLIER_NAME = { username: 'supplier' };

/** What the workflow needs to run a complaint: its subject and how long until each SLA deadline. */
export async function complaintPlan(db: Db, complaintId: number): Promise<ComplaintPlan> {
  const c = await complaints.byId(db, complaintId);
  const order = await orders.byId(db, c.orderId);
  const now = Date.now();
  return {
    complaintId, subject: order.kind,
    firstResponseInMs: Math.max(0, c.firstResponseDue.getTime() - now), resolutionInMs: Math.max(0, c.resolutionDue.getTime() - now),
  };
}

/**
 * Asks the supplier about the complaint: a code check of the complained serial (the supplier of the
 * code's batch), or the delivery query of the top-up (the supplier that reported it done). The answer
 * goes on the complaint and its timeline. A supplier that cannot answer now throws (retried).
 */
export async function verifyWithSupplier(deps: AftersalesDeps, complaintId: number): Promise<SupplierVerdict> {
  const c = await complaints.byId(deps.db, complaintId);
  if (c.supplierVerdict) return c.supplierVerdict;
  const order = await orders.byId(deps.db, c.orderId);
  let verdict: SupplierVerdict = 'unknown';
  let supplierId: number | null = null;
  let detail: Record<string, unknown> = {};
  if (order.kind === 'card_code') {
    const code = await deps.db('card_codes as c').join('card_batches as b', 'b.id', 'c.batch_id').where('c.id', c.codeId).first('b.supplier_id', 'c.serial');
    supplierId = code?.supplier_id ?? null;
    if (supplierId === null) {
      detail = { note: 'the code came from a file import with no supplier: nobody to ask' };
    } else {
      const supplier = await deps.suppliers.byId(supplierId);
      const answer = await deps.suppliers.client(supplier, deps.settings.supplierTimeoutMs).checkCode({ serial: code.serial, sku: order.sku });
      verdict = answer.verdict;
      detail = { supplier: supplier.code, serial: code.serial, answer };
    }
  } else {
    const txn = await deps.db('supplier_transactions').where({ order_id: order.id, status: 'success' }).orderBy('created_at', 'desc').first();
    supplierId = txn?.supplier_id ?? order.supplierId;
    if (!txn) {
      detail = { note: 'no successful supplier transaction recorded for this top-up (marked succeeded by ops?)' };
    } else {
      const supplier = await deps.suppliers.byId(txn.supplier_id);
      const answer = await deps.suppliers.client(supplier, deps.settings.supplierTimeoutMs).topUpDelivery(txn.request_id);
      verdict = answer.delivery;
      detail = { supplier: supplier.code, requestId: txn.request_id, supplierTxnId: txn.supplier_txn_id, answer };
    }
  }
  await deps.db.transaction(async (trx) => {
    const n = await trx('complaints').where({ id: complaintId }).whereNull('supplier_verdict').update({ supplier_verdict: verdict, supplier_id: supplierId });
    if (n === 1) await complaints.event(trx, complaintId, 'supplier_answer', SUPPLIER_NAME, { verdict, ...detail });
  });
  return verdict;
}

/** The supplier could not be asked (it kept failing): the complaint goes on without its answer. */
export async function recordSupplierUnreachable(db: Db, complaintId: number, reason: string): Promise<void> {
  await db.transaction(async (trx) => {
    const n = await trx('complaints').where({ id: complaintId }).whereNull('supplier_verdict').update({ supplier_verdict: 'unknown' });
    if (n === 1) await complaints.event(trx, complaintId, 'supplier_unreachable', SUPPLIER_NAME, { reason });
  });
}

/** An SLA timer fired with no decision: the complaint goes to the top of the ops queue. */
export async function escalateComplaint(db: Db, complaintId: number, which: 'first_response' | 'resolution'): Promise<void> {
  await db.transaction(async (trx) => {
    const n = await trx('complaints').where({ id: complaintId, status: 'open' })
      .where((q) => q.whereNull('escalation').orWhere('escalation', '<>', which))
      .update({ escalation: which, escalated_at: trx.fn.now() });
    if (n === 1) await complaints.event(trx, complaintId, 'escalated', { username: 'sla' }, { sla: which });
  });
}

/** How much of the order a complaint may still refund: its subject's charge, less what other complaints refunded. */
async function refundable(trx: Knex.Transaction, c: Complaint, order: Order): Promise<number> {
  const subject = order.kind === 'card_code' ? order.unitPriceFen : order.amountFen;
  const { rows: [done] } = await trx.raw(`SELECT coalesce(sum(refund_fen), 0)::bigint AS fen FROM complaints WHERE order_id = ? AND id <> ? AND status = 'refunded'`, [order.id, c.id]);
  return Math.min(subject, order.amountFen - Number(done.fen));
}

/**
 * An ops decision's apply step, in one transaction: checked (an ops user, an open complaint, a
 * decision that fits it), then its money (postings.ts), the claim against the supplier if it
 * confirmed the fault, the complaint's new status, its timeline and the audit log. A refusal
 * changes nothing. The same decision applied again (a replayed activity) is applied once.
 */
export async function applyDecision(deps: AftersalesDeps, input: { complaintId: number } & ComplaintDecision): Promise<DecisionCheck> {
  const actor = assertMay(await actorFromRef(deps.db, input.actor), 'fulfillment');
  return deps.db.transaction(async (trx): Promise<DecisionCheck> => {
    const c = await complaints.byId(trx, input.complaintId, { forUpdate: true });
    const done: Record<ComplaintDecision['decision'], ComplaintStatus> = { replace: 'replaced', refund: 'refunded', reject: 'rejected' };
    if (c.status !== 'open') {
      if (c.status === done[input.decision] && c.decidedByUserId === actor.userId) return { applied: true, status: c.status };
      return { applied: false, refusal: `complaint ${c.complaintKey} is already ${c.status}` };
    }
    const reason = input.reason?.trim() ?? '';
    if (reason.length < 3) return { applied: false, refusal: 'a decision needs a reason (at least 3 characters); a rejection\'s reason is what the reseller sees' };
    const order = await orders.byId(trx, c.orderId);
    const money: ComplaintMoney = { complaintId: c.id, resellerId: c.resellerId, orderId: order.id, sku: order.sku };
    const update: Record<string, unknown> = { status: done[input.decision], decision_reason: reason, decided_by: actor.username, decided_by_user_id: actor.userId, decided_at: trx.fn.now() };
    const detail: Record<string, unknown> = {};

    if (input.decision === 'replace') {
      if (order.kind !== 'card_code' || c.codeId === null) return { applied: false, refusal: 'only a card code can be replaced; refund or reject a top-up complaint' };
      const { rows: [fresh] } = await trx.raw(`
        SELECT c.id, c.serial, b.unit_cost_fen FROM card_codes c JOIN card_batches b ON b.id = c.batch_id
         WHERE c.sku_code = ? AND c.status = 'available' AND (c.expires_on IS NULL OR c.expires_on >= current_date)
         ORDER BY c.expires_on, c.id LIMIT 1 FOR UPDATE OF c SKIP LOCKED`, [order.sku]);
      if (!fresh) return { applied: false, refusal: `no code of ${order.sku} is in stock to replace with: import stock, or refund` };
      // the old code leaves the order for good (void: never sold again), the new one takes its place
      const voided = await trx('card_codes').where({ id: c.codeId, order_id: order.id, status: 'delivered' }).update({ status: 'void', order_id: null });
      if (voided !== 1) return { applied: false, refusal: `code ${c.serial} is no longer delivered to order ${order.resellerOrderId}` };
      await trx('card_codes').where({ id: fresh.id, status: 'available' }).update({ status: 'delivered', order_id: order.id, delivered_at: trx.fn.now() });
      await deps.ledger.post(complaintBooks.replace(money, { codeId: Number(fresh.id), serial: fresh.serial, costFen: Number(fresh.unit_cost_fen) }), trx);
      update.replacement_code_id = fresh.id;
      Object.assign(detail, { oldSerial: c.serial, newSerial: fresh.serial, costFen: Number(fresh.unit_cost_fen) });
    } else if (input.decision === 'refund') {
      const most = await refundable(trx, c, order);
      const amount = input.amountFen ?? most;
      if (!Number.isSafeInteger(amount) || amount <= 0) return { applied: false, refusal: `refund amount must be a positive whole number of fen, not ${input.amountFen}` };
      if (amount > most) return { applied: false, refusal: `a refund of ${amount} fen exceeds what this complaint may refund (${most} fen of the ${order.amountFen} fen charged)` };
      await deps.ledger.post(complaintBooks.refund(money, amount, reason), trx);
      update.refund_fen = amount;
      detail.refundFen = amount;
    }

    if (claimFor(input.decision, c.supplierVerdict) && c.supplierId !== null) {
      const claim = await claimOf(trx, c, order);
      if (claim.amountFen > 0) {
        await trx('supplier_claims').insert({ source: 'complaint', complaint_id: c.id, supplier_id: c.supplierId, amount_fen: claim.amountFen, reference: claim.reference })
          .onConflict('complaint_id').ignore();
        detail.claim = claim;
      }
    }
    await trx('complaints').where({ id: c.id }).update(update);
    await complaints.event(trx, c.id, input.decision, actor, { reason, ...detail });
    await recordAudit(trx, { actor, action: `complaint.${input.decision}`, subjectType: 'complaint', subjectId: c.id, reason, details: { orderId: order.id, ...detail } });
    return { applied: true, status: done[input.decision] };
  });
}

/** What the supplier owes back: the bad code's cost (its batch's unit cost), or the top-up's cost. */
async function claimOf(trx: Knex.Transaction, c: Complaint, order: Order): Promise<{ amountFen: number; reference: string }> {
  if (order.kind === 'card_code') {
    const row = await trx('card_codes as c').join('card_batches as b', 'b.id', 'c.batch_id').where('c.id', c.codeId).first('b.unit_cost_fen', 'c.serial', 'b.id as batch_id');
    return { amountFen: Number(row.unit_cost_fen), reference: `serial ${row.serial} (batch ${row.batch_id})` };
  }
  const txn = await trx('supplier_transactions').where({ order_id: order.id, status: 'success' }).orderBy('created_at', 'desc').first();
  return { amountFen: Number(txn?.cost_fen ?? order.costFen ?? 0), reference: `request ${txn?.request_id ?? '-'} txn ${txn?.supplier_txn_id ?? order.supplierTxnId ?? '-'}` };
}

/** What the reseller's callback says of a decided complaint (codes never: the reseller reads them from the API). */
export async function complaintCallbackBody(db: Queryable, c: Complaint): Promise<Record<string, unknown>> {
  const order = await orders.byId(db, c.orderId);
  const replacement = c.replacementCodeId ? await db('card_codes').where({ id: c.replacementCodeId }).first('serial') : undefined;
  return {
    type: 'complaint', complaintId: c.complaintKey, resellerOrderId: order.resellerOrderId, kind: c.kind, serial: c.serial ?? undefined,
    status: c.status.toUpperCase(), reason: c.decisionReason, refundFen: c.refundFen ?? undefined, replacementSerial: replacement?.serial, decidedAt: c.decidedAt,
  };
}

/** Tells the reseller the complaint's outcome, signed like order callbacks; each attempt is on the timeline. Throws when not taken. */
export async function tellResellerOfComplaint(deps: AftersalesDeps, complaintId: number, attempt: number): Promise<{ delivered: boolean; skipped?: string }> {
  const c = await complaints.byId(deps.db, complaintId);
  const reseller = await deps.resellers.byId(c.resellerId);
  if (!reseller.callbackUrl) return { delivered: false, skipped: 'the reseller has no callback URL' };
  const credentials = (await deps.resellers.credentialsFor(reseller.apiKey))!;
  const body = JSON.stringify(await complaintCallbackBody(deps.db, c));
  try {
    const result = await deliverCallback({ url: reseller.callbackUrl, body, secret: credentials.apiSecret, allowPrivateAddresses: deps.settings.allowPrivateCallbacks });
    await complaints.event(deps.db, complaintId, 'callback', { username: 'system' }, { attempt, delivered: true, statusCode: result.statusCode });
    return { delivered: true };
  } catch (err) {
    await complaints.event(deps.db, complaintId, 'callback', { username: 'system' }, { attempt, delivered: false, error: (err as Error).message });
    throw err;
  }
}

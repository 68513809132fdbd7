import { createHash } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Knex } from 'knex';
import { z } from 'zod';
import { complaintDecisionUpdate, complaintWorkflowId } from '../../workflows/handle-complaint.ts';
import { temporalConfig } from '../../temporal.config.ts';
import type { Db } from '../db/knex.ts';
import { KamengError, NotFoundError, ValidationError } from '../errors.ts';
import type { CodeVault } from '../inventory/codes.ts';
import { orders } from '../orders/orders.ts';
import type { Reseller } from '../resellers/registry.ts';
import { assertMay, refOf, type Actor } from '../users/actor.ts';
import { complaints, toComplaint, type Complaint } from './store.ts';
import { COMPLAINT_KINDS, type ComplaintDecision, type ComplaintState } from './types.ts';

export class ComplaintConflictError extends KamengError {
  constructor(message: string, details: Record<string, unknown>) {
    super('IDEMPOTENCY_CONFLICT', message, { details });
  }
}

/** Another complaint about the same code or top-up is still open (or already got a replacement or refund). */
export class ComplaintExistsError extends KamengError {
  constructor(message: string, details: Record<string, unknown>) {
    super('COMPLAINT_EXISTS', message, { details });
  }
}

export class ComplaintWindowClosedError extends KamengError {
  constructor(resellerOrderId: string, hours: number) {
    super('COMPLAINT_WINDOW_CLOSED', `order ${resellerOrderId} was delivered more than ${hours} hours ago: complaints are taken within ${hours} hours of delivery`, { details: { resellerOrderId, hours } });
  }
}

export class ComplaintDecisionRefusedError extends KamengError {
  constructor(complaintId: number | string, reason: string) {
    super('COMPLAINT_DECISION_REFUSED', `complaint ${complaintId}: refused: ${reason}`, { details: { complaintId } });
  }
}

const ID = /^[A-Za-z0-9_.:-]{1,64}$/;
const CARD_KINDS = ['invalid_code', 'used_code'];

const complaintRequest = z.object({
  complaintId: z.string().regex(ID, 'must be 1-64 letters, digits, _ . : or -'),
  kind: z.enum(COMPLAINT_KINDS),
  serial: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be the card serial as delivered').optional(),
  note: z.string().max(500).refine((n) => !n.includes('\u0000'), 'must not contain a NUL character')
    // a lone UTF-16 surrogate is not text: PostgreSQL refuses it in JSON, so refuse it here, by name
    .refine((n) => !/\p{Cs}/u.test(n), 'must be valid Unicode text (it holds a lone surrogate)').default(''),
}).strict();

/** '2h', '30m', '24h', '45s', '1d' as temporal.config.ts writes durations. */
export function durationMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new ValidationError(`duration ${text}: expected e.g. 2h, 30m`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms']!;
}

export interface ComplaintServiceDeps {
  db: Db;
  vault: CodeVault;
  temporal: Client;
  taskQueue: string;
  windowHours: number;
  /** SLA durations (default: temporal.config.ts aftersales); tests shorten them. */
  sla?: { firstResponseMs: number; resolutionMs: number };
}

/**
 * Complaints (售后) as resellers file them and ops decide them. Filing is idempotent by the
 * reseller's complaintId; each complaint is handled by its own handleComplaint workflow.
 */
export class ComplaintService {
  constructor(private readonly deps: ComplaintServiceDeps) {}

  private get sla() {
    return this.deps.sla ?? { firstResponseMs: durationMs(temporalConfig.aftersales.firstResponse), resolutionMs: durationMs(temporalConfig.aftersales.resolution) };
  }

  /**
   * `by`: who filed it, when not the reseller's API (a reseller user in the portal): named on the
   * timeline, and `audit` runs in the filing's transaction (never for a replay).
   */
  async file(reseller: Reseller, resellerOrderId: string, body: unknown, by?: { username: string; audit: (trx: Knex.Transaction, complaintId: number) => Promise<void> }): Promise<{ complaint: unknown; replayed: boolean }> {
    const parsed = complaintRequest.safeParse(body);
    if (!parsed.success) throw new ValidationError(parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    const request = parsed.data;
    const order = ID.test(resellerOrderId) ? await orders.byResellerOrderId(this.deps.db, reseller.id, resellerOrderId) : undefined;
    if (!order) throw new NotFoundError('order', resellerOrderId);
    const requestHash = createHash('sha256').update(JSON.stringify([order.id, request.kind, request.serial ?? null, request.note])).digest('hex');

    const existing = await this.deps.db('complaints').where({ reseller_id: reseller.id, complaint_key: request.complaintId }).first();
    if (existing) return this.replay(toComplaint(existing), requestHash);

    if (order.kind === 'card_code' && !CARD_KINDS.includes(request.kind)) throw new ValidationError(`kind: order ${resellerOrderId} is a card order: a complaint about it is invalid_code or used_code`);
    if (order.kind === 'direct_topup' && CARD_KINDS.includes(request.kind)) throw new ValidationError(`kind: order ${resellerOrderId} is a top-up: a complaint about it is not_received or wrong_amount`);
    if (order.kind === 'direct_topup' && request.serial) throw new ValidationError('serial: a top-up has no card serial');
    if (!(order.status === 'delivered' || order.status === 'succeeded') || !order.completedAt) {
      throw new ValidationError(`order ${resellerOrderId} is ${order.status}: a complaint is taken once the order was delivered`);
    }
    const hours = this.deps.windowHours;
    if (Date.now() - new Date(order.completedAt).getTime() > hours * 3_600_000) throw new ComplaintWindowClosedError(resellerOrderId, hours);

    let codeId: number | null = null;
    let serial: string | null = null;
    if (order.kind === 'card_code') {
      const held = await this.deps.db('card_codes').where({ order_id: order.id, status: 'delivered' }).orderBy('id').select('id', 'serial');
      const code = request.serial ? held.find((c) => c.serial === request.serial) : held.length === 1 ? held[0] : undefined;
      if (!code) {
        throw new ValidationError(request.serial
          ? `serial: ${request.serial} is not a code delivered in order ${resellerOrderId}`
          : `serial: order ${resellerOrderId} holds ${held.length} codes: say which one (serial)`);
      }
      codeId = Number(code.id);
      serial = code.serial;
    }

    const now = Date.now();
    let created: Complaint;
    try {
      created = await this.deps.db.transaction(async (trx) => {
        const live = await trx('complaints').where(codeId ? { code_id: codeId } : { order_id: order.id, code_id: null }).whereNot('status', 'rejected').first('complaint_key', 'status');
        if (live) throw new ComplaintExistsError(`complaint ${live.complaint_key} about this ${codeId ? 'code' : 'top-up'} is ${live.status}: one complaint at a time, and none after a replacement or refund`, { complaintId: live.complaint_key });
        const [row] = await trx('complaints').insert({
          reseller_id: reseller.id, complaint_key: request.complaintId, request_hash: requestHash, order_id: order.id, kind: request.kind,
          serial, code_id: codeId, note: request.note, first_response_due: new Date(now + this.sla.firstResponseMs), resolution_due: new Date(now + this.sla.resolutionMs),
        }).returning('*');
        const c = toComplaint(row);
        await complaints.event(trx, c.id, 'filed', { username: by?.username ?? `reseller:${reseller.code}` }, { kind: c.kind, serial, note: request.note });
        await by?.audit(trx, c.id);
        return c;
      });
    } catch (err) {
      // a concurrent filing of the same complaintId (or about the same code) won the race
      if ((err as { code?: string }).code === '23505') {
        const again = await this.deps.db('complaints').where({ reseller_id: reseller.id, complaint_key: request.complaintId }).first();
        if (again) return this.replay(toComplaint(again), requestHash);
        throw new ComplaintExistsError('another complaint about this code or top-up is open', {});
      }
      throw err;
    }
    await this.ensureStarted(created.id);
    return { complaint: await this.view(created), replayed: false };
  }

  async get(reseller: Reseller, complaintKey: string): Promise<unknown> {
    const row = ID.test(complaintKey) ? await this.deps.db('complaints').where({ reseller_id: reseller.id, complaint_key: complaintKey }).first() : undefined;
    if (!row) throw new NotFoundError('complaint', complaintKey);
    return this.view(toComplaint(row));
  }

  /** Ops decide, as an authenticated user with the fulfillment permission: sent to the complaint's workflow as an update. */
  async decide(complaintId: number, input: { actor: Actor; decision: string; reason: string; amountFen?: number }): Promise<ComplaintState> {
    return decideComplaint(this.deps, complaintId, input);
  }

  private async replay(c: Complaint, requestHash: string) {
    if (c.requestHash !== requestHash) throw new ComplaintConflictError(`complaint id ${c.complaintKey} was already used for a different complaint`, { complaintId: c.complaintKey });
    if (c.status === 'open') await this.ensureStarted(c.id);
    return { complaint: await this.view(c), replayed: true };
  }

  private async ensureStarted(id: number): Promise<void> {
    try {
      await this.deps.temporal.workflow.start('handleComplaint', { workflowId: complaintWorkflowId(id), taskQueue: this.deps.taskQueue, args: [{ complaintId: id }] });
    } catch (err) {
      if ((err as Error).name !== 'WorkflowExecutionAlreadyStartedError') throw err;
    }
  }

  /** What the reseller sees of its complaint; a replacement code only ever to the order's owner. */
  private async view(c: Complaint) {
    const order = await orders.byId(this.deps.db, c.orderId);
    const replacement = c.replacementCodeId ? await this.deps.db('card_codes').where({ id: c.replacementCodeId }).first('serial', 'code_sealed', 'expires_on') : undefined;
    return {
      complaintId: c.complaintKey, resellerOrderId: order.resellerOrderId, kind: c.kind, serial: c.serial ?? undefined, note: c.note,
      status: c.status.toUpperCase(), supplierVerdict: c.supplierVerdict ?? undefined, reason: c.decisionReason ?? undefined, refundFen: c.refundFen ?? undefined,
      replacement: replacement ? { serial: replacement.serial, code: this.deps.vault.open(replacement.code_sealed), expiresOn: replacement.expires_on } : undefined,
      createdAt: c.createdAt, firstResponseDue: c.firstResponseDue, resolutionDue: c.resolutionDue, decidedAt: c.decidedAt ?? undefined,
    };
  }
}

/**
 * An ops decision (replace, refund, reject) as the dashboard and the CLI take it: checked here for
 * what is obviously wrong, then sent to the complaint's workflow as an update, which checks it
 * again, applies and audits it once, and answers the complaint's state.
 */
export async function decideComplaint(deps: { db: Db; temporal: Client }, complaintId: number, input: { actor: Actor; decision: string; reason: string; amountFen?: number }): Promise<ComplaintState> {
  assertMay(input.actor, 'fulfillment');
  if (!['replace', 'refund', 'reject'].includes(input.decision)) throw new ValidationError(`decision: ${input.decision || '(none)'} is not one of replace, refund, reject`);
  if (!input.reason || input.reason.trim().length < 3) throw new ValidationError('reason: a decision needs a reason (at least 3 characters)');
  if (input.amountFen !== undefined && (!Number.isSafeInteger(input.amountFen) || input.amountFen <= 0)) throw new ValidationError('amountFen: a positive whole number of fen');
  const c = await complaints.byId(deps.db, complaintId);
  if (c.status !== 'open') throw new ComplaintDecisionRefusedError(complaintId, `it is already ${c.status}`);
  const request: ComplaintDecision = {
    decision: input.decision as ComplaintDecision['decision'], actor: refOf(input.actor), reason: input.reason.trim(),
    ...(input.amountFen !== undefined ? { amountFen: input.amountFen } : {}),
  };
  try {
    return await deps.temporal.workflow.getHandle(complaintWorkflowId(complaintId)).executeUpdate(complaintDecisionUpdate, { args: [request] });
  } catch (err) {
    throw new ComplaintDecisionRefusedError(complaintId, (err as { cause?: Error }).cause?.message ?? (err as Error).message);
  }
}

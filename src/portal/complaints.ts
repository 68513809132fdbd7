import { randomBytes } from 'node:crypto';
import type { ComplaintService } from '../aftersales/complaints.ts';
import { complaintDetail } from '../aftersales/queue.ts';
import { COMPLAINT_KINDS, type ComplaintKind, type ComplaintStatus } from '../aftersales/types.ts';
import type { Db } from '../db/knex.ts';
import { KamengError, NotFoundError, ValidationError } from '../errors.ts';
import type { ResellerRegistry } from '../resellers/registry.ts';
import { recordPortalAudit, type PortalActor } from './users.ts';

export const COMPLAINT_STATUSES: ComplaintStatus[] = ['open', 'replaced', 'refunded', 'rejected'];
const CARD_KINDS: ComplaintKind[] = ['invalid_code', 'used_code'];
const TOPUP_KINDS: ComplaintKind[] = ['not_received', 'wrong_amount'];

/** A new complaint id for the portal's form: the form carries it, so a double submit answers the same complaint (the API's idempotency). */
export const newPortalComplaintId = () => `portal-${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;

/** Who did a timeline step, as the reseller may read it: itself, the supplier check, or the platform (never an ops user's name). */
export function timelineWho(actor: string): 'reseller' | 'supplier' | 'platform' {
  if (actor.startsWith('reseller:') || actor.startsWith('portal:')) return 'reseller';
  if (actor === 'supplier') return 'supplier';
  return 'platform';
}

/**
 * Complaints (售后) in the portal: the same complaints as the reseller API's (ComplaintService.file,
 * one handleComplaint workflow each), filed by a reseller user (on the timeline and audited as
 * them) and followed on its own reseller's orders only; anyone else's is "not found".
 */
export class PortalComplaints {
  constructor(private readonly deps: { db: Db; resellers: ResellerRegistry; service?: ComplaintService }) {}

  async list(actor: PortalActor, query: { status?: string; limit: number; offset: number }) {
    const q = this.deps.db('complaints as c').join('orders as o', 'o.id', 'c.order_id').where('c.reseller_id', actor.resellerId);
    const status = COMPLAINT_STATUSES.find((s) => s === query.status);
    if (status) q.where('c.status', status);
    const rows = await q.orderBy('c.id', 'desc').limit(query.limit + 1).offset(query.offset)
      .select('c.id', 'c.complaint_key', 'c.kind', 'c.serial', 'c.status', 'c.created_at', 'c.decided_at', 'c.refund_fen', 'o.id as order_id', 'o.reseller_order_id');
    return {
      status,
      rows: rows.slice(0, query.limit).map((r) => ({
        id: Number(r.id), complaintKey: r.complaint_key as string, kind: r.kind as ComplaintKind, serial: r.serial as string | null, status: r.status as ComplaintStatus,
        createdAt: new Date(r.created_at), decidedAt: r.decided_at ? new Date(r.decided_at) : null, refundFen: r.refund_fen === null ? null : Number(r.refund_fen),
        orderId: Number(r.order_id), resellerOrderId: r.reseller_order_id as string,
      })),
      more: rows.length > query.limit,
    };
  }

  /** One of its own complaints: status, outcome and timeline (no supplier, claim or ops user names). */
  async detail(actor: PortalActor, id: number) {
    const own = await this.deps.db('complaints').where({ id, reseller_id: actor.resellerId }).first('id');
    if (!own) throw new NotFoundError('complaint', id);
    const d = await complaintDetail(this.deps.db, id);
    return {
      complaint: d.complaint, order: { id: d.order.id, resellerOrderId: d.order.resellerOrderId, sku: d.order.sku, kind: d.order.kind as 'card_code' | 'direct_topup' },
      replacementSerial: d.replacementSerial,
      timeline: d.timeline.map((e) => ({ at: new Date(e.at), kind: e.kind, who: timelineWho(e.actor), delivered: e.kind === 'callback' ? Boolean(e.detail?.delivered) : undefined })),
    };
  }

  /** What the filing form needs: the own order (404 for anyone else's), its delivered serials and the kinds it may be filed as. */
  async fileable(actor: PortalActor, orderId: number) {
    const order = await this.deps.db('orders').where({ id: orderId, reseller_id: actor.resellerId }).first('id', 'reseller_order_id', 'sku_code', 'kind', 'status', 'account');
    if (!order) throw new NotFoundError('order', orderId);
    const serials = order.kind === 'card_code' ? await this.deps.db('card_codes').where({ order_id: orderId, status: 'delivered' }).orderBy('id').pluck('serial') : [];
    return {
      order: { id: Number(order.id), resellerOrderId: order.reseller_order_id as string, sku: order.sku_code as string, kind: order.kind as 'card_code' | 'direct_topup', status: order.status as string, account: order.account as string | null },
      serials: serials as string[], kinds: order.kind === 'card_code' ? CARD_KINDS : TOPUP_KINDS,
    };
  }

  /**
   * Files a complaint about one of its own orders through the reseller API's own path (same checks,
   * window, idempotency by the form's complaint id, workflow), audited as the reseller user.
   */
  async file(actor: PortalActor, orderId: number, form: { complaintId?: unknown; kind?: unknown; serial?: unknown; note?: unknown }): Promise<{ id: number; replayed: boolean }> {
    if (!this.deps.service) throw new KamengError('UNAVAILABLE', 'complaints cannot be filed on this server', { retryable: true });
    const { order } = await this.fileable(actor, orderId);
    const kind = String(form.kind ?? '');
    if (!(COMPLAINT_KINDS as readonly string[]).includes(kind)) throw new ValidationError(`kind: one of ${COMPLAINT_KINDS.join(', ')}`, { fields: { kind: 'required' } });
    const serial = String(form.serial ?? '').trim();
    const body = { complaintId: String(form.complaintId ?? ''), kind, note: String(form.note ?? '').trim(), ...(serial ? { serial } : {}) };
    const reseller = await this.deps.resellers.byId(actor.resellerId);
    const { replayed } = await this.deps.service.file(reseller, order.resellerOrderId, body, {
      username: `portal:${actor.username}`,
      audit: (trx, complaintId) => recordPortalAudit(trx, {
        actor, action: 'portal.file_complaint', subjectType: 'complaint', subjectId: complaintId, reason: 'filed in the portal',
        details: { orderId: order.id, resellerOrderId: order.resellerOrderId, kind, complaintId: body.complaintId },
      }),
    });
    const row = await this.deps.db('complaints').where({ reseller_id: actor.resellerId, complaint_key: body.complaintId }).first('id');
    return { id: Number(row.id), replayed };
  }
}

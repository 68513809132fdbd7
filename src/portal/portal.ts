import type { Db } from '../db/knex.ts';
import { addDays, assertBusinessDate, businessDateOf, type BusinessDate } from '../dates.ts';
import { KamengError, NotFoundError, ValidationError } from '../errors.ts';
import type { CodeVault } from '../inventory/codes.ts';
import { codesForOrder } from '../inventory/stock.ts';
import { resellerSkuDays } from '../orders/reports.ts';
import type { ResellerAdmin } from '../resellers/admin.ts';
import type { ResellerRegistry } from '../resellers/registry.ts';
import { assertOwner, recordPortalAudit, type PortalActor } from './users.ts';

/** Card codes revealed in the portal: at most this many orders per reseller user per hour. */
export const REVEALS_PER_HOUR = 30;
/** The widest range the analysis page reads at once. */
export const MAX_ANALYSIS_DAYS = 92;

export class RevealRateLimitedError extends KamengError {
  constructor() {
    super('REVEAL_RATE_LIMITED', `at most ${REVEALS_PER_HOUR} orders' codes revealed per hour; try again later`, { retryable: true });
  }
}

export interface PortalOrder {
  id: number;
  resellerOrderId: string;
  sku: string;
  kind: 'card_code' | 'direct_topup';
  quantity: number;
  account: string | null;
  amountFen: number;
  status: string;
  businessDate: string;
  createdAt: Date;
  completedAt: Date | null;
}

const toOrder = (r: Record<string, any>): PortalOrder => ({
  id: Number(r.id), resellerOrderId: r.reseller_order_id, sku: r.sku_code, kind: r.kind, quantity: Number(r.quantity ?? 1), account: r.account ?? null,
  amountFen: Number(r.amount_fen), status: r.status, businessDate: typeof r.business_date === 'string' ? r.business_date : businessDateOf(r.business_date),
  createdAt: new Date(r.created_at), completedAt: r.completed_at ? new Date(r.completed_at) : null,
});
const ORDER_COLUMNS = ['id', 'reseller_order_id', 'sku_code', 'kind', 'quantity', 'account', 'amount_fen', 'status', 'business_date', 'created_at', 'completed_at'];

/**
 * What a reseller user reads and does in the portal. Every query is scoped by the actor's own
 * reseller: another reseller's order or statement is "not found", never "forbidden" (nothing to probe).
 */
export class Portal {
  constructor(private readonly deps: { db: Db; resellers: ResellerRegistry; admin: ResellerAdmin; vault?: CodeVault; secretOverlapMs: number }) {}

  private get db() {
    return this.deps.db;
  }

  async overview(actor: PortalActor, today: BusinessDate = businessDateOf(new Date())) {
    const [balanceFen, { rows: [o] }, reseller] = await Promise.all([
      this.deps.resellers.walletBalance(actor.resellerId),
      this.db.raw(`
        SELECT count(*)::int AS orders,
               coalesce(sum(amount_fen) FILTER (WHERE status <> 'refunded'), 0)::bigint AS spend_fen,
               count(*) FILTER (WHERE kind = 'direct_topup' AND status = 'succeeded')::int AS topups_ok,
               count(*) FILTER (WHERE kind = 'direct_topup' AND status IN ('succeeded', 'refunded'))::int AS topups_done,
               count(*) FILTER (WHERE status = 'refunded')::int AS refunded
          FROM orders WHERE reseller_id = ? AND business_date = ?::date`, [actor.resellerId, today]),
      this.deps.resellers.byId(actor.resellerId),
    ]);
    const { rows: [stuck] } = await this.db.raw(`SELECT count(*)::int AS n FROM orders WHERE status IN ('processing', 'stuck') AND reseller_id = ? AND status = 'stuck'`, [actor.resellerId]);
    return {
      today, balanceFen, status: reseller.status, ordersToday: o.orders, spendTodayFen: Number(o.spend_fen), refundedToday: o.refunded, stuck: stuck.n,
      topupSuccessRate: o.topups_done > 0 ? o.topups_ok / o.topups_done : null,
    };
  }

  /** Newest first; by the reseller's own order id (exact), the account (exact) or a business date. */
  async orders(actor: PortalActor, query: { orderId?: string; account?: string; date?: string; limit: number; offset: number }): Promise<{ rows: PortalOrder[]; more: boolean }> {
    const q = this.db('orders').where({ reseller_id: actor.resellerId });
    const orderId = String(query.orderId ?? '').trim();
    const account = String(query.account ?? '').trim();
    const date = String(query.date ?? '').trim();
    if (orderId) q.where({ reseller_order_id: orderId.slice(0, 64) });
    if (account) q.where({ account: account.slice(0, 100) });
    if (date) q.where({ business_date: assertBusinessDate(date, 'date') });
    // newest first along the (reseller_id, business_date, id) index: ids grow with the business date
    const rows = await q.orderBy([{ column: 'business_date', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(query.limit + 1).offset(query.offset).select(ORDER_COLUMNS);
    return { rows: rows.slice(0, query.limit).map(toOrder), more: rows.length > query.limit };
  }

  /** One of the reseller's own orders with its history (placed, actions on it, callbacks, completed); 404 for anyone else's. */
  async order(actor: PortalActor, id: number) {
    const row = await this.db('orders').where({ id, reseller_id: actor.resellerId }).first(ORDER_COLUMNS);
    if (!row) throw new NotFoundError('order', id);
    const order = toOrder(row);
    const [audits, callbacks, reveals] = await Promise.all([
      this.db('audit_log').where({ subject_type: 'order', subject_id: String(id) }).orderBy('at').select('action', 'at'),
      this.db('callback_deliveries').where({ order_id: id }).orderBy('at').select('attempt', 'status_code', 'error', 'delivered', 'at'),
      this.db('audit_log').where({ subject_type: 'order', subject_id: String(id), action: 'portal.reveal_codes' }).count<{ n: string }[]>('* as n'),
    ]);
    const history: { at: Date; what: string; detail: string }[] = [{ at: order.createdAt, what: 'placed', detail: order.resellerOrderId }];
    for (const a of audits) history.push({ at: new Date(a.at), what: a.action, detail: '' });
    for (const c of callbacks) history.push({ at: new Date(c.at), what: c.delivered ? 'callback_delivered' : 'callback_failed', detail: `#${c.attempt} ${c.status_code ?? ''} ${c.error ?? ''}`.trim() });
    if (order.completedAt) history.push({ at: order.completedAt, what: order.status, detail: '' });
    history.sort((a, b) => a.at.getTime() - b.at.getTime());
    return { order, history, revealedBefore: Number(reveals[0]?.n ?? 0) };
  }

  /** The card codes of one order, on an explicit request: audited, and rate-limited per reseller user. */
  async revealCodes(actor: PortalActor, id: number): Promise<{ serial: string; code: string; expiresOn: string | null }[]> {
    if (!this.deps.vault) throw new KamengError('UNAVAILABLE', 'card codes cannot be opened by this server', { retryable: true });
    const row = await this.db('orders').where({ id, reseller_id: actor.resellerId }).first('id', 'kind', 'status');
    if (!row) throw new NotFoundError('order', id);
    if (row.kind !== 'card_code' || row.status !== 'delivered') throw new ValidationError('this order has no delivered card codes');
    return this.db.transaction(async (trx) => {
      // one reveal at a time per user: the count below cannot be raced past
      await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`portal-reveal:${actor.resellerUserId}`]);
      const { rows: [recent] } = await trx.raw(
        `SELECT count(*)::int AS n FROM audit_log WHERE actor_reseller_user_id = ? AND action = 'portal.reveal_codes' AND at > now() - interval '1 hour'`, [actor.resellerUserId]);
      if (recent.n >= REVEALS_PER_HOUR) throw new RevealRateLimitedError();
      const codes = await codesForOrder(trx, this.deps.vault!, id);
      await recordPortalAudit(trx, { actor, action: 'portal.reveal_codes', subjectType: 'order', subjectId: id, reason: 'card codes shown in the portal', details: { codes: codes.length } });
      return codes;
    });
  }

  /** The reseller's settled days, newest first. */
  async statements(actor: PortalActor, page: { limit: number; offset: number }) {
    const rows = await this.db('reseller_statements').where({ reseller_id: actor.resellerId }).orderBy('business_date', 'desc').limit(page.limit + 1).offset(page.offset)
      .select('business_date', 'currency', 'opening_fen', 'closing_fen', 'orders_count', 'orders_gross_fen', 'refunds_fen', 'topups_fen', 'lines');
    return {
      rows: rows.slice(0, page.limit).map((r) => ({
        date: typeof r.business_date === 'string' ? r.business_date : businessDateOf(r.business_date), currency: r.currency, openingFen: Number(r.opening_fen), closingFen: Number(r.closing_fen),
        ordersCount: Number(r.orders_count), ordersGrossFen: Number(r.orders_gross_fen), refundsFen: Number(r.refunds_fen), topupsFen: Number(r.topups_fen), lines: Number(r.lines),
      })),
      more: rows.length > page.limit,
    };
  }

  /** Throws NotFound unless the reseller has a settled statement that day (then the download is its own). */
  async assertStatement(actor: PortalActor, date: string): Promise<BusinessDate> {
    const day = (() => {
      try {
        return assertBusinessDate(date, 'date');
      } catch {
        throw new NotFoundError('statement', date);
      }
    })();
    const row = await this.db('reseller_statements').where({ reseller_id: actor.resellerId, business_date: day }).first('id');
    if (!row) throw new NotFoundError('statement', date);
    await recordPortalAudit(this.db, { actor, action: 'portal.download_statement', subjectType: 'reseller_statement', subjectId: row.id, reason: `statement of ${day}`, details: { date: day } });
    return day;
  }

  /** Sales and spend by SKU and by day over [from, to], refund and complaint rates, best sellers, SKUs low platform-wide. */
  async analysis(actor: PortalActor, range: { from?: string; to?: string }, today: BusinessDate = businessDateOf(new Date())) {
    const to = range.to ? assertBusinessDate(range.to, 'to') : today;
    const from = range.from ? assertBusinessDate(range.from, 'from') : addDays(to, -13);
    if (from > to) throw new ValidationError('from: must not be after to', { fields: { from: 'after to' } });
    if (addDays(from, MAX_ANALYSIS_DAYS - 1) < to) throw new ValidationError(`range: at most ${MAX_ANALYSIS_DAYS} days`, { fields: { from: `at most ${MAX_ANALYSIS_DAYS} days` } });
    const [{ rows: bySkuDay }, { rows: [complaints] }, { rows: low }] = await Promise.all([
      // closed days from the daily rollup, today (and any day a late refund unrolled) live
      resellerSkuDays(this.db, actor.resellerId, from, to).then((rows) => ({ rows: rows.map((r) => ({ day: r.day, sku: r.sku, orders: r.orders, spend_fen: r.spendFen, refunded: r.refunded })) })),
      this.db.raw(`SELECT count(*)::int AS n FROM complaints c JOIN orders o ON o.id = c.order_id
                    WHERE c.reseller_id = ? AND o.business_date BETWEEN ?::date AND ?::date`, [actor.resellerId, from, to]),
      this.db.raw(`
        SELECT s.code AS sku, s.name_zh, s.name_en, count(c.id)::int AS available, s.low_stock_threshold AS threshold
          FROM skus s LEFT JOIN card_codes c ON c.sku_code = s.code AND c.status = 'available' AND (c.expires_on IS NULL OR c.expires_on >= current_date)
         WHERE s.active AND s.kind = 'card_code' AND s.low_stock_threshold > 0
         GROUP BY s.code HAVING count(c.id) < s.low_stock_threshold ORDER BY count(c.id), s.code LIMIT 20`),
    ]);
    const days: string[] = [];
    for (let d = from; d <= to; d = addDays(d, 1)) days.push(d);
    const skus: string[] = [...new Set<string>(bySkuDay.map((r: any) => r.sku as string))].sort();
    const cell = new Map(bySkuDay.map((r: any) => [`${r.day}|${r.sku}`, r]));
    const series: { sku: string; spendFen: number[]; orders: number[] }[] = skus.map((sku) => ({ sku, spendFen: days.map((d) => Number((cell.get(`${d}|${sku}`) as any)?.spend_fen ?? 0)), orders: days.map((d) => Number((cell.get(`${d}|${sku}`) as any)?.orders ?? 0)) }));
    const totals = skus.map((sku) => {
      const rows = bySkuDay.filter((r: any) => r.sku === sku);
      return { sku, orders: rows.reduce((n: number, r: any) => n + r.orders, 0), spendFen: rows.reduce((n: number, r: any) => n + Number(r.spend_fen), 0), refunded: rows.reduce((n: number, r: any) => n + r.refunded, 0) };
    }).sort((a, b) => b.spendFen - a.spendFen || a.sku.localeCompare(b.sku));
    const orders = totals.reduce((n, t) => n + t.orders, 0);
    const refunded = totals.reduce((n, t) => n + t.refunded, 0);
    return {
      from, to, days, series, bestSellers: totals.slice(0, 10), orders, spendFen: totals.reduce((n, t) => n + t.spendFen, 0),
      refundRate: orders ? refunded / orders : null, complaintRate: orders ? complaints.n / orders : null,
      lowStock: low.map((r: any) => ({ sku: r.sku, nameZh: r.name_zh, nameEn: r.name_en, available: r.available, threshold: r.threshold })) as { sku: string; nameZh: string; nameEn: string; available: number; threshold: number }[],
    };
  }

  /** The wallet: balance, and the recharges recorded for it (newest first), with what to quote when paying. */
  async wallet(actor: PortalActor, page: { limit: number; offset: number }) {
    const [balanceFen, rows] = await Promise.all([
      this.deps.resellers.walletBalance(actor.resellerId),
      this.db('wallet_recharges').where({ reseller_id: actor.resellerId }).orderBy('id', 'desc').limit(page.limit + 1).offset(page.offset)
        .select('channel', 'amount_fen', 'reference', 'value_date', 'status', 'recorded_at'),
    ]);
    return {
      balanceFen, payReference: actor.resellerCode,
      recharges: rows.slice(0, page.limit).map((r) => ({
        channel: r.channel as string, amountFen: Number(r.amount_fen), reference: r.reference as string, status: r.status as string, recordedAt: new Date(r.recorded_at),
        valueDate: typeof r.value_date === 'string' ? r.value_date : businessDateOf(r.value_date),
      })),
      more: rows.length > page.limit,
    };
  }

  /** The callback deliveries to the reseller's endpoint, newest first: why a callback failed, without asking us. */
  async callbackLog(actor: PortalActor, page: { limit: number; offset: number; failedOnly: boolean }) {
    // the orders' deliveries, and the owner's test callbacks (no order: migration 035)
    const q = this.db('callback_deliveries as c').leftJoin('orders as o', 'o.id', 'c.order_id')
      .where((w) => w.where('o.reseller_id', actor.resellerId).orWhere((t) => t.where('c.test', true).where('c.reseller_id', actor.resellerId)));
    if (page.failedOnly) q.where('c.delivered', false);
    const rows = await q.orderBy('c.id', 'desc').limit(page.limit + 1).offset(page.offset)
      .select('c.id', 'c.order_id', 'o.reseller_order_id', 'c.url', 'c.attempt', 'c.status_code', 'c.error', 'c.delivered', 'c.duration_ms', 'c.at', 'c.test');
    return {
      rows: rows.slice(0, page.limit).map((r) => ({
        id: Number(r.id), orderId: r.order_id === null ? null : Number(r.order_id), resellerOrderId: r.reseller_order_id as string | null, test: Boolean(r.test), url: r.url as string, attempt: Number(r.attempt),
        statusCode: r.status_code === null ? null : Number(r.status_code), error: r.error as string | null, delivered: Boolean(r.delivered),
        durationMs: r.duration_ms === null ? null : Number(r.duration_ms), at: new Date(r.at),
      })),
      more: rows.length > page.limit,
    };
  }

  /** The API credentials' state (never the secret). */
  async keys(actor: PortalActor) {
    const row = await this.db('resellers').where({ id: actor.resellerId }).first('api_key', 'secret_rotated_at', 'previous_secret_expires_at', 'callback_url', 'ip_allowlist');
    const previousUntil = row.previous_secret_expires_at && new Date(row.previous_secret_expires_at) > new Date() ? new Date(row.previous_secret_expires_at) : null;
    return { apiKey: row.api_key as string, rotatedAt: row.secret_rotated_at ? new Date(row.secret_rotated_at) : null, previousValidUntil: previousUntil, callbackUrl: row.callback_url as string | null };
  }

  /** The owner rotates its own secret (the old one accepted for the overlap window): shown once, audited as the owner. */
  async rotateSecret(actor: PortalActor, overlapHours?: number) {
    assertOwner(actor, 'rotate the API secret');
    const overlapMs = overlapHours === undefined ? this.deps.secretOverlapMs : overlapHours * 3600_000;
    if (!Number.isFinite(overlapMs) || overlapMs < 0 || overlapMs > 7 * 24 * 3600_000) throw new ValidationError('overlap: 0 to 168 hours', { fields: { overlap: '0 to 168 hours' } });
    return this.deps.admin.rotateSecretAudited(actor.resellerCode, overlapMs, (trx, resellerId, until) =>
      recordPortalAudit(trx, { actor, action: 'reseller.rotate_secret', subjectType: 'reseller', subjectId: resellerId, reason: 'rotated by the reseller in the portal', details: { previousValidUntil: until.toISOString() } }));
  }

  /** The owner ends the overlap window now: only the current secret is accepted. */
  async revokePreviousSecret(actor: PortalActor): Promise<void> {
    assertOwner(actor, 'revoke the previous API secret');
    await this.deps.admin.revokePreviousSecretAudited(actor.resellerCode, (trx, resellerId) =>
      recordPortalAudit(trx, { actor, action: 'reseller.revoke_previous_secret', subjectType: 'reseller', subjectId: resellerId, reason: 'revoked by the reseller in the portal' }));
  }
}

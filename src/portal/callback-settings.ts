import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { deliverCallback } from '../callbacks/deliver.ts';
import type { Db } from '../db/knex.ts';
import { KamengError, NotFoundError, ValidationError } from '../errors.ts';
import { resendResellerCallbackAudited } from '../fulfillment/reseller-callback.ts';
import { callbackUrlProblem, FieldErrors, parseAllowlist } from '../resellers/admin.ts';
import { parseInetArray, toInetArray, type ResellerRegistry } from '../resellers/registry.ts';
import { assertOwner, recordPortalAudit, type PortalActor } from './users.ts';

/** Test callbacks and re-sends from the portal together: at most this many per reseller user per hour. */
export const CALLBACK_SENDS_PER_HOUR = 20;
const SEND_ACTIONS = ['portal.test_callback', 'order.resend_callback'];

export class CallbackSendsRateLimitedError extends KamengError {
  constructor() {
    super('CALLBACK_SENDS_RATE_LIMITED', `at most ${CALLBACK_SENDS_PER_HOUR} test callbacks and re-sends per hour; try again later`, { retryable: true });
  }
}

export interface ApiSettings {
  callbackUrl: string | null;
  ipAllowlist: string[];
}

/**
 * The owner's side of the reseller API settings (issue 24): the callback URL (through the same SSRF
 * rules as the staff admin's form and the delivery itself), the IP allowlist the signed API checks
 * (src/resellers/authenticate.ts, within CREDENTIALS_KEPT_MS on every API host), a signed test
 * callback, and re-sending an order's failed callback. Staff read; only the owner changes or sends.
 */
export class PortalCallbackSettings {
  constructor(private readonly deps: { db: Db; resellers: ResellerRegistry; allowPrivateCallbacks: boolean }) {}

  private get db() {
    return this.deps.db;
  }

  async settings(actor: PortalActor): Promise<ApiSettings> {
    const r = await this.deps.resellers.byId(actor.resellerId);
    return { callbackUrl: r.callbackUrl, ipAllowlist: r.ipAllowlist };
  }

  /** An empty URL turns callbacks off. A refused URL changes nothing and says why (field callbackUrl). */
  async setCallbackUrl(actor: PortalActor, input: string): Promise<void> {
    assertOwner(actor, 'change the callback URL');
    const url = String(input ?? '').trim();
    const errors = new FieldErrors();
    if (url.length > 500) errors.add('callbackUrl', 'at most 500 characters');
    // the URL parser drops or escapes these, but the stored text would keep them (a NUL does not even store)
    else if (/[\u0000-\u001f\u007f]/.test(url)) errors.add('callbackUrl', 'must not contain control characters');
    else if (url) {
      const problem = callbackUrlProblem(url, this.deps.allowPrivateCallbacks);
      if (problem) errors.add('callbackUrl', `"${url}" ${problem}`);
    }
    errors.throwIfAny();
    await this.change(actor, 'callbackUrl', { callback_url: url || null }, (r) => r.callback_url ?? null, url || null);
  }

  /** CIDRs or addresses, comma, space or newline separated; empty: any address. A bad entry changes nothing (field ipAllowlist). */
  async setIpAllowlist(actor: PortalActor, input: string): Promise<void> {
    assertOwner(actor, 'change the IP allowlist');
    const text = String(input ?? '');
    const allow = parseAllowlist(text);
    const errors = new FieldErrors();
    if (text.length > 5000) errors.add('ipAllowlist', 'at most 5000 characters');
    else if (allow.problem) errors.add('ipAllowlist', allow.problem);
    errors.throwIfAny();
    await this.change(actor, 'ipAllowlist', { ip_allowlist: toInetArray(allow.cidrs) }, (r) => parseInetArray(r.ip_allowlist), allow.cidrs);
  }

  /** One column of the reseller's own row, audited as the staff admin's edit is (reseller.update, before and after). */
  private async change(actor: PortalActor, field: string, update: Record<string, unknown>, before: (row: Record<string, any>) => unknown, after: unknown): Promise<void> {
    await this.db.transaction(async (trx) => {
      const row = await trx('resellers').where({ id: actor.resellerId }).forUpdate().first('id', 'callback_url', 'ip_allowlist');
      if (!row) throw new NotFoundError('reseller', actor.resellerCode);
      const from = before(row);
      await trx('resellers').where({ id: actor.resellerId }).update(update);
      await recordPortalAudit(trx, { actor, action: 'reseller.update', subjectType: 'reseller', subjectId: actor.resellerId, reason: 'changed by the reseller in the portal',
        details: { code: actor.resellerCode, changed: [{ field, from, to: after }] } });
    });
  }

  /**
   * A signed callback marked as a test (event TEST, test: true, no order) to the reseller's URL,
   * the same signing as real ones, logged with them in callback_deliveries. Audited, rate-limited.
   */
  async sendTestCallback(actor: PortalActor): Promise<{ delivered: boolean; statusCode: number | null; error?: string }> {
    assertOwner(actor, 'send a test callback');
    const reseller = await this.deps.resellers.byId(actor.resellerId);
    if (!reseller.callbackUrl) throw new ValidationError('callbackUrl: set a callback URL first', { fields: { callbackUrl: 'not set' } });
    const url = reseller.callbackUrl;
    const testId = randomUUID();
    await this.admitSend(actor, (trx) => recordPortalAudit(trx, { actor, action: 'portal.test_callback', subjectType: 'reseller', subjectId: actor.resellerId, reason: 'test callback sent from the portal', details: { url, testId } }));
    const credentials = (await this.deps.resellers.credentialsFor(reseller.apiKey))!;
    const body = JSON.stringify({ event: 'TEST', test: true, testId, resellerCode: reseller.code, message: 'a test callback from Kameng: no order, nothing to do', sentAt: new Date().toISOString() });
    const logged = { order_id: null, reseller_id: actor.resellerId, test: true, url, attempt: 1 };
    try {
      const result = await deliverCallback({ url, body, secret: credentials.apiSecret, allowPrivateAddresses: this.deps.allowPrivateCallbacks });
      await this.db('callback_deliveries').insert({ ...logged, status_code: result.statusCode, delivered: true, duration_ms: result.durationMs });
      return { delivered: true, statusCode: result.statusCode };
    } catch (err) {
      const statusCode = (err as { statusCode?: number }).statusCode ?? null;
      await this.db('callback_deliveries').insert({ ...logged, status_code: statusCode, error: (err as Error).message, delivered: false });
      return { delivered: false, statusCode, error: (err as Error).message };
    }
  }

  /**
   * Re-sends the order of a failed delivery in the log (the same code as `kameng callbacks resend`):
   * the delivery must be the reseller's own (404 otherwise), the order final and not yet delivered.
   */
  async resend(actor: PortalActor, deliveryId: number): Promise<{ delivered: boolean; error?: string; orderId: number }> {
    assertOwner(actor, 're-send a callback');
    const delivery = await this.db('callback_deliveries as c').join('orders as o', 'o.id', 'c.order_id')
      .where({ 'c.id': deliveryId, 'o.reseller_id': actor.resellerId }).first('c.order_id', 'c.delivered');
    if (!delivery) throw new NotFoundError('callback delivery', deliveryId);
    if (delivery.delivered) throw new ValidationError('this delivery was taken by your endpoint: nothing to re-send');
    const orderId = Number(delivery.order_id);
    const result = await resendResellerCallbackAudited({ db: this.db, resellers: this.deps.resellers, settings: { allowPrivateCallbacks: this.deps.allowPrivateCallbacks } }, orderId,
      (attempt) => this.admitSend(actor, (trx) => recordPortalAudit(trx, { actor, action: 'order.resend_callback', subjectType: 'order', subjectId: orderId, reason: 're-sent by the reseller in the portal', details: { attempt, deliveryId } })));
    return { ...result, orderId };
  }

  /** Counts this user's sends in the last hour under a lock (parallel clicks cannot pass the limit), then audits this one. */
  private async admitSend(actor: PortalActor, audit: (trx: Knex.Transaction) => Promise<void>): Promise<void> {
    await this.db.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`portal-callback-send:${actor.resellerUserId}`]);
      const { rows: [recent] } = await trx.raw(
        `SELECT count(*)::int AS n FROM audit_log WHERE actor_reseller_user_id = ? AND action = ANY(?) AND at > now() - interval '1 hour'`, [actor.resellerUserId, SEND_ACTIONS]);
      if (recent.n >= CALLBACK_SENDS_PER_HOUR) throw new CallbackSendsRateLimitedError();
      await audit(trx);
    });
  }
}

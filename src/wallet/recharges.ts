import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import { assertBusinessDate, businessDateOf, type BusinessDate } from '../dates.ts';
import type { Db } from '../db/knex.ts';
import { KamengError, NotFoundError, ValidationError } from '../errors.ts';
import { accountCode } from '../ledger/accounts.ts';
import { credit, debit, type Ledger, type Posting } from '../ledger/ledger.ts';
import type { Fen } from '../money.ts';
import { FieldErrors, requireReason } from '../resellers/admin.ts';
import { assertMay, type Actor } from '../users/actor.ts';

export type RechargeChannel = 'bank' | 'alipay' | 'wechat';
export const CHANNELS: RechargeChannel[] = ['bank', 'alipay', 'wechat'];
export const CHANNEL_LABELS: Record<RechargeChannel, { zh: string; en: string }> = {
  bank: { zh: '银行转账', en: 'Bank transfer' }, alipay: { zh: '支付宝', en: 'Alipay' }, wechat: { zh: '微信支付', en: 'WeChat Pay' },
};
export type RechargeStatus = 'pending' | 'credited' | 'rejected' | 'reversed';

/** Ledger entry kinds of recharges; both are the 充值 section of the reseller's statement (src/settlement/sections.ts). */
export const RECHARGE_ENTRY_KIND = 'wallet_topup';
export const RECHARGE_REVERSAL_ENTRY_KIND = 'wallet_recharge_reversal';

/**
 * The recharge money table (README "Administration"): each step, what it posts and its effect on
 * the wallet and the statement. The code below posts exactly this; test/recharges.test.ts checks
 * every row against the ledger; the invariant `recharges_posted` checks the books against it.
 *
 * | step                         | status after | posting                                   | wallet   | statement        |
 * |------------------------------|--------------|-------------------------------------------|----------|------------------|
 * | record, below the threshold  | credited     | Dr platform_cash / Cr reseller wallet     | + amount | 充值 + amount    |
 * | record, at/above threshold   | pending      | none                                      | none     | none             |
 * | approve (another finance user)| credited    | Dr platform_cash / Cr reseller wallet     | + amount | 充值 + amount    |
 * | reject a pending one         | rejected     | none                                      | none     | none             |
 * | reverse a credited one       | reversed     | Dr reseller wallet / Cr platform_cash     | - amount | 充值 - amount    |
 */
export const RECHARGE_TABLE = {
  credit: (resellerId: number, amount: Fen): Posting[] => [debit(accountCode.platform('platform_cash'), amount), credit(accountCode.resellerWallet(resellerId), amount)],
  reverse: (resellerId: number, amount: Fen): Posting[] => [debit(accountCode.resellerWallet(resellerId), amount), credit(accountCode.platform('platform_cash'), amount)],
  creditKey: (id: number) => `wallet-recharge:${id}`,
  reversalKey: (id: number) => `wallet-recharge-reversal:${id}`,
};

export interface Recharge {
  id: number;
  resellerId: number;
  resellerCode: string;
  channel: RechargeChannel;
  payer: string;
  amountFen: Fen;
  reference: string;
  valueDate: BusinessDate;
  status: RechargeStatus;
  source: string;
  recordedBy: string;
  recordedAt: Date;
  approvedBy: string | null;
  closedBy: string | null;
  closeReason: string | null;
}

export interface RechargeInput {
  resellerCode: string;
  channel: string;
  payer: string;
  amountFen: number;
  reference: string;
  valueDate: string;
  /** manual, or the file and line it came from */
  source?: string;
}

export class DuplicateRechargeError extends KamengError {
  constructor(channel: string, reference: string, existingId: number) {
    super('DUPLICATE_RECHARGE', `a ${channel} payment with reference ${reference} is already recorded (recharge #${existingId})`, { details: { fields: { reference: `already recorded as recharge #${existingId}` }, existingId } });
  }
}

export class FourEyesError extends KamengError {
  constructor(message: string) {
    super('FOUR_EYES', message);
  }
}

export class RechargeStateError extends KamengError {
  constructor(message: string) {
    super('RECHARGE_STATE', message);
  }
}

const SELECT = `w.*, r.code AS reseller_code, ru.username AS recorded_by, au.username AS approved_by, cu.username AS closed_by`;
const toRecharge = (r: Record<string, any>): Recharge => ({
  id: Number(r.id), resellerId: Number(r.reseller_id), resellerCode: r.reseller_code, channel: r.channel, payer: r.payer, amountFen: Number(r.amount_fen),
  reference: r.reference, valueDate: typeof r.value_date === 'string' ? r.value_date : businessDateOf(new Date(r.value_date)),
  status: r.status, source: r.source, recordedBy: r.recorded_by, recordedAt: new Date(r.recorded_at), approvedBy: r.approved_by ?? null,
  closedBy: r.closed_by ?? null, closeReason: r.close_reason ?? null,
});

/** Validates one recharge's fields; returns them clean or throws field errors. `today` bounds the value date. */
export function validateRecharge(input: RechargeInput, today: BusinessDate = businessDateOf(new Date())) {
  const errors = new FieldErrors();
  const resellerCode = String(input.resellerCode ?? '').trim();
  if (!resellerCode) errors.add('resellerCode', 'required');
  const channel = String(input.channel ?? '').trim() as RechargeChannel;
  if (!CHANNELS.includes(channel)) errors.add('channel', `one of ${CHANNELS.join(', ')}`);
  const payer = String(input.payer ?? '').trim();
  if (payer.length < 1 || payer.length > 200) errors.add('payer', 'required, at most 200 characters');
  const amountFen = input.amountFen;
  if (!Number.isSafeInteger(amountFen) || amountFen <= 0) errors.add('amount', 'a positive amount in yuan (at most 2 decimals)');
  const reference = String(input.reference ?? '').trim();
  if (reference.length < 1 || reference.length > 100) errors.add('reference', "the channel's transaction reference, 1-100 characters");
  let valueDate = String(input.valueDate ?? '').trim();
  try {
    valueDate = assertBusinessDate(valueDate, 'value date');
    if (valueDate > today) errors.add('valueDate', `not after today (${today})`);
  } catch {
    errors.add('valueDate', 'a date, YYYY-MM-DD');
  }
  errors.throwIfAny();
  return { resellerCode, channel, payer, amountFen, reference, valueDate, source: input.source ?? 'manual' };
}

/**
 * Wallet recharges (充值): money a reseller paid in, recorded by finance, credited to its wallet
 * through the ledger (RECHARGE_TABLE). At or above the approval threshold a second finance user
 * approves before anything is posted. A mistake is reversed with a reason, never edited.
 */
export class Recharges {
  constructor(private readonly db: Db, private readonly ledger: Ledger, private readonly settings: { rechargeApprovalFen: number }) {}

  /** Records a payment received. Credited at once below the threshold, else pending approval. */
  async record(actor: Actor, input: RechargeInput, trx?: Knex.Transaction): Promise<Recharge> {
    assertMay(actor, 'recharges');
    const clean = validateRecharge(input);
    const run = async (t: Knex.Transaction) => {
      const reseller = await t('resellers').where({ code: clean.resellerCode }).first('id', 'status');
      if (!reseller) throw new ValidationError(`resellerCode: no reseller ${clean.resellerCode}`, { fields: { resellerCode: `no reseller ${clean.resellerCode}` } });
      const existing = await t('wallet_recharges').where({ channel: clean.channel, reference: clean.reference }).first('id');
      if (existing) throw new DuplicateRechargeError(clean.channel, clean.reference, Number(existing.id));
      const [row] = await t('wallet_recharges').insert({
        reseller_id: reseller.id, channel: clean.channel, payer: clean.payer, amount_fen: clean.amountFen, reference: clean.reference,
        value_date: clean.valueDate, status: 'pending', source: clean.source, recorded_by_user_id: actor.userId,
      }).onConflict(['channel', 'reference']).ignore().returning('id');
      if (!row) throw new DuplicateRechargeError(clean.channel, clean.reference, 0);
      const id = Number(row.id);
      const needsApproval = clean.amountFen >= this.settings.rechargeApprovalFen;
      await recordAudit(t, {
        actor, action: 'recharge.record', subjectType: 'wallet_recharge', subjectId: id, reason: `${clean.channel} ${clean.reference}`,
        details: { reseller: clean.resellerCode, amountFen: clean.amountFen, payer: clean.payer, valueDate: clean.valueDate, source: clean.source, needsApproval },
      });
      if (!needsApproval) await this.post(t, id, actor);
      return this.byIdIn(t, id);
    };
    return trx ? run(trx) : this.db.transaction(run);
  }

  /** A second finance user approves a pending recharge: the wallet is credited now. */
  async approve(actor: Actor, id: number): Promise<Recharge> {
    assertMay(actor, 'recharges');
    return this.db.transaction(async (t) => {
      const row = await this.locked(t, id);
      if (row.status !== 'pending') throw new RechargeStateError(`recharge #${id} is ${row.status}, not waiting for approval`);
      if (Number(row.recorded_by_user_id) === actor.userId) throw new FourEyesError(`recharge #${id} was recorded by you: another finance user approves it`);
      await t('wallet_recharges').where({ id }).update({ approved_by_user_id: actor.userId, approved_at: t.fn.now() });
      await recordAudit(t, { actor, action: 'recharge.approve', subjectType: 'wallet_recharge', subjectId: id, reason: 'four eyes', details: { amountFen: Number(row.amount_fen) } });
      await this.post(t, id, actor);
      return this.byIdIn(t, id);
    });
  }

  /** A pending recharge that should not be credited (wrong reseller, not received): nothing was posted. */
  async reject(actor: Actor, id: number, reason: string): Promise<Recharge> {
    assertMay(actor, 'recharges');
    requireReason(reason);
    return this.db.transaction(async (t) => {
      const row = await this.locked(t, id);
      if (row.status !== 'pending') throw new RechargeStateError(`recharge #${id} is ${row.status}: only a pending one is rejected (reverse a credited one)`);
      await t('wallet_recharges').where({ id }).update({ status: 'rejected', closed_by_user_id: actor.userId, closed_at: t.fn.now(), close_reason: reason.trim() });
      await recordAudit(t, { actor, action: 'recharge.reject', subjectType: 'wallet_recharge', subjectId: id, reason });
      return this.byIdIn(t, id);
    });
  }

  /** A credited recharge recorded by mistake: a reversing entry with a reason (the wallet must still hold the amount). */
  async reverse(actor: Actor, id: number, reason: string): Promise<Recharge> {
    assertMay(actor, 'recharges');
    requireReason(reason);
    return this.db.transaction(async (t) => {
      const row = await this.locked(t, id);
      if (row.status !== 'credited') throw new RechargeStateError(`recharge #${id} is ${row.status}: only a credited one is reversed`);
      const amount = Number(row.amount_fen);
      const posted = await this.ledger.post({
        idempotencyKey: RECHARGE_TABLE.reversalKey(id), kind: RECHARGE_REVERSAL_ENTRY_KIND,
        description: `充值冲正 recharge reversal #${id} ${row.channel} ${row.reference}: ${reason.trim()}`,
        metadata: { rechargeId: id, resellerId: Number(row.reseller_id), reason: reason.trim(), actorUserId: actor.userId },
        postings: RECHARGE_TABLE.reverse(Number(row.reseller_id), amount),
      }, t);
      await t('wallet_recharges').where({ id }).update({
        status: 'reversed', reversal_entry_key: RECHARGE_TABLE.reversalKey(id), closed_by_user_id: actor.userId, closed_at: t.fn.now(), close_reason: reason.trim(),
      });
      await recordAudit(t, { actor, action: 'recharge.reverse', subjectType: 'wallet_recharge', subjectId: id, reason, details: { amountFen: amount, entryId: posted.id } });
      return this.byIdIn(t, id);
    });
  }

  async byId(id: number): Promise<Recharge> {
    return this.byIdIn(this.db, id);
  }

  async list(options: { status?: RechargeStatus; resellerCode?: string; limit: number; offset: number }): Promise<{ rows: Recharge[]; total: number }> {
    const base = () => {
      const q = this.db('wallet_recharges as w').join('resellers as r', 'r.id', 'w.reseller_id');
      if (options.status) q.where('w.status', options.status);
      if (options.resellerCode) q.where('r.code', options.resellerCode);
      return q;
    };
    const [rows, [count]] = await Promise.all([
      base().leftJoin('dashboard_users as ru', 'ru.id', 'w.recorded_by_user_id').leftJoin('dashboard_users as au', 'au.id', 'w.approved_by_user_id')
        .leftJoin('dashboard_users as cu', 'cu.id', 'w.closed_by_user_id')
        .orderBy('w.id', 'desc').limit(options.limit).offset(options.offset).select(this.db.raw(SELECT)),
      base().count<{ n: string }[]>('* as n'),
    ]);
    return { rows: rows.map(toRecharge), total: Number(count?.n ?? 0) };
  }

  /** Credits the wallet for a recharge (its one entry, keyed by its id) and marks it credited. */
  private async post(t: Knex.Transaction, id: number, actor: Actor): Promise<void> {
    const row = await t('wallet_recharges').where({ id }).first();
    const amount = Number(row.amount_fen);
    // dated on the value date (the day the money arrived), as a statement line would be; a value date
    // already settled goes on the next settlement's statement (settlement sweeps unsettled postings)
    await this.ledger.post({
      idempotencyKey: RECHARGE_TABLE.creditKey(id), kind: RECHARGE_ENTRY_KIND, businessDate: row.value_date,
      description: `钱包充值 wallet recharge #${id} ${row.channel} ${row.reference} (${row.payer})`,
      metadata: { rechargeId: id, resellerId: Number(row.reseller_id), channel: row.channel, reference: row.reference, valueDate: toRecharge({ ...row, reseller_code: '' }).valueDate, actorUserId: actor.userId },
      postings: RECHARGE_TABLE.credit(Number(row.reseller_id), amount),
    }, t);
    await t('wallet_recharges').where({ id }).update({ status: 'credited', entry_key: RECHARGE_TABLE.creditKey(id) });
  }

  private async locked(t: Knex.Transaction, id: number): Promise<Record<string, any>> {
    const row = await t('wallet_recharges').where({ id }).forUpdate().first();
    if (!row) throw new NotFoundError('recharge', id);
    return row;
  }

  private async byIdIn(q: Db | Knex.Transaction, id: number): Promise<Recharge> {
    const row = await q('wallet_recharges as w').join('resellers as r', 'r.id', 'w.reseller_id')
      .leftJoin('dashboard_users as ru', 'ru.id', 'w.recorded_by_user_id').leftJoin('dashboard_users as au', 'au.id', 'w.approved_by_user_id')
      .leftJoin('dashboard_users as cu', 'cu.id', 'w.closed_by_user_id')
      .where('w.id', id).first(q.raw(SELECT));
    if (!row) throw new NotFoundError('recharge', id);
    return toRecharge(row);
  }
}

import { randomBytes } from 'node:crypto';
import { recordAudit } from '../audit/audit-log.ts';
import type { BusinessDate } from '../dates.ts';
import { open, seal } from '../crypto/sealed-box.ts';
import type { Db } from '../db/knex.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { accountCode } from '../ledger/accounts.ts';
import { credit, debit, type Ledger } from '../ledger/ledger.ts';
import { assertFen, type Fen } from '../money.ts';
import { assertMay, type Actor } from '../users/actor.ts';

export type ResellerTier = 'default' | 'silver' | 'gold';

export interface Reseller {
  id: number;
  code: string;
  name: string;
  tier: ResellerTier;
  status: 'active' | 'suspended';
  callbackUrl: string | null;
  apiKey: string;
  contact: string;
  /** Below this the wallet is low (the admin page flags it); 0 = no threshold. */
  lowBalanceFen: number;
  /** CIDRs (IPv4/IPv6) the API accepts this reseller's requests from; empty = any address. */
  ipAllowlist: string[];
}

export interface NewReseller {
  code: string;
  name: string;
  tier?: ResellerTier;
  callbackUrl?: string;
  contact?: string;
  lowBalanceFen?: number;
  ipAllowlist?: string[];
}

/** What signature verification needs: the current secret, and the previous one while its overlap window lasts. */
export interface ResellerCredentials {
  reseller: Reseller;
  apiSecret: string;
  previousSecret?: string;
  /** Unix ms: the previous secret is refused from then on. */
  previousSecretUntil?: number;
}

const columns = ['id', 'code', 'name', 'tier', 'status', 'callback_url', 'api_key', 'contact', 'low_balance_fen', 'ip_allowlist'];
export const toReseller = (r: Record<string, any>): Reseller => ({
  id: Number(r.id), code: r.code, name: r.name, tier: r.tier, status: r.status, callbackUrl: r.callback_url, apiKey: r.api_key,
  contact: r.contact ?? '', lowBalanceFen: Number(r.low_balance_fen ?? 0), ipAllowlist: parseInetArray(r.ip_allowlist),
});

/** node-postgres returns inet[] as its text form, e.g. {10.0.0.0/8,::1}. */
export function parseInetArray(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value !== 'string' || value === '{}' || value === '') return [];
  return value.replace(/^\{|\}$/g, '').split(',').map((s) => s.replace(/^"|"$/g, ''));
}

/** Reseller accounts: credentials, tier, callback URL, status, and the prepaid wallet in the ledger. */
export class ResellerRegistry {
  constructor(private readonly db: Db, private readonly ledger: Ledger, private readonly secretKey: Buffer) {}

  /** Creates a reseller and its wallet. The API secret is returned here, once, and never again. */
  async create(input: NewReseller): Promise<{ reseller: Reseller; apiSecret: string }> {
    if (!/^[A-Za-z0-9_-]{2,40}$/.test(input.code)) throw new ValidationError(`reseller code "${input.code}" must be 2-40 letters, digits, _ or -`);
    if (input.callbackUrl !== undefined) assertHttpUrl(input.callbackUrl);
    const apiKey = `rk_${randomBytes(12).toString('hex')}`;
    const apiSecret = randomBytes(32).toString('base64url');
    const reseller = await this.db.transaction(async (trx) => {
      const [row] = await trx('resellers')
        .insert({
          code: input.code, name: input.name, tier: input.tier ?? 'default', callback_url: input.callbackUrl ?? null,
          api_key: apiKey, api_secret_sealed: seal(this.secretKey, apiSecret),
          contact: input.contact ?? '', low_balance_fen: input.lowBalanceFen ?? 0, ip_allowlist: toInetArray(input.ipAllowlist ?? []),
        })
        .returning(columns);
      const created = toReseller(row);
      await this.ledger.openAccount(
        { code: accountCode.resellerWallet(created.id), kind: 'reseller_wallet', name: `${created.name} 钱包 wallet`, ownerType: 'reseller', ownerId: created.id },
        trx,
      );
      return created;
    });
    return { reseller, apiSecret };
  }

  async byId(id: number): Promise<Reseller> {
    const row = await this.db('resellers').where({ id }).first(columns);
    if (!row) throw new NotFoundError('reseller', id);
    return toReseller(row);
  }

  async byCode(code: string): Promise<Reseller> {
    const row = await this.db('resellers').where({ code }).first(columns);
    if (!row) throw new NotFoundError('reseller', code);
    return toReseller(row);
  }

  /** For signature verification only: the reseller and its secret, unsealed. */
  async credentialsFor(apiKey: string): Promise<ResellerCredentials | undefined> {
    const row = await this.db('resellers').where({ api_key: apiKey }).first([...columns, 'api_secret_sealed', 'previous_secret_sealed', 'previous_secret_expires_at']);
    if (!row) return undefined;
    const credentials: ResellerCredentials = { reseller: toReseller(row), apiSecret: open(this.secretKey, row.api_secret_sealed) };
    if (row.previous_secret_sealed) {
      credentials.previousSecret = open(this.secretKey, row.previous_secret_sealed);
      credentials.previousSecretUntil = new Date(row.previous_secret_expires_at).getTime();
    }
    return credentials;
  }

  /** Seals a secret with this registry's key (rotation: src/resellers/admin.ts). */
  sealSecret(secret: string): Buffer {
    return seal(this.secretKey, secret);
  }

  /** Opens a secret sealed by sealSecret (a portal owner's TOTP secret: src/portal/totp.ts). */
  openSecret(sealed: Buffer): string {
    return open(this.secretKey, sealed);
  }

  async list(options: { limit: number; offset: number }): Promise<{ rows: Reseller[]; total: number }> {
    const [rows, counted] = await Promise.all([
      this.db('resellers').orderBy('code').limit(options.limit).offset(options.offset).select(columns),
      this.db('resellers').count<{ count: string }[]>('* as count'),
    ]);
    return { rows: rows.map(toReseller), total: Number(counted[0]?.count ?? 0) };
  }

  async setStatus(id: number, status: Reseller['status']): Promise<void> {
    const updated = await this.db('resellers').where({ id }).update({ status });
    if (!updated) throw new NotFoundError('reseller', id);
  }

  /** A prepaid top-up: money received into platform cash, credited to the wallet. `reference` makes it idempotent. */
  /** `valueDate`: the business day the money arrived, when it is recorded later (a bank statement). */
  async topUpWallet(resellerId: number, amountFen: Fen, reference: string, options: { valueDate?: BusinessDate } = {}): Promise<{ entryId: number; created: boolean }> {
    assertFen(amountFen, 'top-up amount');
    if (amountFen <= 0) throw new ValidationError('a wallet top-up must be a positive amount');
    const posted = await this.ledger.post({
      idempotencyKey: `wallet-topup:${resellerId}:${reference}`,
      kind: 'wallet_topup',
      businessDate: options.valueDate,
      description: `钱包充值 wallet top-up ${reference}`,
      metadata: { resellerId, reference },
      postings: [debit(accountCode.platform('platform_cash'), amountFen), credit(accountCode.resellerWallet(resellerId), amountFen)],
    });
    return { entryId: posted.id, created: posted.created };
  }

  /**
   * Finance corrects a wallet (compensation, a resolved complaint): positive credits the reseller,
   * negative debits it (never below zero). `reference` makes it idempotent; the reason is audited.
   */
  async adjustWallet(input: { resellerId: number; amountFen: Fen; reference: string; reason: string; actor: Actor; businessDate?: BusinessDate }): Promise<{ entryId: number; created: boolean }> {
    assertMay(input.actor, 'settlement');
    assertFen(input.amountFen, 'adjustment amount');
    if (input.amountFen === 0) throw new ValidationError('an adjustment needs a non-zero amount');
    if (!input.reason || input.reason.trim().length < 3) throw new ValidationError('an adjustment needs a reason (at least 3 characters): it goes into the audit log');
    const wallet = accountCode.resellerWallet(input.resellerId);
    const against = accountCode.platform('adjustments');
    const amount = Math.abs(input.amountFen);
    return this.db.transaction(async (trx) => {
      const posted = await this.ledger.post({
        idempotencyKey: `wallet-adjustment:${input.resellerId}:${input.reference}`,
        kind: 'wallet_adjustment',
        businessDate: input.businessDate,
        description: `钱包调整 wallet adjustment ${input.reference}: ${input.reason}`,
        metadata: { resellerId: input.resellerId, reference: input.reference, actor: input.actor.username, actorUserId: input.actor.userId },
        postings: input.amountFen > 0 ? [debit(against, amount), credit(wallet, amount)] : [debit(wallet, amount), credit(against, amount)],
      }, trx);
      if (posted.created) {
        await recordAudit(trx, { actor: input.actor, action: 'wallet.adjust', subjectType: 'reseller', subjectId: input.resellerId, reason: input.reason, details: { amountFen: input.amountFen, reference: input.reference, entryId: posted.id } });
      }
      return { entryId: posted.id, created: posted.created };
    });
  }

  walletBalance(resellerId: number): Promise<Fen> {
    return this.ledger.currentBalance(accountCode.resellerWallet(resellerId));
  }
}

/** An inet[] literal for knex (addresses validated before, by src/resellers/admin.ts). */
export const toInetArray = (cidrs: string[]) => `{${cidrs.join(',')}}`;

function assertHttpUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ValidationError(`callback URL "${url}" is not a URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new ValidationError(`callback URL "${url}" must be http(s)`);
}

import net from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import { refusalReason } from '../callbacks/address-policy.ts';
import type { Db } from '../db/knex.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { assertMay, type Actor } from '../users/actor.ts';
import { toInetArray, toReseller, type Reseller, type ResellerRegistry, type ResellerTier } from './registry.ts';

export const TIERS: ResellerTier[] = ['default', 'silver', 'gold'];

/** Field -> what is wrong with it; thrown as one ValidationError (details.fields) when any. */
export class FieldErrors {
  readonly fields: Record<string, string> = {};
  add(field: string, message: string): void {
    this.fields[field] ??= message;
  }
  throwIfAny(): void {
    const entries = Object.entries(this.fields);
    if (entries.length) throw new ValidationError(entries.map(([f, m]) => `${f}: ${m}`).join('; '), { fields: this.fields });
  }
}

export interface ResellerAdminSettings {
  /** Tests and the demo only: callback URLs on private or loopback addresses. */
  allowPrivateCallbacks: boolean;
  /** How long an old API secret is still accepted after a rotation. */
  secretOverlapMs: number;
}

export interface ResellerForm {
  code: string;
  name: string;
  contact?: string;
  tier?: string;
  callbackUrl?: string;
  /** CIDRs or addresses, comma, space or newline separated (a form field), or a list. */
  ipAllowlist?: string | string[];
  /** Low-balance threshold in fen. */
  lowBalanceFen?: number;
}

/** A callback URL through the SSRF policy: http(s), no credentials, not a private or loopback literal. */
export function callbackUrlProblem(url: string, allowPrivate: boolean): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'not a URL';
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return 'must be http:// or https://';
  if (parsed.username || parsed.password) return 'must not carry a user name or password';
  if (allowPrivate) return undefined;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return 'must not point at this machine (localhost)';
  if (net.isIP(host)) {
    const reason = refusalReason(host);
    if (reason) return `must not point at a private or reserved address (${reason})`;
  }
  return undefined;
}

/** Parses an allowlist: each entry an IPv4/IPv6 address or CIDR. Returns the entries or the problem. */
export function parseAllowlist(input: string | string[] | undefined): { cidrs: string[]; problem?: string } {
  const entries = (Array.isArray(input) ? input : String(input ?? '').split(/[\s,;]+/)).map((e) => e.trim()).filter(Boolean);
  for (const entry of entries) {
    const [address, prefix, extra] = entry.split('/');
    const family = net.isIP(address ?? '');
    if (!family || extra !== undefined) return { cidrs: [], problem: `"${entry}" is not an IPv4/IPv6 address or CIDR` };
    if (prefix !== undefined && (!/^\d{1,3}$/.test(prefix) || Number(prefix) > (family === 4 ? 32 : 128))) {
      return { cidrs: [], problem: `"${entry}": prefix length must be 0-${family === 4 ? 32 : 128}` };
    }
  }
  if (entries.length > 100) return { cidrs: [], problem: 'at most 100 entries' };
  return { cidrs: entries };
}

/** The allowlist as a matcher (empty list: any address). */
export function allowlistMatcher(cidrs: string[]): ((address: string) => boolean) | undefined {
  if (!cidrs.length) return undefined;
  const list = new net.BlockList();
  for (const cidr of cidrs) {
    const [address, prefix] = cidr.split('/') as [string, string | undefined];
    const type = net.isIP(address) === 6 ? 'ipv6' : 'ipv4';
    list.addSubnet(address, prefix === undefined ? (type === 'ipv6' ? 128 : 32) : Number(prefix), type);
  }
  return (raw: string) => {
    let address = raw.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) address = mapped[1]!;
    const family = net.isIP(address);
    if (!family) return false;
    return list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };
}

function validateForm(form: ResellerForm, settings: ResellerAdminSettings, partial: boolean) {
  const errors = new FieldErrors();
  const code = String(form.code ?? '').trim();
  if (!partial && !/^[A-Za-z0-9_-]{2,40}$/.test(code)) errors.add('code', '2-40 letters, digits, _ or -');
  const name = String(form.name ?? '').trim();
  if (!partial || form.name !== undefined) if (name.length < 1 || name.length > 100) errors.add('name', 'required, at most 100 characters');
  const contact = String(form.contact ?? '').trim();
  if (contact.length > 200) errors.add('contact', 'at most 200 characters');
  const tier = (form.tier || 'default') as ResellerTier;
  if (!TIERS.includes(tier)) errors.add('tier', `one of ${TIERS.join(', ')}`);
  const callbackUrl = String(form.callbackUrl ?? '').trim();
  if (callbackUrl) {
    const problem = callbackUrlProblem(callbackUrl, settings.allowPrivateCallbacks);
    if (problem) errors.add('callbackUrl', problem);
  }
  const allow = parseAllowlist(form.ipAllowlist);
  if (allow.problem) errors.add('ipAllowlist', allow.problem);
  const lowBalanceFen = form.lowBalanceFen ?? 0;
  if (!Number.isSafeInteger(lowBalanceFen) || lowBalanceFen < 0) errors.add('lowBalanceFen', 'a whole number of fen, 0 or more');
  errors.throwIfAny();
  return { code, name, contact, tier, callbackUrl: callbackUrl || undefined, ipAllowlist: allow.cidrs, lowBalanceFen };
}

/**
 * Onboarding and running resellers (issue 18): every action by an admin, validated with field
 * errors, audited. The API secret is returned by onboard() and rotateSecret() only, once.
 */
export class ResellerAdmin {
  constructor(private readonly db: Db, private readonly registry: ResellerRegistry, private readonly settings: ResellerAdminSettings) {}

  async onboard(actor: Actor, form: ResellerForm): Promise<{ reseller: Reseller; apiSecret: string }> {
    assertMay(actor, 'resellers');
    const input = validateForm(form, this.settings, false);
    if (await this.db('resellers').where({ code: input.code }).first('id')) {
      const errors = new FieldErrors();
      errors.add('code', `reseller ${input.code} already exists`);
      errors.throwIfAny();
    }
    const created = await this.registry.create(input);
    await recordAudit(this.db, {
      actor, action: 'reseller.onboard', subjectType: 'reseller', subjectId: created.reseller.id, reason: `onboarded ${input.code}`,
      details: { code: input.code, name: input.name, tier: input.tier, callbackUrl: input.callbackUrl ?? null, ipAllowlist: input.ipAllowlist, lowBalanceFen: input.lowBalanceFen },
    });
    return created;
  }

  /** Changes name, contact, tier, callback URL, allowlist or threshold; the audit keeps before and after. */
  async update(actor: Actor, code: string, form: Partial<Omit<ResellerForm, 'code'>>, reason: string): Promise<Reseller> {
    assertMay(actor, 'resellers');
    requireReason(reason);
    const before = await this.registry.byCode(code);
    const input = validateForm({
      code, name: form.name ?? before.name, contact: form.contact ?? before.contact, tier: form.tier ?? before.tier,
      callbackUrl: form.callbackUrl ?? before.callbackUrl ?? '', ipAllowlist: form.ipAllowlist ?? before.ipAllowlist, lowBalanceFen: form.lowBalanceFen ?? before.lowBalanceFen,
    }, this.settings, false);
    return this.db.transaction(async (trx) => {
      const [row] = await trx('resellers').where({ id: before.id }).update({
        name: input.name, contact: input.contact, tier: input.tier, callback_url: input.callbackUrl ?? null,
        ip_allowlist: toInetArray(input.ipAllowlist), low_balance_fen: input.lowBalanceFen,
      }).returning('*');
      const after = toReseller(row);
      const changed = (['name', 'contact', 'tier', 'callbackUrl', 'ipAllowlist', 'lowBalanceFen'] as const)
        .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]))
        .map((k) => ({ field: k, from: before[k], to: after[k] }));
      await recordAudit(trx, { actor, action: 'reseller.update', subjectType: 'reseller', subjectId: before.id, reason, details: { code, changed } });
      return after;
    });
  }

  /**
   * A new API secret, shown once (returned here). The old one is still accepted for the overlap
   * window (default 24 h), so the reseller can deploy the new one without a gap; then never again.
   */
  async rotateSecret(actor: Actor, code: string, reason: string, overlapMs = this.settings.secretOverlapMs): Promise<{ apiKey: string; apiSecret: string; previousValidUntil: Date }> {
    assertMay(actor, 'resellers');
    requireReason(reason);
    return this.rotateSecretAudited(code, overlapMs, (trx, resellerId, until) =>
      recordAudit(trx, { actor, action: 'reseller.rotate_secret', subjectType: 'reseller', subjectId: resellerId, reason, details: { code, previousValidUntil: until.toISOString() } }));
  }

  /**
   * The rotation itself, for a caller that has authorised it and writes its own audit row in the
   * same transaction (the staff admin above; the reseller's owner in the portal, src/portal).
   */
  async rotateSecretAudited(code: string, overlapMs: number, audit: (trx: Knex.Transaction, resellerId: number, previousValidUntil: Date) => Promise<void>): Promise<{ apiKey: string; apiSecret: string; previousValidUntil: Date }> {
    if (!Number.isFinite(overlapMs) || overlapMs < 0) throw new ValidationError('overlap: 0 or more hours', { fields: { overlap: '0 or more hours' } });
    const apiSecret = randomBytes(32).toString('base64url');
    return this.db.transaction(async (trx) => {
      const row = await trx('resellers').where({ code }).forUpdate().first('id', 'api_key', 'api_secret_sealed');
      if (!row) throw new NotFoundError('reseller', code);
      const until = new Date(Date.now() + overlapMs);
      await trx('resellers').where({ id: row.id }).update({
        api_secret_sealed: this.registry.sealSecret(apiSecret), previous_secret_sealed: row.api_secret_sealed,
        previous_secret_expires_at: until, secret_rotated_at: trx.fn.now(),
      });
      await audit(trx, Number(row.id), until);
      return { apiKey: row.api_key, apiSecret, previousValidUntil: until };
    });
  }

  /** Ends the overlap window now: only the current secret is accepted (at most a minute later on every API host). */
  async revokePreviousSecret(actor: Actor, code: string, reason: string): Promise<void> {
    assertMay(actor, 'resellers');
    requireReason(reason);
    await this.revokePreviousSecretAudited(code, (trx, resellerId) =>
      recordAudit(trx, { actor, action: 'reseller.revoke_previous_secret', subjectType: 'reseller', subjectId: resellerId, reason, details: { code } }));
  }

  /** The revocation itself, for a caller that has authorised it and audits it (see rotateSecretAudited). */
  async revokePreviousSecretAudited(code: string, audit: (trx: Knex.Transaction, resellerId: number) => Promise<void>): Promise<void> {
    const reseller = await this.registry.byCode(code);
    await this.db.transaction(async (trx) => {
      await trx('resellers').where({ id: reseller.id }).update({ previous_secret_sealed: null, previous_secret_expires_at: null });
      await audit(trx, reseller.id);
    });
  }

  /** Suspended: every API request answers 403 RESELLER_SUSPENDED until reactivated. */
  async setSuspended(actor: Actor, code: string, suspended: boolean, reason: string): Promise<Reseller> {
    assertMay(actor, 'resellers');
    requireReason(reason);
    return this.db.transaction(async (trx) => {
      const row = await trx('resellers').where({ code }).forUpdate().first('id', 'status');
      if (!row) throw new NotFoundError('reseller', code);
      const status = suspended ? 'suspended' : 'active';
      const [updated] = await trx('resellers').where({ id: row.id }).update({ status, suspended_at: suspended ? trx.fn.now() : null }).returning('*');
      if (row.status !== status) {
        await recordAudit(trx, { actor, action: suspended ? 'reseller.suspend' : 'reseller.reactivate', subjectType: 'reseller', subjectId: row.id, reason, details: { code, from: row.status, to: status } });
      }
      return toReseller(updated);
    });
  }

  /** Resellers with wallet balance, low-balance flag and credential state, for the admin page and the CLI. */
  async overview(options: { limit: number; offset: number }): Promise<{ rows: (Reseller & { balanceFen: number; low: boolean; previousSecretUntil: Date | null; suspendedAt: Date | null })[]; total: number }> {
    const [rows, [count]] = await Promise.all([
      this.db('resellers').orderBy('id', 'desc').limit(options.limit).offset(options.offset).select('*'),
      this.db('resellers').count<{ n: string }[]>('* as n'),
    ]);
    const out = [];
    for (const row of rows) {
      const reseller = toReseller(row);
      const balanceFen = await this.registry.walletBalance(reseller.id);
      out.push({
        ...reseller, balanceFen, low: reseller.lowBalanceFen > 0 && balanceFen < reseller.lowBalanceFen,
        previousSecretUntil: row.previous_secret_expires_at && new Date(row.previous_secret_expires_at) > new Date() ? new Date(row.previous_secret_expires_at) : null,
        suspendedAt: row.suspended_at ? new Date(row.suspended_at) : null,
      });
    }
    return { rows: out, total: Number(count?.n ?? 0) };
  }
}

export function requireReason(reason: string | undefined): void {
  if (!reason || reason.trim().length < 3) throw new ValidationError('a reason is required (at least 3 characters): it goes into the audit log', { fields: { reason: 'at least 3 characters' } });
}

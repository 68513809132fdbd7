import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/knex.ts';
import { KamengError, ValidationError } from '../errors.ts';
import type { ResellerRegistry } from '../resellers/registry.ts';
import { assertOwner, recordPortalAudit, type PortalActor, type PortalSession, type ResellerUsers } from './users.ts';

/** RFC 6238 as every authenticator app reads an otpauth:// URI by default: HMAC-SHA-1, 30 s steps, 6 digits. */
export const TOTP_STEP_SECONDS = 30;
const DIGITS = 6;
/** A code of the step before or after is accepted too (a phone's clock a little off). */
const DRIFT_STEPS = 1;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32, unpadded (what authenticator apps expect in the URI). */
export function base32Encode(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

export function base32Decode(text: string): Buffer {
  const clean = text.replace(/[\s=-]/g, '').toUpperCase();
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of clean) {
    const index = ALPHABET.indexOf(ch);
    if (index < 0) throw new ValidationError(`not base32: "${ch}"`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** RFC 4226 HOTP of one counter value (dynamic truncation), zero-padded to six digits. */
export function hotp(secret: Buffer, counter: number): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', secret).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** DIGITS;
  return String(binary).padStart(DIGITS, '0');
}

export const stepAt = (atMs: number) => Math.floor(atMs / 1000 / TOTP_STEP_SECONDS);
export const totpAt = (secret: Buffer, atMs: number) => hotp(secret, stepAt(atMs));

/** The time step a code belongs to (within the drift), or undefined. Compared in constant time. */
export function matchingStep(secret: Buffer, code: string, atMs: number): number | undefined {
  const given = String(code ?? '').replace(/\s/g, '');
  if (!/^\d{6}$/.test(given)) return undefined;
  const now = stepAt(atMs);
  let found: number | undefined;
  for (let step = now - DRIFT_STEPS; step <= now + DRIFT_STEPS; step++) {
    if (timingSafeEqual(Buffer.from(hotp(secret, step)), Buffer.from(given)) && found === undefined) found = step;
  }
  return found;
}

export function otpauthUri(issuer: string, account: string, secretBase32: string): string {
  const label = encodeURIComponent(`${issuer}:${account}`);
  return `otpauth://totp/${label}?${new URLSearchParams({ secret: secretBase32, issuer, algorithm: 'SHA1', digits: String(DIGITS), period: String(TOTP_STEP_SECONDS) })}`;
}

/** A wrong, malformed or already used code: nothing changes. */
export class TotpCodeError extends KamengError {
  constructor(message = 'the code is wrong, expired or already used: enter the current 6-digit code from your authenticator app') {
    super('TOTP_CODE_WRONG', message);
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Optional two-factor login for a reseller's owners. The secret is sealed with the reseller-secrets
 * key (like API secrets); enrolling shows it and turns it on only once a code from it is entered;
 * every accepted code's time step is remembered, so the same code (or an older one) never works twice.
 */
export class PortalTotp {
  constructor(private readonly db: Db, private readonly registry: ResellerRegistry, private readonly users: ResellerUsers, private readonly now: () => number = Date.now) {}

  async status(actor: PortalActor): Promise<{ on: boolean; pending?: { secret: string; uri: string } }> {
    const row = await this.db('reseller_users').where({ id: actor.resellerUserId, reseller_id: actor.resellerId }).first('totp_secret_sealed', 'totp_pending_sealed');
    if (!row) return { on: false };
    const pending = row.totp_pending_sealed ? this.registry.openSecret(row.totp_pending_sealed) : undefined;
    return { on: row.totp_secret_sealed !== null, pending: pending ? { secret: pending, uri: otpauthUri('Kameng', `${actor.resellerCode}/${actor.username}`, pending) } : undefined };
  }

  /** A new secret to add to the app (replacing an unconfirmed one); not on yet. */
  async start(actor: PortalActor): Promise<void> {
    assertOwner(actor, 'set up two-factor login');
    const current = await this.status(actor);
    if (current.on) throw new ValidationError('two-factor login is already on: turn it off first to enrol a new phone');
    const secret = base32Encode(randomBytes(20));
    await this.db('reseller_users').where({ id: actor.resellerUserId, reseller_id: actor.resellerId }).update({ totp_pending_sealed: this.registry.sealSecret(secret) });
  }

  /** The code proves the app has the secret: two-factor login is on from now. Audited. */
  async confirm(actor: PortalActor, code: string): Promise<void> {
    assertOwner(actor, 'set up two-factor login');
    await this.db.transaction(async (trx) => {
      const row = await trx('reseller_users').where({ id: actor.resellerUserId, reseller_id: actor.resellerId }).forUpdate().first('totp_pending_sealed', 'totp_secret_sealed', 'totp_last_step');
      if (!row?.totp_pending_sealed) throw new ValidationError('start the set-up first: no secret is waiting for a code');
      const step = this.acceptable(this.registry.openSecret(row.totp_pending_sealed), code, row.totp_last_step);
      await trx('reseller_users').where({ id: actor.resellerUserId }).update({ totp_secret_sealed: row.totp_pending_sealed, totp_pending_sealed: null, totp_last_step: step });
      await recordPortalAudit(trx, { actor, action: 'portal.totp_enable', subjectType: 'reseller_user', subjectId: actor.resellerUserId, reason: 'two-factor login turned on in the portal' });
    });
  }

  /** Off again, with a current code (a stolen session alone cannot turn it off). Audited. */
  async disable(actor: PortalActor, code: string): Promise<void> {
    assertOwner(actor, 'turn off two-factor login');
    await this.db.transaction(async (trx) => {
      const row = await trx('reseller_users').where({ id: actor.resellerUserId, reseller_id: actor.resellerId }).forUpdate().first('totp_secret_sealed', 'totp_last_step');
      if (!row?.totp_secret_sealed) throw new ValidationError('two-factor login is not on');
      const step = this.acceptable(this.registry.openSecret(row.totp_secret_sealed), code, row.totp_last_step);
      await trx('reseller_users').where({ id: actor.resellerUserId }).update({ totp_secret_sealed: null, totp_pending_sealed: null, totp_last_step: step });
      await recordPortalAudit(trx, { actor, action: 'portal.totp_disable', subjectType: 'reseller_user', subjectId: actor.resellerUserId, reason: 'two-factor login turned off in the portal' });
    });
  }

  /** Whose password step a token is (unexpired, still waiting for the code), for the throttle's keys. */
  async pendingUsername(pendingToken: string | undefined): Promise<string | undefined> {
    if (!pendingToken || typeof pendingToken !== 'string') return undefined;
    const row = await this.db('portal_sessions as s').join('reseller_users as u', 'u.id', 's.reseller_user_id')
      .where({ 's.token_sha256': sha256(pendingToken), 's.second_factor_pending': true, 'u.disabled': false }).where('s.expires_at', '>', new Date()).first('u.username');
    return row?.username;
  }

  /**
   * The login's second step: the password step's token and a code. A right code ends the waiting
   * row and opens a new session (a new token); a wrong one changes nothing. Throws TotpCodeError.
   */
  async completeLogin(pendingToken: string | undefined, code: string): Promise<{ token: string; session: PortalSession }> {
    if (!pendingToken || typeof pendingToken !== 'string') throw new TotpCodeError('the password step has expired: log in again');
    const userId = await this.db.transaction(async (trx) => {
      const row = await trx('portal_sessions as s').join('reseller_users as u', 'u.id', 's.reseller_user_id')
        .where({ 's.token_sha256': sha256(pendingToken), 's.second_factor_pending': true, 'u.disabled': false }).where('s.expires_at', '>', new Date())
        .forUpdate('u').first('u.id', 'u.totp_secret_sealed', 'u.totp_last_step');
      if (!row?.totp_secret_sealed) throw new TotpCodeError('the password step has expired: log in again');
      const step = this.acceptable(this.registry.openSecret(row.totp_secret_sealed), code, row.totp_last_step);
      await trx('reseller_users').where({ id: row.id }).update({ totp_last_step: step });
      await trx('portal_sessions').where({ token_sha256: sha256(pendingToken) }).delete();
      return Number(row.id);
    });
    return this.users.openSession(userId, { secondFactor: true });
  }

  /** The step of a right code newer than the last one accepted; throws otherwise. */
  private acceptable(secretBase32: string, code: string, lastStep: string | number | null): number {
    const step = matchingStep(base32Decode(secretBase32), code, this.now());
    if (step === undefined || (lastStep !== null && step <= Number(lastStep))) throw new TotpCodeError();
    return step;
  }
}

import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import type { Db } from '../db/knex.ts';
import { KamengError, NotFoundError, ValidationError } from '../errors.ts';
import { assertMay, may, type Actor } from '../users/actor.ts';
import { LoginFailedError, hashPassword, passwordMatches } from '../users/users.ts';

/** A reseller's own people: the owner (keys, users) and staff (orders, statements, analysis). */
export type PortalRole = 'owner' | 'staff';
export const PORTAL_ROLES: PortalRole[] = ['owner', 'staff'];

/** Who acts in the portal: a reseller user, always of one reseller (every query is scoped by resellerId). */
export interface PortalActor {
  resellerUserId: number;
  username: string;
  role: PortalRole;
  resellerId: number;
  resellerCode: string;
  resellerName: string;
  displayName: string;
  /** Set when a staff user opens the reseller's portal read-only for support: audited as that staff user, and every POST is refused. */
  supportBy?: Actor;
}

export interface PortalSession {
  user: PortalActor;
  csrfToken: string;
}

export const PORTAL_SESSION_HOURS = 12;
/** How long the password step of a two-factor login waits for the code. */
export const SECOND_FACTOR_MINUTES = 5;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
/** Hashed for an unknown username too, so timing does not say which usernames exist. */
const NO_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

/** A portal action the reseller's role does not allow (staff rotating keys): 403. */
export class PortalForbiddenError extends KamengError {
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
}

export function assertOwner(actor: PortalActor, what: string): void {
  if (actor.supportBy) throw new PortalForbiddenError(`the support view is read-only: ${actor.supportBy.username} may not ${what}`);
  if (actor.role !== 'owner') throw new PortalForbiddenError(`only the reseller's owner may ${what}; you are staff`);
}

/**
 * An audit row naming the reseller user (audit_log.actor_reseller_user_id; the text actor is
 * `portal:<username>`). Every reseller-side action writes one, like staff actions.
 */
export async function recordPortalAudit(q: Db | Knex.Transaction, entry: { actor: PortalActor; action: string; subjectType: string; subjectId: number | string; reason: string; details?: Record<string, unknown> }): Promise<void> {
  if (entry.actor.supportBy) {
    await recordAudit(q, { actor: entry.actor.supportBy, action: entry.action, subjectType: entry.subjectType, subjectId: entry.subjectId, reason: `${entry.reason} (support view)`,
      details: { resellerId: entry.actor.resellerId, resellerCode: entry.actor.resellerCode, supportView: true, ...(entry.details ?? {}) } });
    return;
  }
  await q('audit_log').insert({
    actor: `portal:${entry.actor.username}`, actor_user_id: null, actor_reseller_user_id: entry.actor.resellerUserId,
    action: entry.action, subject_type: entry.subjectType, subject_id: String(entry.subjectId), reason: entry.reason,
    details: JSON.stringify({ resellerId: entry.actor.resellerId, resellerCode: entry.actor.resellerCode, ...(entry.details ?? {}) }),
  });
}

interface NewUser {
  username: string;
  displayName?: string;
  role: PortalRole;
  password: string;
}

function validate(input: NewUser): { username: string; displayName: string; role: PortalRole; password: string } {
  const fields: Record<string, string> = {};
  const username = String(input.username ?? '').trim().toLowerCase();
  if (!/^[a-z0-9._-]{2,40}$/.test(username)) fields.username = '2-40 lower-case letters, digits, ".", "_" or "-"';
  if (!PORTAL_ROLES.includes(input.role)) fields.role = `one of ${PORTAL_ROLES.join(', ')}`;
  if (typeof input.password !== 'string' || input.password.length < 10) fields.password = 'at least 10 characters';
  const displayName = String(input.displayName ?? '').trim() || username;
  if (displayName.length > 100) fields.displayName = 'at most 100 characters';
  if (Object.keys(fields).length) throw new ValidationError(Object.entries(fields).map(([f, m]) => `${f}: ${m}`).join('; '), { fields });
  return { username, displayName, role: input.role, password: input.password };
}

const SELECT = ['u.id', 'u.username', 'u.display_name', 'u.role', 'u.reseller_id', 'r.code as reseller_code', 'r.name as reseller_name'];
const toActor = (row: Record<string, any>): PortalActor => ({
  resellerUserId: Number(row.id), username: row.username, displayName: row.display_name, role: row.role,
  resellerId: Number(row.reseller_id), resellerCode: row.reseller_code, resellerName: row.reseller_name,
});

/** Reseller users, their passwords and portal sessions (table portal_sessions, cookie kameng_portal). */
export class ResellerUsers {
  constructor(private readonly db: Db) {}

  /** At onboarding or later by staff with the `resellers` permission (an admin): audited as the staff user. */
  async createByStaff(actor: Actor, resellerCode: string, input: NewUser): Promise<PortalActor> {
    assertMay(actor, 'resellers');
    const reseller = await this.db('resellers').where({ code: resellerCode }).first('id');
    if (!reseller) throw new NotFoundError('reseller', resellerCode);
    return this.db.transaction(async (trx) => {
      const created = await this.insert(trx, Number(reseller.id), input);
      await recordAudit(trx, { actor, action: 'portal_user.create', subjectType: 'reseller_user', subjectId: created.resellerUserId, reason: `portal login for ${resellerCode}`, details: { resellerCode, username: created.username, role: created.role } });
      return created;
    });
  }

  /** The owner adds a login for its own reseller (never another's): audited as the owner. */
  async createByOwner(owner: PortalActor, input: NewUser): Promise<PortalActor> {
    assertOwner(owner, 'add users');
    return this.db.transaction(async (trx) => {
      const created = await this.insert(trx, owner.resellerId, input);
      await recordPortalAudit(trx, { actor: owner, action: 'portal_user.create', subjectType: 'reseller_user', subjectId: created.resellerUserId, reason: 'added by the owner', details: { username: created.username, role: created.role } });
      return created;
    });
  }

  async listOf(resellerId: number): Promise<{ id: number; username: string; displayName: string; role: PortalRole; disabled: boolean }[]> {
    const rows = await this.db('reseller_users').where({ reseller_id: resellerId }).orderBy('id').select('id', 'username', 'display_name', 'role', 'disabled');
    return rows.map((r) => ({ id: Number(r.id), username: r.username, displayName: r.display_name, role: r.role, disabled: r.disabled }));
  }

  private async insert(trx: Knex.Transaction, resellerId: number, input: NewUser): Promise<PortalActor> {
    const user = validate(input);
    if (await trx('reseller_users').where({ username: user.username }).first('id')) {
      throw new ValidationError(`username: ${user.username} is taken`, { fields: { username: 'taken' } });
    }
    const [row] = await trx('reseller_users').insert({
      reseller_id: resellerId, username: user.username, display_name: user.displayName, role: user.role, password_hash: await hashPassword(user.password),
    }).returning('id');
    return toActor(await trx('reseller_users as u').join('resellers as r', 'r.id', 'u.reseller_id').where('u.id', row.id).first(SELECT));
  }

  /**
   * Checks the password and opens a session; returns the cookie token (kept only hashed). A suspended reseller's users still log in (to read why).
   * An owner with two-factor login on gets a token that waits SECOND_FACTOR_MINUTES for the code instead (secondFactor: src/portal/totp.ts).
   */
  async login(username: string, password: string): Promise<{ token: string; session: PortalSession; secondFactor?: true }> {
    const row = await this.db('reseller_users as u').join('resellers as r', 'r.id', 'u.reseller_id')
      .where({ 'u.username': String(username ?? '').trim().toLowerCase(), 'u.disabled': false }).first([...SELECT, 'u.password_hash', 'u.totp_secret_sealed']);
    const ok = await passwordMatches(String(password ?? ''), row?.password_hash ?? NO_HASH);
    if (!row || !ok) throw new LoginFailedError();
    if (row.totp_secret_sealed) {
      const token = randomBytes(32).toString('base64url');
      await this.db('portal_sessions').insert({ token_sha256: sha256(token), reseller_user_id: row.id, csrf_token: randomBytes(24).toString('base64url'), second_factor_pending: true, expires_at: new Date(Date.now() + SECOND_FACTOR_MINUTES * 60_000) });
      return { token, session: { user: toActor(row), csrfToken: '' }, secondFactor: true };
    }
    return this.openSession(Number(row.id));
  }

  /** A new session for a user whose login is complete (password, and the code when two-factor is on): audited as the login. */
  async openSession(resellerUserId: number, details: Record<string, unknown> = {}): Promise<{ token: string; session: PortalSession }> {
    const row = await this.db('reseller_users as u').join('resellers as r', 'r.id', 'u.reseller_id').where({ 'u.id': resellerUserId, 'u.disabled': false }).first(SELECT);
    if (!row) throw new LoginFailedError();
    const token = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(24).toString('base64url');
    await this.db('portal_sessions').insert({ token_sha256: sha256(token), reseller_user_id: row.id, csrf_token: csrfToken, expires_at: new Date(Date.now() + PORTAL_SESSION_HOURS * 3600_000) });
    await this.db('portal_sessions').where('expires_at', '<', new Date()).delete();
    const session = { user: toActor(row), csrfToken };
    await recordPortalAudit(this.db, { actor: session.user, action: 'portal.login', subjectType: 'reseller_user', subjectId: session.user.resellerUserId, reason: 'logged in to the portal', details });
    return { token, session };
  }

  /** The session of a cookie: unexpired, its user active now (disabling a user ends their sessions at once). */
  async session(token: string | undefined): Promise<PortalSession | undefined> {
    if (!token || typeof token !== 'string') return undefined;
    const row = await this.db('portal_sessions as s').join('reseller_users as u', 'u.id', 's.reseller_user_id').join('resellers as r', 'r.id', 'u.reseller_id')
      .where('s.token_sha256', sha256(token)).where('s.expires_at', '>', new Date()).where('u.disabled', false).where('s.second_factor_pending', false)
      .first([...SELECT, 's.csrf_token']);
    return row && { user: toActor(row), csrfToken: row.csrf_token };
  }

  /**
   * A staff user's read-only view of a reseller's portal, for support: ops, finance or an admin
   * (a viewer may not), audited as that staff user. Answers undefined (a 404 for the caller) otherwise.
   */
  async supportSession(staff: Actor | undefined, resellerCode: string): Promise<PortalSession | undefined> {
    if (!staff || !(may(staff.role, 'fulfillment') || may(staff.role, 'recharges'))) return undefined;
    const r = await this.db('resellers').where({ code: resellerCode }).first('id', 'code', 'name');
    if (!r) return undefined;
    return {
      user: { resellerUserId: 0, username: staff.username, displayName: staff.username, role: 'staff', resellerId: Number(r.id), resellerCode: r.code, resellerName: r.name, supportBy: staff },
      csrfToken: '',
    };
  }

  async logout(token: string | undefined): Promise<void> {
    if (token && typeof token === 'string') await this.db('portal_sessions').where({ token_sha256: sha256(token) }).delete();
  }
}

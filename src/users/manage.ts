import { recordAudit } from '../audit/audit-log.ts';
import type { Db } from '../db/knex.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { randomBytes } from 'node:crypto';
import { assertMay, type Actor } from './actor.ts';
import { ROLES, Users, type Role } from './users.ts';

/**
 * An admin disables (or enables again) a user. Disabling ends every session of theirs at once,
 * dashboard and CLI; the resolver refuses a disabled user's token in any case.
 */
export async function setUserDisabled(db: Db, actor: Actor, input: { username: string; disabled: boolean; reason: string }): Promise<void> {
  assertMay(actor, 'users');
  if (input.disabled && input.username === actor.username) throw new ValidationError('you cannot disable yourself; ask another admin');
  if (!input.reason || input.reason.trim().length < 3) throw new ValidationError('a reason is required (at least 3 characters): it goes into the audit log');
  await db.transaction(async (trx) => {
    const user = await trx('dashboard_users').where({ username: input.username }).forUpdate().first('id', 'disabled');
    if (!user) throw new NotFoundError('user', input.username);
    if (user.disabled === input.disabled) return;
    await trx('dashboard_users').where({ id: user.id }).update({ disabled: input.disabled });
    if (input.disabled) await trx('dashboard_sessions').where({ user_id: user.id }).delete();
    await recordAudit(trx, { actor, action: input.disabled ? 'user.disable' : 'user.enable', subjectType: 'user', subjectId: input.username, reason: input.reason });
  });
}

export interface UserRow { id: number; username: string; displayName: string; role: Role; disabled: boolean; createdAt: Date | null; sessions: number }

/** Every user with role, state and open sessions (dashboard and CLI), for an admin. */
export async function listUsers(db: Db, actor: Actor): Promise<UserRow[]> {
  assertMay(actor, 'users');
  const rows = await db('dashboard_users as u').orderBy('u.username').select('u.*', db.raw(
    `(SELECT count(*) FROM dashboard_sessions s WHERE s.user_id = u.id AND s.expires_at > now())::int AS sessions`,
  ));
  return rows.map((r) => ({ id: Number(r.id), username: r.username, displayName: r.display_name, role: r.role, disabled: r.disabled, createdAt: r.created_at ?? null, sessions: r.sessions }));
}

/**
 * An admin sets a user's new password (returned once, to hand over); their sessions end at once,
 * so whoever held the old one is out.
 */
export async function resetPassword(db: Db, actor: Actor, input: { username: string; password?: string; reason: string }): Promise<{ password: string }> {
  assertMay(actor, 'users');
  requireReason(input.reason);
  const password = input.password ?? randomBytes(12).toString('base64url');
  const user = await db('dashboard_users').where({ username: input.username }).first('id', 'role', 'display_name');
  if (!user) throw new NotFoundError('user', input.username);
  await new Users(db).upsert({ username: input.username, displayName: user.display_name, role: user.role, password });
  await db.transaction(async (trx) => {
    await trx('dashboard_sessions').where({ user_id: user.id }).delete();
    await recordAudit(trx, { actor, action: 'user.reset_password', subjectType: 'user', subjectId: input.username, reason: input.reason, details: { userId: Number(user.id) } });
  });
  return { password };
}

/** An admin changes a user's role; it applies to their open sessions at once (every request reads it). */
export async function setRole(db: Db, actor: Actor, input: { username: string; role: string; reason: string }): Promise<void> {
  assertMay(actor, 'users');
  requireReason(input.reason);
  if (!ROLES.includes(input.role as Role)) throw new ValidationError(`role must be one of ${ROLES.join(', ')}`, { fields: { role: `one of ${ROLES.join(', ')}` } });
  if (input.username === actor.username && input.role !== 'admin') throw new ValidationError('you cannot take away your own admin role; ask another admin', { fields: { role: 'not your own' } });
  await db.transaction(async (trx) => {
    const user = await trx('dashboard_users').where({ username: input.username }).forUpdate().first('id', 'role');
    if (!user) throw new NotFoundError('user', input.username);
    if (user.role === input.role) return;
    await trx('dashboard_users').where({ id: user.id }).update({ role: input.role });
    await recordAudit(trx, { actor, action: 'user.set_role', subjectType: 'user', subjectId: input.username, reason: input.reason, details: { from: user.role, to: input.role } });
  });
}

function requireReason(reason: string | undefined): void {
  if (!reason || reason.trim().length < 3) throw new ValidationError('a reason is required (at least 3 characters): it goes into the audit log', { fields: { reason: 'at least 3 characters' } });
}

import { recordAudit } from '../audit/audit-log.ts';
import type { Db } from '../db/knex.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { assertMay, type Actor } from './actor.ts';

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

import type { Db } from '../db/knex.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { assertOwner, recordPortalAudit, type PortalActor } from './users.ts';

/**
 * The owner disables (or re-enables) one of its own reseller's logins: a disabled user cannot log
 * in, and its open sessions end at once (deleted here; every request also reads `disabled`).
 * Audited as the owner. Another reseller's user is "not found"; an owner never disables itself.
 */
export async function setResellerUserDisabled(db: Db, owner: PortalActor, userId: number, disabled: boolean): Promise<void> {
  assertOwner(owner, disabled ? 'disable users' : 'enable users');
  if (userId === owner.resellerUserId) throw new ValidationError('user: you cannot disable or enable yourself', { fields: { user: 'yourself' } });
  await db.transaction(async (trx) => {
    const user = await trx('reseller_users').where({ id: userId, reseller_id: owner.resellerId }).forUpdate().first('id', 'username', 'disabled');
    if (!user) throw new NotFoundError('reseller user', userId);
    if (user.disabled === disabled) return;
    await trx('reseller_users').where({ id: userId }).update({ disabled });
    if (disabled) await trx('portal_sessions').where({ reseller_user_id: userId }).delete();
    await recordPortalAudit(trx, {
      actor: owner, action: disabled ? 'portal_user.disable' : 'portal_user.enable', subjectType: 'reseller_user', subjectId: userId,
      reason: disabled ? 'disabled by the owner' : 're-enabled by the owner', details: { username: user.username },
    });
  });
}

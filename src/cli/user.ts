import { randomBytes } from 'node:crypto';
import { recordAudit } from '../audit/audit-log.ts';
import { ValidationError } from '../errors.ts';
import { assertMay } from '../users/actor.ts';
import { setUserDisabled } from '../users/manage.ts';
import { ROLES, Users, type Role } from '../users/users.ts';
import { cliActor, withActor, withCli } from './context.ts';

/**
 * `kameng user add --username U --role R [--password P] [--name N]`: a user (or a password reset);
 * `kameng user disable|enable --username U --reason R`. An admin does this, logged in; while no
 * admin is active (a fresh install, or every admin disabled) `add` works without one, to let one in.
 */
export async function userCommand(action: string, options: { username: string; role?: string; password?: string; name?: string; reason?: string }): Promise<void> {
  if (action === 'disable' || action === 'enable') {
    await withActor('users', async (ctx, actor) => {
      await setUserDisabled(ctx.db, actor, { username: options.username, disabled: action === 'disable', reason: options.reason ?? '' });
      console.log(`user ${options.username} ${action}d${action === 'disable' ? ': their sessions have ended' : ''}`);
    });
    return;
  }
  if (action !== 'add') throw new ValidationError(`unknown action "${action}": add, disable or enable`);
  if (!ROLES.includes(options.role as Role)) throw new ValidationError(`--role must be one of ${ROLES.join(', ')}`);
  const password = options.password ?? randomBytes(9).toString('base64url');
  await withCli(async (ctx) => {
    const admins = await ctx.db('dashboard_users').where({ role: 'admin', disabled: false }).first('id');
    const actor = admins ? assertMay(await cliActor(ctx), 'users') : undefined;
    const user = await new Users(ctx.db).upsert({ username: options.username, displayName: options.name, role: options.role as Role, password });
    if (actor) await recordAudit(ctx.db, { actor, action: 'user.save', subjectType: 'user', subjectId: user.username, reason: `role ${user.role}`, details: { userId: user.id } });
    console.log(`user ${user.username} (${user.role}) saved${options.password ? '' : `; password: ${password} (shown once)`}`);
  });
}

import { randomBytes } from 'node:crypto';
import { recordAudit } from '../audit/audit-log.ts';
import { ValidationError } from '../errors.ts';
import { assertMay } from '../users/actor.ts';
import Table from 'cli-table3';
import { listUsers, resetPassword, setRole, setUserDisabled } from '../users/manage.ts';
import { ROLES, Users, type Role } from '../users/users.ts';
import { cliActor, withActor, withCli } from './context.ts';

/**
 * `kameng user add --username U --role R [--password P] [--name N]`: a user (or a password reset);
 * `kameng user disable|enable --username U --reason R`. An admin does this, logged in; while no
 * admin is active (a fresh install, or every admin disabled) `add` works without one, to let one in.
 */
export async function userCommand(action: string, options: { username?: string; role?: string; password?: string; name?: string; reason?: string }): Promise<void> {
  if (action === 'list') {
    await withActor('users', async (ctx, actor) => {
      const table = new Table({ head: ['用户 user', '名称 name', '角色 role', '状态 state', '会话 sessions'] });
      for (const u of await listUsers(ctx.db, actor)) table.push([u.username, u.displayName, u.role, u.disabled ? '停用 disabled' : '启用 active', u.sessions]);
      console.log(table.toString());
    });
    return;
  }
  if (!options.username) throw new ValidationError('--username is required');
  const username = options.username;
  if (action === 'reset-password') {
    await withActor('users', async (ctx, actor) => {
      const { password } = await resetPassword(ctx.db, actor, { username, password: options.password, reason: options.reason ?? '' });
      console.log(`user ${username}: password reset, their sessions have ended${options.password ? '' : `; new password: ${password} (shown once)`}`);
    });
    return;
  }
  if (action === 'set-role') {
    await withActor('users', async (ctx, actor) => {
      await setRole(ctx.db, actor, { username, role: options.role ?? '', reason: options.reason ?? '' });
      console.log(`user ${username} is now ${options.role} (at once, in their open sessions too)`);
    });
    return;
  }
  if (action === 'disable' || action === 'enable') {
    await withActor('users', async (ctx, actor) => {
      await setUserDisabled(ctx.db, actor, { username, disabled: action === 'disable', reason: options.reason ?? '' });
      console.log(`user ${options.username} ${action}d${action === 'disable' ? ': their sessions have ended' : ''}`);
    });
    return;
  }
  if (action !== 'add') throw new ValidationError(`unknown action "${action}": add, disable, enable, list, reset-password or set-role`);
  if (!ROLES.includes(options.role as Role)) throw new ValidationError(`--role must be one of ${ROLES.join(', ')}`);
  const password = options.password ?? randomBytes(9).toString('base64url');
  await withCli(async (ctx) => {
    const admins = await ctx.db('dashboard_users').where({ role: 'admin', disabled: false }).first('id');
    const actor = admins ? assertMay(await cliActor(ctx), 'users') : undefined;
    const user = await new Users(ctx.db).upsert({ username, displayName: options.name, role: options.role as Role, password });
    if (actor) await recordAudit(ctx.db, { actor, action: 'user.save', subjectType: 'user', subjectId: user.username, reason: `role ${user.role}`, details: { userId: user.id } });
    console.log(`user ${user.username} (${user.role}) saved${options.password ? '' : `; password: ${password} (shown once)`}`);
  });
}

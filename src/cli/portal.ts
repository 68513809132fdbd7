import { randomBytes } from 'node:crypto';
import Table from 'cli-table3';
import type { Command } from 'commander';
import { ValidationError } from '../errors.ts';
import { PORTAL_ROLES, ResellerUsers, type PortalRole } from '../portal/users.ts';
import { withActor } from './context.ts';

interface PortalUserOptions { reseller?: string; username?: string; role?: string; name?: string; password?: string }

/** `kameng portal-user add|list`: reseller logins for the portal (/portal), created by an admin at onboarding; the owner adds more in the portal. */
async function portalUserCommand(action: string, o: PortalUserOptions): Promise<void> {
  const need = (value: string | undefined, flag: string) => {
    if (!value) throw new ValidationError(`${flag} is required for \`kameng portal-user ${action}\``);
    return value;
  };
  await withActor('resellers', async (ctx, actor) => {
    const users = new ResellerUsers(ctx.db);
    if (action === 'add') {
      const role = (o.role ?? 'owner') as PortalRole;
      if (!PORTAL_ROLES.includes(role)) throw new ValidationError(`--role: one of ${PORTAL_ROLES.join(', ')}`);
      const password = o.password ?? randomBytes(12).toString('base64url');
      const created = await users.createByStaff(actor, need(o.reseller, '--reseller'), { username: need(o.username, '--username'), role, displayName: o.name, password });
      console.log(`门户账号 portal user ${created.username} (${created.role}) of ${created.resellerCode} created`);
      if (!o.password) console.log(`password: ${password}   (shown once: hand it to the reseller; they log in at /portal/login)`);
      return;
    }
    if (action === 'list') {
      const reseller = await ctx.deps.resellers.byCode(need(o.reseller, '--reseller'));
      const table = new Table({ head: ['用户名 username', '显示名 name', '角色 role', '停用 disabled'] });
      for (const u of await users.listOf(reseller.id)) table.push([u.username, u.displayName, u.role, u.disabled ? 'yes' : '']);
      console.log(table.toString());
      return;
    }
    throw new ValidationError(`unknown action "${action}": add or list`);
  });
}

export function registerPortalCommands(program: Command): void {
  program
    .command('portal-user')
    .description('Reseller portal logins (an admin, logged in): add --reseller CODE --username U [--role owner|staff] [--name N] [--password P] (default: generated and shown once) | list --reseller CODE')
    .argument('<action>', 'add or list')
    .option('--reseller <code>', 'the reseller the login belongs to')
    .option('--username <name>', 'login name (2-40 lower-case letters, digits, ".", "_" or "-")')
    .option('--role <role>', 'owner (keys, users) or staff (orders, statements, analysis)', 'owner')
    .option('--name <display name>', 'shown in the portal')
    .option('--password <p>', 'at least 10 characters (default: generated and shown once)')
    .action(portalUserCommand);
}

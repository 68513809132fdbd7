import { randomBytes } from 'node:crypto';
import { ValidationError } from '../errors.ts';
import { ROLES, Users, type Role } from '../users/users.ts';
import { withCli } from './context.ts';

/** `kameng user add --username U --role R [--password P] [--name N]`: a dashboard user (or a password reset). */
export async function userCommand(action: string, options: { username: string; role: string; password?: string; name?: string }): Promise<void> {
  if (action !== 'add') throw new ValidationError(`unknown action "${action}": add`);
  if (!ROLES.includes(options.role as Role)) throw new ValidationError(`--role must be one of ${ROLES.join(', ')}`);
  const password = options.password ?? randomBytes(9).toString('base64url');
  await withCli(async (ctx) => {
    const user = await new Users(ctx.db).upsert({ username: options.username, displayName: options.name, role: options.role as Role, password });
    console.log(`user ${user.username} (${user.role}) saved${options.password ? '' : `; password: ${password} (shown once)`}`);
  });
}

import { loadConfig } from '../config.ts';
import { createDb } from '../db/knex.ts';
import { APP_ROLE, applyAppGrants, excessPrivileges, OWNER_ROLE, rolesSetupSql, roleOf } from '../db/roles.ts';
import { ValidationError } from '../errors.ts';
import { runningDatabase } from '../runtime/infrastructure.ts';

/**
 * `kameng db roles --print | --apply`: the owner and application roles (src/db/roles.ts). --print
 * writes the SQL a DBA runs for a DATABASE_URL deployment; --apply re-applies the application's
 * grants as the owner (DATABASE_OWNER_URL, or the embedded superuser) and checks the result.
 */
export async function dbRolesCommand(options: { print?: boolean; apply?: boolean; appRole?: string; ownerRole?: string; database?: string }): Promise<void> {
  if (Boolean(options.print) === Boolean(options.apply)) throw new ValidationError('say --print or --apply');
  const config = loadConfig();
  if (options.print) {
    const database = options.database ?? (config.database.url ? decodeURIComponent(new URL(config.database.url).pathname.slice(1)) : 'kameng');
    const appRole = options.appRole ?? (config.database.url && config.database.ownerUrl ? roleOf(config.database.url) : APP_ROLE);
    const ownerRole = options.ownerRole ?? (config.database.ownerUrl ? roleOf(config.database.ownerUrl) : OWNER_ROLE);
    process.stdout.write(rolesSetupSql({ database, appRole, ownerRole }));
    return;
  }
  const { url, ownerUrl } = await runningDatabase(config);
  if (!ownerUrl) throw new ValidationError('--apply connects as the owner of the schema: set DATABASE_OWNER_URL (DATABASE_URL is the application\'s)');
  const appRole = options.appRole ?? roleOf(url);
  const owner = createDb(ownerUrl, { poolMax: 1, applicationName: 'kameng-cli' });
  try {
    await applyAppGrants(owner, appRole);
  } finally {
    await owner.destroy();
  }
  console.log(`grants applied to ${appRole} as ${roleOf(ownerUrl)}`);
  const app = createDb(url, { poolMax: 1, applicationName: 'kameng-cli' });
  try {
    const problems = await excessPrivileges(app);
    for (const p of problems) console.log(`WARNING: ${p}`);
    if (problems.length > 0) process.exitCode = 1;
  } finally {
    await app.destroy();
  }
}

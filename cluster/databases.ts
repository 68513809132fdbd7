import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { ensureAppRole } from '../src/db/roles.ts';
import { KamengError } from '../src/errors.ts';
import { dropDatabase, ensureDatabase } from '../src/runtime/embedded-postgres.ts';
import { databaseUrl, type ClusterPlan } from './plan.ts';

const execFileAsync = promisify(execFile);

export class ClusterDatabaseError extends KamengError {
  constructor(message: string) {
    super('CLUSTER_DATABASE', message);
  }
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

async function withAdmin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (err) {
    throw new ClusterDatabaseError(`cannot reach PostgreSQL at ${new URL(url).host} (DATABASE_URL): ${(err as Error).message}`);
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Kameng's database (its schema owned by the admin role, the application role created for it; the
 * migrations run in `kameng start`), and Temporal's two databases owned by a role of their own, with
 * their schema set up or updated by Temporal's own SQL tool.
 */
export async function prepareDatabases(plan: ClusterPlan, sqlTool: string, log: (line: string) => void): Promise<void> {
  await withAdmin(plan.adminUrl, async (admin) => {
    await ensureAppRole(admin, plan.appRole.name, plan.appRole.password);
    await ensureAppRole(admin, plan.temporalRole.name, plan.temporalRole.password);
  });
  await ensureDatabase(plan.adminUrl, plan.databases.kameng);
  for (const database of [plan.databases.temporal, plan.databases.visibility]) {
    await withAdmin(plan.adminUrl, async (admin) => {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      await admin.query(exists.rowCount
        ? `ALTER DATABASE ${quoteIdent(database)} OWNER TO ${quoteIdent(plan.temporalRole.name)}`
        : `CREATE DATABASE ${quoteIdent(database)} OWNER ${quoteIdent(plan.temporalRole.name)}`);
    });
    // the role is NOINHERIT (as Kameng's own), so owning the database does not reach its public schema
    await withAdmin(databaseUrl(plan, database), (admin) => admin.query(`ALTER SCHEMA public OWNER TO ${quoteIdent(plan.temporalRole.name)}`));
  }
  await temporalSchema(plan, sqlTool, plan.databases.temporal, 'postgresql/v12/temporal', log);
  await temporalSchema(plan, sqlTool, plan.databases.visibility, 'postgresql/v12/visibility', log);
}

async function temporalSchema(plan: ClusterPlan, sqlTool: string, database: string, schemaName: string, log: (line: string) => void): Promise<void> {
  const url = new URL(databaseUrl(plan, database));
  const versioned = await withAdmin(databaseUrl(plan, database), async (c) =>
    (await c.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'schema_version'")).rowCount === 1);
  const run = async (args: string[]) => {
    const common = ['--plugin', 'postgres12', '--endpoint', url.hostname, '--port', url.port || '5432', '--user', plan.temporalRole.name, '--database', database];
    try {
      // the password through the environment, not the process list
      await execFileAsync(sqlTool, [...common, ...args], { env: { ...process.env, SQL_PASSWORD: plan.temporalRole.password } });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new ClusterDatabaseError(`temporal-sql-tool ${args[0]} on ${database}: ${(e.stderr || e.stdout || e.message).slice(-2000)}`);
    }
  };
  if (!versioned) await run(['setup-schema', '--version', '0.0']);
  await run(['update-schema', '--schema-name', schemaName]);
  const { rows } = await withAdmin(databaseUrl(plan, database), (c) => c.query('SELECT curr_version FROM schema_version'));
  log(`${database}: Temporal schema ${schemaName} at version ${rows[0]?.curr_version ?? '?'}`);
}

/** `down --drop`: the databases and roles of a cluster, gone (a chaos run cleans up after itself). */
export async function dropDatabases(plan: ClusterPlan): Promise<void> {
  for (const database of Object.values(plan.databases)) await dropDatabase(plan.adminUrl, database);
  await withAdmin(plan.adminUrl, async (admin) => {
    for (const role of [plan.appRole.name, plan.temporalRole.name]) await admin.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`);
  });
}

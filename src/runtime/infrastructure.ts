import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import type { AppConfig } from '../config.ts';
import { dropDatabase, ensureDatabase, startEmbeddedPostgres } from './embedded-postgres.ts';
import { resolveTemporalCli } from './temporal-cli.ts';
import { freePort, startTemporalDevServer } from './temporal-dev-server.ts';

/** Where PostgreSQL and Temporal are, however they came to be there. */
export interface Infrastructure {
  databaseUrl: string;
  temporalAddress: string;
  namespace: string;
  /** What runs locally and how it was chosen, for the start banner. */
  description: string[];
  stop(): Promise<void>;
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
    if (databaseUrl) {
      description.push(`PostgreSQL: external (DATABASE_URL)`);
    } else {
      const pg = await startEmbeddedPostgres({
        dir: path.join(config.dataDir, 'pg'), port: config.database.embeddedPort, database: 'kameng', log,
      });
      stops.push(pg.stop);
      databaseUrl = pg.url;
      description.push(`PostgreSQL: embedded, data in ${path.join(config.dataDir, 'pg')}, port ${config.database.embeddedPort}`);
    }

    let temporalAddress = config.temporal.address;
    if (temporalAddress) {
      description.push(`Temporal: external at ${temporalAddress} (TEMPORAL_ADDRESS)`);
    } else {
      const cliPath = await resolveTemporalCli({ explicitPath: config.temporal.cliPath, cacheDir: config.cacheDir, log });
      await fs.mkdir(config.dataDir, { recursive: true });
      const server = await startTemporalDevServer({
        cliPath, port: config.temporal.devServerPort, namespace: config.temporal.namespace,
        dbFilename: path.join(config.dataDir, 'temporal.db'), pidFile: path.join(config.dataDir, 'temporal.pid'), log,
      });
      stops.push(server.stop);
      temporalAddress = server.address;
      description.push(`Temporal: local dev server (${cliPath}) on ${server.address}, history in ${path.join(config.dataDir, 'temporal.db')}`);
    }
    return { databaseUrl, temporalAddress, namespace: config.temporal.namespace, description, stop: () => stopAll(stops) };
  } catch (err) {
    await stopAll(stops);
    throw err;
  }
}

/**
 * A test run: a fresh database (on DATABASE_URL's server, or an embedded one in a temp dir) and a
 * Temporal dev server in memory, both on free ports, both gone afterwards.
 */
export async function startTestInfrastructure(config: AppConfig, log: Log): Promise<Infrastructure> {
  const stops: (() => Promise<void>)[] = [];
  try {
    const database = `kameng_test_${Date.now()}_${process.pid}`;
    let databaseUrl: string;
    if (config.database.url) {
      const admin = new URL(config.database.url);
      await ensureDatabase(admin.toString(), database);
      stops.push(() => dropDatabase(admin.toString(), database));
      admin.pathname = `/${database}`;
      databaseUrl = admin.toString();
    } else {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kameng-test-pg-'));
      const pg = await startEmbeddedPostgres({ dir: path.join(dir, 'pg'), port: await freePort(), database, persistent: false, log });
      stops.push(async () => { await pg.stop(); await fs.rm(dir, { recursive: true, force: true }); });
      databaseUrl = pg.url;
    }

    let temporalAddress = config.temporal.address;
    if (!temporalAddress) {
      const cliPath = await resolveTemporalCli({ explicitPath: config.temporal.cliPath, cacheDir: config.cacheDir, log });
      const server = await startTemporalDevServer({ cliPath, port: await freePort(), namespace: config.temporal.namespace, log });
      stops.push(server.stop);
      temporalAddress = server.address;
    }
    return { databaseUrl, temporalAddress, namespace: config.temporal.namespace, description: [], stop: () => stopAll(stops) };
  } catch (err) {
    await stopAll(stops);
    throw err;
  }
}

async function stopAll(stops: (() => Promise<void>)[]): Promise<void> {
  for (const stop of stops.reverse()) await stop().catch((err) => console.error('shutdown:', err));
}

import { Client, type Connection } from '@temporalio/client';
import { loadConfig, type AppConfig } from '../config.ts';
import { deriveKeys, loadMasterKey } from '../crypto/keys.ts';
import { createDb } from '../db/knex.ts';
import { buildDeps } from '../runtime/deps.ts';
import { runningDatabase } from '../runtime/infrastructure.ts';
import { connectTemporal } from '../runtime/temporal-connection.ts';

/**
 * What a CLI command works with: the database and Temporal of a running Kameng. Without
 * DATABASE_URL / TEMPORAL_ADDRESS that is the local install `npm start` runs.
 */
export async function openCliContext() {
  const config: AppConfig = loadConfig();
  // as the application role, like the dashboard: the owner's login is for migrations only
  const databaseUrl = (await runningDatabase(config)).url;
  const db = createDb(databaseUrl, { poolMax: 4, applicationName: 'kameng-cli' });
  const keys = deriveKeys(await loadMasterKey(config.masterKey, config.dataDir));
  const deps = buildDeps(db, keys, config.fulfillment, config.reconciliation);
  let connection: Connection | undefined;
  return {
    config, db, deps,
    async temporal(): Promise<Client> {
      connection ??= config.temporal.address
        ? await connectTemporal(config.temporal.address, config.temporal.connection)
        : await connectTemporal(`127.0.0.1:${config.temporal.devServerPort}`);
      return new Client({ connection, namespace: config.temporal.namespace });
    },
    async close() {
      await connection?.close();
      await db.destroy();
    },
  };
}

export type CliContext = Awaited<ReturnType<typeof openCliContext>>;

/** Runs a command with a context, closing it whatever happens. */
export async function withCli<T>(fn: (ctx: CliContext) => Promise<T>): Promise<T> {
  const ctx = await openCliContext();
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

import { Client, type Connection } from '@temporalio/client';
import { loadConfig, type AppConfig } from '../config.ts';
import { deriveKeys, loadMasterKey } from '../crypto/keys.ts';
import { createDb } from '../db/knex.ts';
import { buildDeps } from '../runtime/deps.ts';
import { runningDatabase } from '../runtime/infrastructure.ts';
import { connectTemporal } from '../runtime/temporal-connection.ts';
import { actorFromToken, assertMay, NotLoggedInError, type Actor, type Permission } from '../users/actor.ts';
import { readSessionFile } from './session-file.ts';

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
  const deps = buildDeps(db, keys, config.fulfillment, config.reconciliation, config.operations);
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

/**
 * Runs a command as the logged-in user (`kameng login`), who must be active now and allowed to
 * act on `permission`. There is no other way to name who acts on the command line.
 */
export async function withActor<T>(permission: Permission, fn: (ctx: CliContext, actor: Actor) => Promise<T>): Promise<T> {
  return withCli(async (ctx) => fn(ctx, assertMay(await cliActor(ctx), permission)));
}

export async function cliActor(ctx: CliContext): Promise<Actor> {
  const saved = await readSessionFile(ctx.config.cli.sessionFile);
  if (!saved) throw new NotLoggedInError();
  const actor = await actorFromToken(ctx.db, saved.token, 'cli');
  if (!actor) throw new NotLoggedInError(`the session of ${saved.username} has ended (expired, logged out, or the user was disabled): run \`kameng login\``);
  return actor;
}

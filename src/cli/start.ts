import type { Server } from 'node:http';
import { createDashboardApp } from '../../dashboard/app.ts';
import { mountApis, taskQueuesOf } from '../api/mount.ts';
import { loadConfig } from '../config.ts';
import { createDb } from '../db/knex.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { excessPrivileges, roleOf } from '../db/roles.ts';
import { playDemoOrders, seedDemo } from '../demo/seed.ts';
import { deriveKeys, loadMasterKey } from '../crypto/keys.ts';
import { buildDeps } from '../runtime/deps.ts';
import { handleShutdownSignalsOurselves } from '../runtime/embedded-postgres.ts';
import { startInfrastructure } from '../runtime/infrastructure.ts';
import { ensureSchedules } from '../runtime/schedules.ts';
import { startWorkers } from '../runtime/worker.ts';
import { temporalClient } from '../runtime/temporal-connection.ts';
import express from 'express';
import { ensureDashboardUsers } from '../users/bootstrap.ts';
import { demoFinanceUser, playDemoDay } from '../demo/day.ts';
import { Users } from '../users/users.ts';

const log = (line: string) => console.log(`[kameng] ${line}`);

/**
 * `npm start`: everything on one machine. Ctrl-C shuts it down in reverse order, letting running
 * activities finish (Temporal resumes anything that does not on the next start).
 */
export async function startCommand(options: { demo: boolean }): Promise<void> {
  const config = loadConfig();
  if (options.demo && !process.env.KAMENG_STUCK_AFTER_MS) {
    // the demo's unanswered top-up should show up as stuck within its first minute, not after ten
    config.fulfillment.stuckAfterMs = 45_000;
    log('demo: a top-up counts as stuck after 45 s (set KAMENG_STUCK_AFTER_MS to choose)');
  }
  const started = Date.now();
  const cleanups: (() => Promise<unknown>)[] = [];
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: shutting down...`);
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err) => console.error('shutdown:', err));
    log('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  const infra = await startInfrastructure(config, log);
  handleShutdownSignalsOurselves();
  cleanups.push(infra.stop);
  // Migrations as the owner of the schema, everything else as the application role (README, Security).
  const ownerDb = createDb(infra.ownerDatabaseUrl, { poolMax: 2, applicationName: 'kameng-migrate' });
  try {
    const separateRoles = roleOf(infra.ownerDatabaseUrl) !== roleOf(infra.databaseUrl);
    const applied = await migrateToLatest(ownerDb, { appRole: separateRoles ? roleOf(infra.databaseUrl) : undefined });
    log(applied.length ? `applied migrations: ${applied.join(', ')}` : 'database schema is up to date');
  } finally {
    await ownerDb.destroy();
  }
  const db = createDb(infra.databaseUrl, { poolMax: config.database.poolMax });
  cleanups.push(() => db.destroy());
  for (const warning of await excessPrivileges(db)) log(`WARNING: ${warning}; see README, Security (kameng db roles --print)`);

  const keys = deriveKeys(await loadMasterKey(config.masterKey, config.dataDir));
  const deps = buildDeps(db, keys, config.fulfillment, config.reconciliation, config.operations);
  const { ledger } = deps;
  // Migration 016 cannot seal (it has no master key): supplier credentials still in plain text are sealed here.
  const sealed = await deps.suppliers.sealPlainCredentials();
  if (sealed) log(`sealed the credentials of ${sealed} supplier(s) stored in plain text`);
  await ledger.openPlatformAccounts();
  const demo = options.demo ? await seedDemo(deps, { simulatorPort: 4100, dataDir: config.dataDir }) : undefined;
  if (demo) {
    cleanups.push(() => demo.simulator.stop());
    log(demo.summary);
  }

  // the profile (API key, TLS) belongs to an external cluster, not to the local dev server
  const temporalProfile = config.temporal.address ? config.temporal.connection : undefined;
  const workers = await startWorkers({
    address: infra.temporalAddress,
    connection: temporalProfile,
    namespace: infra.namespace,
    taskQueues: Object.values(config.temporal.taskQueues),
    deps,
  });
  cleanups.push(() => workers.shutdown());
  const { client, connection } = await temporalClient(infra.temporalAddress, infra.namespace, temporalProfile);
  cleanups.push(() => connection.close());

  for (const s of await ensureSchedules(client, config)) log(`schedule: ${s}`);
  if (demo) {
    // Do not wait ten minutes for the first stock check: fill the demo's empty shelves now.
    await client.workflow.start('stockCheck', { taskQueue: config.temporal.taskQueues.procurement, workflowId: `stock-check-start-${Date.now()}` });
  }

  const health = await client.workflow.execute('platformHealthCheck', {
    taskQueue: config.temporal.taskQueues.platform,
    workflowId: `platform-health-${new Date().toISOString()}`,
  });
  log(`health-check workflow ran end to end: PostgreSQL ${health.postgres}, ${health.accounts} ledger accounts, ` +
    `${health.entries} journal entries, books ${health.healthy ? 'balance' : `OFF BY ${health.ledgerImbalanceFen} fen`}`);

  await ensureDashboardUsers(new Users(db), { demo: Boolean(demo), dataDir: config.dataDir, adminPassword: process.env.KAMENG_ADMIN_PASSWORD, log });
  // Machine-facing APIs first (their own signatures), then the dashboard behind its login.
  const app = express();
  const orderService = mountApis(app, deps, client, taskQueuesOf(config));
  app.use(createDashboardApp({ db, ledger, client, config, infrastructure: infra.description, health, resellers: deps.resellers }));
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(config.dashboard.port, config.dashboard.host, () => resolve(s));
    s.once('error', reject);
  });
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));

  if (demo) {
    // The first start's stock check is still buying; give it a moment before selling cards.
    setTimeout(() => void playDemoOrders(deps, orderService)
      .then(log)
      .then(async () => {
        const finance = await demoFinanceUser(db);
        if (finance) await playDemoDay(client, config, demo.simulator, finance, log);
        else log('demo day: no active finance user to settle and reconcile as');
      })
      .catch((err) => log(`demo day: ${err.message}`)), 5_000);
  }
  for (const line of infra.description) log(line);
  log(`ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  log(`dashboard: http://${config.dashboard.host}:${config.dashboard.port}/   (Ctrl-C to stop)`);
}

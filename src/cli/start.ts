import type { Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { createDashboardApp } from '../../dashboard/app.ts';
import { mountApis, taskQueuesOf } from '../api/mount.ts';
import { loadConfig } from '../config.ts';
import { createDb } from '../db/knex.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { playDemoOrders, seedDemo } from '../demo/seed.ts';
import { deriveKeys, loadMasterKey } from '../crypto/keys.ts';
import { buildDeps } from '../runtime/deps.ts';
import { handleShutdownSignalsOurselves } from '../runtime/embedded-postgres.ts';
import { startInfrastructure } from '../runtime/infrastructure.ts';
import { ensureSchedules } from '../runtime/schedules.ts';
import { startWorkers } from '../runtime/worker.ts';
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
  const db = createDb(infra.databaseUrl, { poolMax: config.database.poolMax });
  cleanups.push(() => db.destroy());
  const applied = await migrateToLatest(db);
  log(applied.length ? `applied migrations: ${applied.join(', ')}` : 'database schema is up to date');

  const keys = deriveKeys(await loadMasterKey(config.masterKey, config.dataDir));
  const deps = buildDeps(db, keys, config.fulfillment, config.reconciliation);
  const { ledger } = deps;
  await ledger.openPlatformAccounts();
  const demo = options.demo ? await seedDemo(deps, { simulatorPort: 4100, dataDir: config.dataDir }) : undefined;
  if (demo) {
    cleanups.push(() => demo.simulator.stop());
    log(demo.summary);
  }

  const workers = await startWorkers({
    address: infra.temporalAddress,
    namespace: infra.namespace,
    taskQueues: Object.values(config.temporal.taskQueues),
    deps,
  });
  cleanups.push(() => workers.shutdown());
  const connection = await Connection.connect({ address: infra.temporalAddress });
  cleanups.push(() => connection.close());
  const client = new Client({ connection, namespace: infra.namespace });

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
  app.use(createDashboardApp({ db, ledger, client, config, infrastructure: infra.description, health }));
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

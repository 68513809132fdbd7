import type { Server } from 'node:http';
import { createDashboardApp } from '../../dashboard/app.ts';
import { mountApis, taskQueuesOf } from '../api/mount.ts';
import { loadConfig } from '../config.ts';
import { createDb } from '../db/knex.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { excessPrivileges, roleOf } from '../db/roles.ts';
import { demoActors, playDemoOrders, seedDemo } from '../demo/seed.ts';
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
import { configureLogging, logger, registerSecret } from '../observability/log.ts';
import { measureDatabase } from '../observability/metrics.ts';
import { mountMetrics, observeRequests } from '../observability/http.ts';
import { freePort } from '../runtime/temporal-dev-server.ts';
import { startTracing } from '../observability/tracing.ts';

const startLog = logger('start');
const log = (line: string) => startLog.info(line);

/**
 * `npm start`: everything on one machine. Ctrl-C shuts it down in reverse order, letting running
 * activities finish (Temporal resumes anything that does not on the next start).
 */
export async function startCommand(options: { demo: boolean }): Promise<void> {
  const config = loadConfig();
  configureLogging({ level: config.observability.logLevel ?? 'info' });
  registerSecret(config.masterKey);
  registerSecret(config.observability.metricsToken);
  const tracing = startTracing(config.observability);
  if (options.demo && config.bootstrap.demoStuckAfterMs === undefined) {
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
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err) => startLog.error({ err }, 'shutdown: could not stop'));
    log('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  cleanups.push(() => tracing.shutdown());
  const infra = await startInfrastructure(config, log);
  // pages link workflows to the Temporal Web UI: the cluster's (TEMPORAL_UI_URL) or the local dev server's
  config.observability.temporalUiUrl ??= infra.temporalUiUrl;
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
  const db = createDb(infra.databaseUrl, { poolMax: config.database.poolMax, jit: config.database.jit });
  cleanups.push(() => db.destroy());
  for (const warning of await excessPrivileges(db)) log(`WARNING: ${warning}; see README, Security (kameng db roles --print)`);

  const keys = deriveKeys(await loadMasterKey(config.masterKey, config.dataDir));
  const deps = buildDeps(db, keys, config.fulfillment, config.reconciliation, config.operations);
  const { ledger } = deps;
  // Migration 016 cannot seal (it has no master key): supplier credentials still in plain text are sealed here.
  const sealed = await deps.suppliers.sealPlainCredentials();
  if (sealed) log(`sealed the credentials of ${sealed} supplier(s) stored in plain text`);
  await ledger.openPlatformAccounts();
  // users first: the demo seeds its catalog as its ops, finance and compliance users
  await ensureDashboardUsers(new Users(db), { demo: options.demo, dataDir: config.dataDir, adminPassword: config.bootstrap.adminPassword, log });
  const demo = options.demo
    ? await seedDemo(deps, { simulatorPort: 4100, dataDir: config.dataDir, actors: await demoActors(db, config), documentDir: config.compliance.documentDir })
    : undefined;
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
    // bundled earlier (KAMENG_WORKFLOW_BUNDLE): a restarted API process is back in seconds
    bundle: config.temporal.workflowBundle ? { codePath: config.temporal.workflowBundle } : undefined,
    temporalMetricsAddress: config.observability.temporalMetricsAddress ?? `127.0.0.1:${await freePort()}`,
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

  // Machine-facing APIs first (their own signatures), then the dashboard behind its login.
  const app = express();
  // request ids, latency per route; /metrics before any login (loopback only, or its bearer token)
  app.use(observeRequests());
  measureDatabase(db, { lowBalanceFen: config.observability.lowBalanceFen });
  mountMetrics(app, { token: config.observability.metricsToken });
  const orderService = mountApis(app, deps, client, taskQueuesOf(config));
  app.use(createDashboardApp({ db, ledger, client, config, infrastructure: infra.description, health, resellers: deps.resellers, suppliers: deps.suppliers, vault: deps.vault }));
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
  log(`metrics: http://${config.dashboard.host}:${config.dashboard.port}/metrics (${config.observability.metricsToken ? 'Authorization: Bearer KAMENG_METRICS_TOKEN' : 'loopback clients only'})`);
  log(`dashboard: http://${config.dashboard.host}:${config.dashboard.port}/   (Ctrl-C to stop)`);
}

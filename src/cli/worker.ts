import { loadConfig } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { deriveKeys, loadMasterKey } from '../crypto/keys.ts';
import { createActivityDeps } from '../runtime/deps.ts';
import { startWorkers } from '../runtime/worker.ts';
import { configureLogging, logger, registerSecret } from '../observability/log.ts';
import { startTracing } from '../observability/tracing.ts';
import { mountMetrics } from '../observability/http.ts';
import { measureDatabase } from '../observability/metrics.ts';
import express from 'express';
import type { Server } from 'node:http';

/**
 * `kameng worker`: workers only, against an existing PostgreSQL and Temporal. Run as many as the
 * load needs; kill any of them at any time: Temporal hands their work to the others.
 */
export async function workerCommand(options: { taskQueues?: string }): Promise<void> {
  const config = loadConfig();
  configureLogging({ level: config.observability.logLevel ?? 'info' });
  registerSecret(config.masterKey);
  const tracing = startTracing(config.observability);
  const missing = [!config.database.url && 'DATABASE_URL', !config.temporal.address && 'TEMPORAL_ADDRESS'].filter(Boolean);
  if (missing.length) throw new ConfigError(missing.map((name) => `${name} is required for \`kameng worker\` (it joins an existing deployment)`));
  const queues = options.taskQueues ? options.taskQueues.split(',').map((q) => q.trim()) : Object.values(config.temporal.taskQueues);
  const keys = deriveKeys(await loadMasterKey(config.masterKey, config.dataDir));
  const deps = createActivityDeps({ databaseUrl: config.database.url!, keys, settings: config.fulfillment, reconciliation: config.reconciliation, operations: config.operations, poolMax: config.database.poolMax, jit: config.database.jit });
  // a worker may start before `npm start` has sealed rows from before migration 016
  await deps.suppliers.sealPlainCredentials();
  const workers = await startWorkers({ address: config.temporal.address!, connection: config.temporal.connection, namespace: config.temporal.namespace, taskQueues: queues, deps,
    bundle: config.temporal.workflowBundle ? { codePath: config.temporal.workflowBundle } : undefined,
    temporalMetricsAddress: config.observability.temporalMetricsAddress,
  });
  logger('worker').info({ taskQueues: queues }, `polling ${queues.join(', ')}`);
  // this process's own families (supplier calls, top-ups, reconciliation, settlement, procurement)
  let metricsServer: Server | undefined;
  if (config.observability.workerMetricsPort) {
    const app = express();
    measureDatabase(deps.db, { lowBalanceFen: config.observability.lowBalanceFen });
    mountMetrics(app, { token: config.observability.metricsToken });
    metricsServer = app.listen(config.observability.workerMetricsPort, config.dashboard.host);
    logger('worker').info(`metrics: http://${config.dashboard.host}:${config.observability.workerMetricsPort}/metrics`);
  }
  const stop = async () => {
    metricsServer?.close();
    await workers.shutdown();
    await deps.close();
    await tracing.shutdown();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  await workers.done;
}

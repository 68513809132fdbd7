import { loadConfig } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { deriveKeys, loadMasterKey } from '../crypto/keys.ts';
import { createActivityDeps } from '../runtime/deps.ts';
import { startWorkers } from '../runtime/worker.ts';

/**
 * `kameng worker`: workers only, against an existing PostgreSQL and Temporal. Run as many as the
 * load needs; kill any of them at any time: Temporal hands their work to the others.
 */
export async function workerCommand(options: { taskQueues?: string }): Promise<void> {
  const config = loadConfig();
  const missing = [!config.database.url && 'DATABASE_URL', !config.temporal.address && 'TEMPORAL_ADDRESS'].filter(Boolean);
  if (missing.length) throw new ConfigError(missing.map((name) => `${name} is required for \`kameng worker\` (it joins an existing deployment)`));
  const queues = options.taskQueues ? options.taskQueues.split(',').map((q) => q.trim()) : Object.values(config.temporal.taskQueues);
  const keys = deriveKeys(await loadMasterKey(config.masterKey, config.dataDir));
  const deps = createActivityDeps({ databaseUrl: config.database.url!, keys, settings: config.fulfillment, reconciliation: config.reconciliation, operations: config.operations, poolMax: config.database.poolMax });
  // a worker may start before `npm start` has sealed rows from before migration 016
  await deps.suppliers.sealPlainCredentials();
  const workers = await startWorkers({ address: config.temporal.address!, connection: config.temporal.connection, namespace: config.temporal.namespace, taskQueues: queues, deps,
    bundle: config.temporal.workflowBundle ? { codePath: config.temporal.workflowBundle } : undefined,
  });
  console.log(`[kameng worker ${process.pid}] polling ${queues.join(', ')}`);
  const stop = async () => {
    await workers.shutdown();
    await deps.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  await workers.done;
}

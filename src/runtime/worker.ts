import { fileURLToPath } from 'node:url';
import type { ClientConfigProfile } from '@temporalio/envconfig';
import { Worker, bundleWorkflowCode, type WorkerOptions as TemporalWorkerOptions, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities } from '../../activities/index.ts';
import type { ActivityDeps } from './deps.ts';
import { logger } from '../observability/log.ts';
import { installTemporalRuntime } from '../observability/temporal-runtime.ts';
import { tracingWorkerOptions, tracingWorkflowInterceptorModules } from '../observability/tracing.ts';
import { connectTemporalWorker } from './temporal-connection.ts';

export const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

/** Bundles workflow code once; every worker in the process (or test run) reuses the bundle. */
export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  // with tracing on (OTEL_EXPORTER_OTLP_ENDPOINT), the workflow side of the trace is bundled too
  return bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger, workflowInterceptorModules: tracingWorkflowInterceptorModules() });
}

const bundlerLog = logger('workflow-bundler');
const quietBundlerLogger = {
  log: () => {}, trace: () => {}, debug: () => {}, info: () => {},
  warn: (m: string, meta?: unknown) => bundlerLog.warn({ meta }, m),
  error: (m: string, meta?: unknown) => bundlerLog.error({ meta }, m),
};

export interface RunningWorkers {
  /** Resolves when every worker has shut down; rejects if one fails. */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

export interface WorkerOptions {
  address: string;
  /** API key / TLS for an external cluster (config.temporal.connection); none for the local dev server. */
  connection?: ClientConfigProfile;
  namespace: string;
  taskQueues: string[];
  deps: ActivityDeps;
  /** A bundle made earlier (or its file); bundled here when absent. */
  bundle?: TemporalWorkerOptions['workflowBundle'];
  /** host:port for the SDK's worker metrics (Prometheus); only the first worker of a process sets it. */
  temporalMetricsAddress?: string;
}

/** One worker per task queue, sharing a connection, the workflow bundle and the activities. */
export async function startWorkers(options: WorkerOptions): Promise<RunningWorkers> {
  // SDK log lines through pino (expected refusals quiet), SDK metrics on a loopback port
  installTemporalRuntime({ metricsAddress: options.temporalMetricsAddress });
  const connection = await connectTemporalWorker(options.address, options.connection);
  const bundle = options.bundle ?? (await bundleWorkflows());
  const activities = createActivities(options.deps);
  const workers = await Promise.all(
    options.taskQueues.map((taskQueue) =>
      Worker.create({
        connection,
        namespace: options.namespace,
        taskQueue,
        workflowBundle: bundle,
        activities,
        ...tracingWorkerOptions(),
      }),
    ),
  );
  const done = Promise.all(workers.map((w) => w.run())).then(() => connection.close());
  return {
    done,
    async shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await done;
    },
  };
}

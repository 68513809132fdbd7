import { fileURLToPath } from 'node:url';
import type { ClientConfigProfile } from '@temporalio/envconfig';
import { DefaultLogger, Runtime, Worker, bundleWorkflowCode, type WorkerOptions as TemporalWorkerOptions, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities } from '../../activities/index.ts';
import type { ActivityDeps } from './deps.ts';
import { connectTemporalWorker } from './temporal-connection.ts';

export const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

/** Bundles workflow code once; every worker in the process (or test run) reuses the bundle. */
export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger });
}

const quietBundlerLogger = {
  log: () => {}, trace: () => {}, debug: () => {}, info: () => {},
  warn: (m: string, meta?: unknown) => console.warn(m, meta ?? ''),
  error: (m: string, meta?: unknown) => console.error(m, meta ?? ''),
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
  /** The worker runtime's own log (config.temporal.workerLogLevel); default WARN. Set by the first worker of a process. */
  logLevel?: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** A bundle made earlier (or its file); bundled here when absent. */
  bundle?: TemporalWorkerOptions['workflowBundle'];
}

let runtimeInstalled = false;

/** Worker logs at WARN and above: INFO state changes drown the start banner and test output. */
function installRuntime(level: NonNullable<WorkerOptions['logLevel']>): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger(level) });
  } catch {
    // already installed by someone else in this process: keep theirs
  }
}

/** One worker per task queue, sharing a connection, the workflow bundle and the activities. */
export async function startWorkers(options: WorkerOptions): Promise<RunningWorkers> {
  installRuntime(options.logLevel ?? 'WARN');
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

import { ParentClosePolicy, patched, proxyActivities, startChild, WorkflowIdReusePolicy } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import { temporalConfig } from '../temporal.config.ts';
import { fulfillTopUp, topUpWorkflowId } from './fulfill-topup.ts';

const { checkPlatformHealth, ping, pruneExpiredNonces, recordTopUpsResumed, strandedTopUps } = proxyActivities<Activities>(temporalConfig.activities.database);

/** Proves the whole chain works: Temporal schedules it, a worker runs it, PostgreSQL answers. */
export async function platformHealthCheck() {
  const health = await checkPlatformHealth();
  return { ...health, healthy: health.ledgerImbalanceFen === 0 };
}

/** The smallest real workflow: one activity that does nothing. A liveness probe and a benchmark floor. */
export async function pingWorkflow(): Promise<string> {
  return ping();
}

/**
 * Versions of housekeeping, decided once when a run starts (README "Workflow versioning"):
 * - `housekeeping-resumes-stranded-topups`: it also starts the fulfillment of top-ups stranded between
 *   their commit and their workflow start. Histories from before: fixtures/histories/housekeeping-*.json.
 */
export const HOUSEKEEPING_RESUMES_TOPUPS = 'housekeeping-resumes-stranded-topups';

export interface HousekeepingInput {
  /** Where resumed top-ups run; the fulfillment task queue when absent (as the schedule starts it). */
  fulfillmentTaskQueue?: string;
}

/**
 * Scheduled housekeeping (temporal.config.ts schedules.housekeeping): what keeps tables bounded, and
 * what nobody else would pick up. Reseller API nonces are kept only while a replay of them could still
 * pass the timestamp check. A top-up charged but never started (README "Top-ups stranded before their
 * workflow") gets its fulfillTopUp now.
 */
export async function housekeeping(input: HousekeepingInput = {}): Promise<{ noncesPruned: number; topUpsResumed: number }> {
  const resumes = patched(HOUSEKEEPING_RESUMES_TOPUPS);
  const noncesPruned = await pruneExpiredNonces();
  if (!resumes) return { noncesPruned, topUpsResumed: 0 };
  return { noncesPruned, topUpsResumed: await resumeStrandedTopUps(input.fulfillmentTaskQueue ?? temporalConfig.taskQueues.fulfillment) };
}

/**
 * Starts each stranded top-up's own workflow (its usual id, so the API's replay, an earlier sweep or
 * its running workflow and this never make two), abandoned to run on after housekeeping ends. One
 * already started, even long finished, is left as it is. Returns how many were started.
 */
async function resumeStrandedTopUps(taskQueue: string): Promise<number> {
  // all started in one workflow task; each refusal caught where it happens
  const started = await Promise.all((await strandedTopUps()).map(async (orderId) => {
    try {
      await startChild(fulfillTopUp, {
        workflowId: topUpWorkflowId(orderId), taskQueue, args: [{ orderId }],
        parentClosePolicy: ParentClosePolicy.ABANDON, workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      });
      return [orderId];
    } catch (err) {
      // WorkflowExecutionAlreadyStartedError lives in @temporalio/common; workflow code imports only @temporalio/workflow.
      if ((err as Error).name === 'WorkflowExecutionAlreadyStartedError') return [];
      throw err;
    }
  }));
  const resumed = started.flat();
  if (resumed.length > 0) await recordTopUpsResumed(resumed);
  return resumed.length;
}

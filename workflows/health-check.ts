import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import { temporalConfig } from '../temporal.config.ts';

const { checkPlatformHealth, ping, pruneExpiredNonces } = proxyActivities<Activities>(temporalConfig.activities.database);

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
 * Scheduled housekeeping (temporal.config.ts schedules.housekeeping): what keeps tables bounded.
 * Reseller API nonces are kept only while a replay of them could still pass the timestamp check.
 */
export async function housekeeping(): Promise<{ noncesPruned: number }> {
  return { noncesPruned: await pruneExpiredNonces() };
}

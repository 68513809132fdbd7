import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import { temporalConfig } from '../temporal.config.ts';

const store = proxyActivities<Activities>(temporalConfig.activities.database);
const robots = proxyActivities<Activities>(temporalConfig.activities.alertDelivery);

/**
 * Scheduled (temporal.config.ts schedules.alerts): evaluate the alert rules, then deliver every
 * pending notice to its robot, each with the alertDelivery retry policy. A notice whose retries run
 * out is marked abandoned (kept and shown); one left pending by a crash is picked up next run.
 * Then prunes the supplier health and unserved demand history (a day, 30 days).
 */
export async function evaluateAlerts(): Promise<{ pending: number; delivered: number; abandoned: number }> {
  const pending = await store.evaluateAlertRules();
  let delivered = 0;
  let abandoned = 0;
  await Promise.all(pending.map(async (d) => {
    try {
      await robots.deliverAlert({ deliveryId: d.id });
      delivered++;
    } catch (err) {
      abandoned++;
      await store.abandonAlert({ deliveryId: d.id, reason: err instanceof Error ? (err.cause as Error | undefined)?.message ?? err.message : String(err) });
    }
  }));
  await store.pruneOperationsHistory();
  return { pending: pending.length, delivered, abandoned };
}

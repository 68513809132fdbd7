import { ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { AppConfig } from '../config.ts';

export interface ScheduleDefinition {
  id: string;
  cron: string;
  workflowType: string;
  taskQueue: string;
  args: unknown[];
}

/** Every durable schedule: what runs, when, on which task queue. */
export function scheduleDefinitions(config: AppConfig): ScheduleDefinition[] {
  return [
    { id: 'kameng-stock-check', cron: config.temporal.schedules.stockCheck, workflowType: 'stockCheck', taskQueue: config.temporal.taskQueues.procurement, args: [] },
    {
      id: 'kameng-supplier-recon', cron: config.temporal.schedules.supplierReconciliation, workflowType: 'dailyReconciliation', taskQueue: config.temporal.taskQueues.reconciliation,
      args: [{ pollMs: config.reconciliation.statementPollMs, maxWaitMs: config.reconciliation.statementWaitMs }],
    },
    { id: 'kameng-reseller-settlement', cron: config.temporal.schedules.resellerSettlement, workflowType: 'dailySettlement', taskQueue: config.temporal.taskQueues.settlement, args: [{}] },
    { id: 'kameng-housekeeping', cron: config.temporal.schedules.housekeeping, workflowType: 'housekeeping', taskQueue: config.temporal.taskQueues.platform, args: [] },
    { id: 'kameng-alerts', cron: config.temporal.schedules.alerts, workflowType: 'evaluateAlerts', taskQueue: config.temporal.taskQueues.platform, args: [] },
  ];
}

/**
 * The durable schedules (Temporal Schedules, cron in the business time zone). Created on start if
 * missing, updated to the configured cron if changed. Missed runs during downtime are caught up
 * within a day; overlapping runs are skipped.
 */
export async function ensureSchedules(client: Client, config: AppConfig): Promise<string[]> {
  const done: string[] = [];
  for (const s of scheduleDefinitions(config)) {
    const spec = { cronExpressions: [s.cron], timezone: config.temporal.schedules.timeZone };
    const action = { type: 'startWorkflow' as const, workflowType: s.workflowType, taskQueue: s.taskQueue, args: s.args, workflowId: `${s.id}-run` };
    const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' };
    try {
      await client.schedule.create({ scheduleId: s.id, spec, action, policies });
    } catch (err) {
      if ((err as Error).name !== 'ScheduleAlreadyRunning') throw err;
      await client.schedule.getHandle(s.id).update((prev) => ({ ...prev, spec, action, policies }));
    }
    done.push(`${s.id} (${s.cron} ${config.temporal.schedules.timeZone})`);
  }
  return done;
}

import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { AppConfig } from '../config.ts';
import { assertBusinessDate } from '../dates.ts';
import { assertMay, refOf, type Actor } from '../users/actor.ts';
import type { dailySettlement, DailySettlementResult } from '../../workflows/settlement.ts';

/**
 * Settles through a date by its workflow (`settle-<date>`), from the CLI or the dashboard. If that
 * settlement is already running, waits for it instead of starting another.
 */
export async function runSettlement(client: Client, config: AppConfig, input: { date: string; actor: Actor }): Promise<DailySettlementResult> {
  const date = assertBusinessDate(input.date, '--date');
  assertMay(input.actor, 'settlement');
  const workflowId = `settle-${date}`;
  try {
    const handle = await client.workflow.start<typeof dailySettlement>('dailySettlement', {
      taskQueue: config.temporal.taskQueues.settlement, workflowId, args: [{ date, actor: refOf(input.actor) }],
    });
    return await handle.result();
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return client.workflow.getHandle<typeof dailySettlement>(workflowId).result();
    throw err;
  }
}

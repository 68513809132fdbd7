import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type Client } from '@temporalio/client';
import type { AppConfig } from '../config.ts';
import { assertBusinessDate, businessDateOf } from '../dates.ts';
import { KamengError } from '../errors.ts';
import { assertMay, refOf, type Actor } from '../users/actor.ts';
import { settlementWorkflowId, type dailySettlement, type DailySettlementResult } from '../../workflows/settlement.ts';
import { DayNotOverError } from './errors.ts';

/**
 * Settles through a date by its workflow (`settle-<date>`), from the CLI or the dashboard. If that
 * settlement is already running, waits for it instead of starting another. A day that has not
 * ended is refused before anything starts; a refusal inside the workflow comes back as the
 * typed error it was, not as a workflow failure.
 */
export async function runSettlement(client: Client, config: AppConfig, input: { date: string; actor: Actor; now?: Date }): Promise<DailySettlementResult> {
  const date = assertDayOver(input.date, input.now);
  assertMay(input.actor, 'settlement');
  const workflowId = settlementWorkflowId(date);
  try {
    let handle;
    try {
      handle = await client.workflow.start<typeof dailySettlement>('dailySettlement', {
        taskQueue: config.temporal.taskQueues.settlement, workflowId, args: [{ date, actor: refOf(input.actor) }],
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      handle = client.workflow.getHandle<typeof dailySettlement>(workflowId);
    }
    return await handle.result();
  } catch (err) {
    throw refusalOf(err) ?? err;
  }
}

/** A business date that has ended in Asia/Shanghai, or DayNotOverError: nothing of an open day is settled. */
export function assertDayOver(input: string, now = new Date()): string {
  const date = assertBusinessDate(input, '--date');
  const today = businessDateOf(now);
  if (date >= today) throw new DayNotOverError(date, today);
  return date;
}

/** The business refusal a workflow failed with (an activity's typed failure), as a KamengError. */
export function refusalOf(err: unknown): KamengError | undefined {
  if (!(err instanceof WorkflowFailedError)) return undefined;
  for (let e = err.cause as { cause?: unknown; message?: string; details?: unknown[] } | undefined; e; e = e.cause as typeof e) {
    const detail = (e.details?.[0] ?? {}) as Record<string, unknown>;
    if (typeof detail.code === 'string' && e.message) return new KamengError(detail.code, e.message, { details: detail });
  }
  return undefined;
}

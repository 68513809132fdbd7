import { workflowInfo } from '@temporalio/workflow';
import { businessDateOf, shiftDate } from '../src/business-day.ts';

/** Business-day arithmetic is src/business-day.ts's (shared with src/dates.ts), not repeated here. */
export { isLastDayOfMonth } from '../src/business-day.ts';

/** The schedule's intended time, so a run caught up after downtime works on the right day. */
export function scheduledStart(): Date {
  const attrs = workflowInfo().searchAttributes as Record<string, unknown[] | undefined> | undefined;
  const scheduled = attrs?.TemporalScheduledStartTime?.[0];
  return scheduled ? new Date(scheduled as string | Date) : new Date(workflowInfo().startTime);
}

/** The Asia/Shanghai business date of the day before an instant. */
export function dayBefore(at: Date): string {
  return shiftDate(businessDateOf(at), -1);
}

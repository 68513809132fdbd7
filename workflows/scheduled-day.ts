import { workflowInfo } from '@temporalio/workflow';

/** The schedule's intended time, so a run caught up after downtime works on the right day. */
export function scheduledStart(): Date {
  const attrs = workflowInfo().searchAttributes as Record<string, unknown[] | undefined> | undefined;
  const scheduled = attrs?.TemporalScheduledStartTime?.[0];
  return scheduled ? new Date(scheduled as string | Date) : new Date(workflowInfo().startTime);
}

/** The Asia/Shanghai (UTC+8, no DST) date of the day before an instant. */
export function dayBefore(at: Date): string {
  return new Date(at.getTime() + 8 * 3600_000 - 24 * 3600_000).toISOString().slice(0, 10);
}

/** True for the last calendar day of its month ("YYYY-MM-DD"). */
export function isLastDayOfMonth(date: string): boolean {
  const next = new Date(Date.parse(`${date}T00:00:00Z`) + 24 * 3600_000);
  return next.getUTCDate() === 1;
}

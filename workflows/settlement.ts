import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { SettledDay } from '../src/settlement/types.ts';
import type { ActorRef } from '../src/users/actor.ts';
import { temporalConfig } from '../temporal.config.ts';
import { dayBefore, isLastDayOfMonth, scheduledStart } from './scheduled-day.ts';

const store = proxyActivities<Activities>(temporalConfig.activities.database);
const reporting = proxyActivities<Activities>(temporalConfig.activities.reporting);

/** One settlement per business date: the id says which, so a date is never settled twice at once. */
export const settlementWorkflowId = (date: string) => `settle-${date}`;

export interface DailySettlementInput {
  /** Business date to settle through (YYYY-MM-DD, Asia/Shanghai); default: the day before the scheduled start. */
  date?: string;
  /** Who asked for it (the dashboard's or the CLI's user); none: the schedule. */
  actor?: ActorRef;
}

export interface DailySettlementResult {
  date: string;
  settled: SettledDay[];
  rebates: { month: string; awarded: number; totalFen: number }[];
  /** The dashboard's daily rollups, brought up to the settled days. */
  rollups?: { ledgerPostings: number; orderDays: number };
}

/**
 * Reseller settlement (结算), every night after the supplier reconciliation: settle each day not
 * yet settled up to the date, oldest first (catching up after downtime), and at a month's end
 * award that month's volume rebates, which land on the next day's statements. Then roll the
 * closed days up for the dashboard.
 */
export async function dailySettlement(input: DailySettlementInput = {}): Promise<DailySettlementResult> {
  const date = input.date ?? dayBefore(scheduledStart());
  const actor = input.actor;
  const result: DailySettlementResult = { date, settled: [], rebates: [] };
  for (const day of await store.daysToSettle(date)) {
    result.settled.push(await store.settleDay({ date: day, actor }));
    if (isLastDayOfMonth(day)) {
      const month = day.slice(0, 7);
      result.rebates.push({ month, ...(await store.awardMonthlyRebates({ month, actor })) });
    }
  }
  result.rollups = await reporting.rollUpReports();
  return result;
}

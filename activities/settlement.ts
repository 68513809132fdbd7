import type { BusinessDate } from '../src/dates.ts';
import type { Db } from '../src/db/knex.ts';
import type { Ledger } from '../src/ledger/ledger.ts';
import { rollUpLedger } from '../src/ledger/rollups.ts';
import { rollUpOrderDays } from '../src/orders/rollups.ts';
import { Rebates } from '../src/settlement/rebates.ts';
import { daysToSettle, settleDay } from '../src/settlement/settle.ts';
import type { SettledDay } from '../src/settlement/types.ts';
import { actorFromRef, SCHEDULE, type ActorRef } from '../src/users/actor.ts';

/** Settlement's adapters: each step is one transaction in src/settlement, safe to retry. */
export function createSettlementActivities(deps: { db: Db; ledger: Ledger }) {
  const rebates = new Rebates(deps.db, deps.ledger);
  // no actor: the schedule ('schedule' is how workflows started before users were actors said so)
  const acting = (actor: ActorRef | string | undefined) => (actor === undefined || actor === 'schedule' ? SCHEDULE : actorFromRef(deps.db, actor));
  return {
    async daysToSettle(date: BusinessDate): Promise<BusinessDate[]> {
      return daysToSettle(deps.db, date);
    },

    async settleDay(input: { date: BusinessDate; actor?: ActorRef | string }): Promise<SettledDay> {
      return settleDay(deps.db, input.date, { actor: await acting(input.actor) });
    },

    async awardMonthlyRebates(input: { month: string; actor?: ActorRef | string }): Promise<{ awarded: number; totalFen: number }> {
      const awards = await rebates.awardMonth(input.month, await acting(input.actor));
      const paid = awards.filter((a) => a.rebateFen > 0);
      return { awarded: paid.length, totalFen: paid.reduce((n, a) => n + a.rebateFen, 0) };
    },

    async rollUpReports(): Promise<{ ledgerPostings: number; orderDays: number }> {
      const ledger = await rollUpLedger(deps.db);
      const orders = await rollUpOrderDays(deps.db);
      return { ledgerPostings: ledger.postings, orderDays: orders.days.length };
    },
  };
}

import type { Alerts, PendingDelivery } from '../src/alerts/alerts.ts';
import type { Db } from '../src/db/knex.ts';

/** Alerts (src/alerts): evaluate the rules, deliver each notice (retried by temporal.config.ts alertDelivery). */
export function createOperationsActivities(deps: { db: Db; alerts?: Alerts }) {
  const alerts = () => {
    if (!deps.alerts) throw new Error('this worker was built without alerts (src/runtime/deps.ts buildDeps)');
    return deps.alerts;
  };
  return {
    async evaluateAlertRules(): Promise<PendingDelivery[]> {
      return alerts().evaluate();
    },
    async deliverAlert(input: { deliveryId: number }): Promise<'delivered' | 'already'> {
      return alerts().deliver(input.deliveryId);
    },
    /** Keeps the health and demand history bounded: outcomes older than a day, refusals older than 30 days. */
    async pruneOperationsHistory(): Promise<number> {
      const { rowCount: outcomes } = await deps.db.raw(`DELETE FROM supplier_call_outcomes WHERE id IN (SELECT id FROM supplier_call_outcomes WHERE at < now() - interval '1 day' LIMIT 50000)`);
      const { rowCount: misses } = await deps.db.raw(`DELETE FROM stock_misses WHERE id IN (SELECT id FROM stock_misses WHERE at < now() - interval '30 days' LIMIT 50000)`);
      return (outcomes ?? 0) + (misses ?? 0);
    },
    async abandonAlert(input: { deliveryId: number; reason: string }): Promise<void> {
      await alerts().abandon(input.deliveryId, input.reason);
    },
  };
}

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
    async abandonAlert(input: { deliveryId: number; reason: string }): Promise<void> {
      await alerts().abandon(input.deliveryId, input.reason);
    },
  };
}

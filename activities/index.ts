import type { ActivityDeps } from '../src/runtime/deps.ts';
import { withTypedFailures } from './adapter.ts';
import { measureActivities } from '../src/observability/activity-metrics.ts';
import { createAftersalesActivities } from './aftersales.ts';
import { createFulfillmentActivities } from './fulfillment.ts';
import { createPlatformActivities } from './platform.ts';
import { createOperationsActivities } from './operations.ts';
import { createProcurementActivities } from './procurement.ts';
import { createReconciliationActivities } from './reconciliation.ts';
import { createSettlementActivities } from './settlement.ts';

/** Defined in src/runtime/deps.ts (which builds it); re-exported for old imports. */
export type { ActivityDeps };

export function createActivities(deps: ActivityDeps) {
  return measureActivities(deps.db, withTypedFailures({
    ...createPlatformActivities(deps),
    ...createProcurementActivities(deps),
    ...createFulfillmentActivities(deps),
    ...createReconciliationActivities(deps),
    ...createSettlementActivities(deps),
    ...createAftersalesActivities(deps),
    ...createOperationsActivities(deps),
  }));
}

export type Activities = ReturnType<typeof createActivities>;

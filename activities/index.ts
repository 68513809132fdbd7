import type { Alerts } from '../src/alerts/alerts.ts';
import type { Catalog } from '../src/catalog/catalog.ts';
import type { OperationsSettings, ReconSettings } from '../src/config.ts';
import type { Db } from '../src/db/knex.ts';
import type { CodeVault } from '../src/inventory/codes.ts';
import type { Ledger } from '../src/ledger/ledger.ts';
import type { ResellerRegistry } from '../src/resellers/registry.ts';
import type { SupplierRegistry } from '../src/suppliers/registry.ts';
import { withTypedFailures } from './adapter.ts';
import { createFulfillmentActivities, type FulfillmentSettings } from './fulfillment.ts';
import { createPlatformActivities } from './platform.ts';
import { createOperationsActivities } from './operations.ts';
import { createProcurementActivities } from './procurement.ts';
import { createReconciliationActivities } from './reconciliation.ts';
import { createSettlementActivities } from './settlement.ts';

/** What activities need from the outside world; built once per worker process (src/runtime/deps.ts). */
export interface ActivityDeps {
  db: Db;
  ledger: Ledger;
  catalog: Catalog;
  suppliers: SupplierRegistry;
  vault: CodeVault;
  resellers: ResellerRegistry;
  settings: FulfillmentSettings;
  reconciliation: ReconSettings;
  /** Routing, alert thresholds, demand-driven stock; DEFAULT_OPERATIONS when absent. */
  operations?: OperationsSettings;
  /** Alert rules, channels and deliveries (src/alerts). */
  alerts?: Alerts;
}

export function createActivities(deps: ActivityDeps) {
  return withTypedFailures({
    ...createPlatformActivities(deps),
    ...createProcurementActivities(deps),
    ...createFulfillmentActivities(deps),
    ...createReconciliationActivities(deps),
    ...createSettlementActivities(deps),
    ...createOperationsActivities(deps),
  });
}

export type Activities = ReturnType<typeof createActivities>;

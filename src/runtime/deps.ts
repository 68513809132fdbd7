import { Catalog } from '../catalog/catalog.ts';
import { DEFAULT_OPERATIONS, type FulfillmentSettings, type OperationsSettings, type ReconSettings } from '../config.ts';
import { Alerts } from '../alerts/alerts.ts';
import type { Keys } from '../crypto/keys.ts';
import { createDb, type Db } from '../db/knex.ts';
import { CodeVault } from '../inventory/codes.ts';
import { Ledger } from '../ledger/ledger.ts';
import { ResellerRegistry } from '../resellers/registry.ts';
import { SupplierRegistry } from '../suppliers/registry.ts';

/** What activities need from the outside world; built once per worker process, here. */
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

/** Builds what activities need, once per process: the one place that wires dependencies. */
export function buildDeps(db: Db, keys: Keys, settings: FulfillmentSettings, reconciliation: ReconSettings, operations?: OperationsSettings): ActivityDeps {
  const ledger = new Ledger(db);
  const ops = operations ?? DEFAULT_OPERATIONS;
  return {
    db, ledger, settings, reconciliation, operations,
    alerts: new Alerts(db, keys.alertSecrets, { thresholds: ops.alerts, allowPrivate: settings.allowPrivateCallbacks }), catalog: new Catalog(db), suppliers: new SupplierRegistry(db, ledger, keys.supplierSecrets), vault: new CodeVault(keys),
    resellers: new ResellerRegistry(db, ledger, keys.resellerSecrets),
  };
}

export function createActivityDeps(options: { databaseUrl: string; keys: Keys; settings: FulfillmentSettings; reconciliation: ReconSettings; operations?: OperationsSettings; poolMax?: number; jit?: boolean }): ActivityDeps & { close(): Promise<void> } {
  const db = createDb(options.databaseUrl, { poolMax: options.poolMax, applicationName: 'kameng-worker', jit: options.jit });
  return { ...buildDeps(db, options.keys, options.settings, options.reconciliation, options.operations), close: () => db.destroy() };
}

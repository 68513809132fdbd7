import { Catalog } from '../catalog/catalog.ts';
import type { FulfillmentSettings, ReconSettings } from '../config.ts';
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
}

/** Builds what activities need, once per process: the one place that wires dependencies. */
export function buildDeps(db: Db, keys: Keys, settings: FulfillmentSettings, reconciliation: ReconSettings): ActivityDeps {
  const ledger = new Ledger(db);
  return {
    db, ledger, settings, reconciliation, catalog: new Catalog(db), suppliers: new SupplierRegistry(db, ledger, keys.supplierSecrets), vault: new CodeVault(keys),
    resellers: new ResellerRegistry(db, ledger, keys.resellerSecrets),
  };
}

export function createActivityDeps(options: { databaseUrl: string; keys: Keys; settings: FulfillmentSettings; reconciliation: ReconSettings; poolMax?: number }): ActivityDeps & { close(): Promise<void> } {
  const db = createDb(options.databaseUrl, { poolMax: options.poolMax, applicationName: 'kameng-worker' });
  return { ...buildDeps(db, options.keys, options.settings, options.reconciliation), close: () => db.destroy() };
}

import type { Client } from '@temporalio/client';
import type { AppConfig } from '../src/config.ts';
import type { Db } from '../src/db/knex.ts';
import type { CodeVault } from '../src/inventory/codes.ts';
import type { Ledger } from '../src/ledger/ledger.ts';
import type { LedgerReports } from '../src/ledger/reports.ts';
import type { ResellerRegistry } from '../src/resellers/registry.ts';
import type { PlatformHealth } from '../src/runtime/infrastructure.ts';
import type { SupplierRegistry } from '../src/suppliers/registry.ts';

/** What every dashboard page receives (its own module, so pages do not import the app that imports them). */
export interface DashboardDeps {
  db: Db;
  ledger: Ledger;
  reports: LedgerReports;
  client: Client;
  config: AppConfig;
  infrastructure: string[];
  health: PlatformHealth;
  /** For re-sending a reseller callback (its signing secret); without it the dashboard cannot re-send. */
  resellers?: ResellerRegistry;
  /** With the supplier secrets key: for supplier administration (sealing credentials, bank accounts) and bank details in payout exports. */
  suppliers?: SupplierRegistry;
  /** For the reseller portal's explicit, audited card-code reveal; without it the portal cannot show codes. */
  vault?: CodeVault;
}

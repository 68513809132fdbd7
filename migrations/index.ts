import type { Knex } from 'knex';
import * as ledger from './20261124_001_ledger.ts';
import * as catalog from './20261124_002_catalog.ts';
import * as resellersOrders from './20261124_003_resellers_orders.ts';
import * as procurement from './20261124_004_procurement.ts';
import * as reconciliation from './20261125_005_reconciliation.ts';
import * as settlement from './20261125_006_settlement.ts';
import * as dashboardUsers from './20261125_007_dashboard_users.ts';
import * as dailyRollups from './20261127_008_daily_rollups.ts';
import * as ledgerPostInStatement from './20261127_009_ledger_post_in_statement.ts';
import * as compactMatches from './20261128_010_compact_matches.ts';
import * as stockReceipts from './20261201_012_stock_receipts.ts';
import * as emptyStatementsPerDay from './20261201_013_empty_statements_per_day.ts';
import * as actorsAreUsers from './20261201_014_actors_are_users.ts';
import * as supplierSecrets from './20261201_016_supplier_secrets.ts';
import * as loginThrottle from './20261201_017_login_throttle.ts';
import * as catalogAdmin from './20261201_018_catalog_admin.ts';
import * as resellerOnboarding from './20261201_020_reseller_onboarding.ts';
import * as walletRecharges from './20261201_021_wallet_recharges.ts';
import * as statementProfiles from './20261201_022_statement_profiles.ts';
import * as aftersales from './20261201_024_aftersales.ts';
import * as routingAndAlerts from './20261201_027_routing_and_alerts.ts';
import * as stockDemand from './20261201_028_stock_demand.ts';
import * as resellerPortal from './20261201_031_reseller_portal.ts';
import * as ledgerRolledTotals from './20261201_033_ledger_rolled_totals.ts';
import * as resellerSkuDays from './20261201_034_reseller_sku_days.ts';
import * as portalApiSettings from './20261201_035_portal_api_settings.ts';
import * as walletMovementsIndex from './20261201_036_wallet_movements_index.ts';
import * as orderPartialDays from './20261201_037_order_partial_days.ts';

/** Every migration, in order. Add new ones at the end. */
export const migrations: Record<string, Knex.Migration> = {
  '20261124_001_ledger': ledger,
  '20261124_002_catalog': catalog,
  '20261124_003_resellers_orders': resellersOrders,
  '20261124_004_procurement': procurement,
  '20261125_005_reconciliation': reconciliation,
  '20261125_006_settlement': settlement,
  '20261125_007_dashboard_users': dashboardUsers,
  '20261127_008_daily_rollups': dailyRollups,
  '20261127_009_ledger_post_in_statement': ledgerPostInStatement,
  '20261128_010_compact_matches': compactMatches,
  '20261201_012_stock_receipts': stockReceipts,
  '20261201_013_empty_statements_per_day': emptyStatementsPerDay,
  '20261201_014_actors_are_users': actorsAreUsers,
  '20261201_016_supplier_secrets': supplierSecrets,
  '20261201_017_login_throttle': loginThrottle,
  '20261201_018_catalog_admin': catalogAdmin,
  '20261201_020_reseller_onboarding': resellerOnboarding,
  '20261201_021_wallet_recharges': walletRecharges,
  '20261201_022_statement_profiles': statementProfiles,
  '20261201_024_aftersales': aftersales,
  '20261201_027_routing_and_alerts': routingAndAlerts,
  '20261201_028_stock_demand': stockDemand,
  '20261201_031_reseller_portal': resellerPortal,
  '20261201_033_ledger_rolled_totals': ledgerRolledTotals,
  '20261201_034_reseller_sku_days': resellerSkuDays,
  '20261201_035_portal_api_settings': portalApiSettings,
  '20261201_036_wallet_movements_index': walletMovementsIndex,
  '20261201_037_order_partial_days': orderPartialDays,
};

/** Every workflow the workers register. */
export { fulfillTopUp } from './fulfill-topup.ts';
export { housekeeping, pingWorkflow, platformHealthCheck } from './health-check.ts';
export { postJournalEntry } from './journal.ts';
export { procureStock, stockCheck } from './procurement.ts';
export { dailyReconciliation, reconcileSupplierDay } from './reconciliation.ts';
export { dailySettlement } from './settlement.ts';
export { handleComplaint } from './handle-complaint.ts';
export { evaluateAlerts } from './alerts.ts';

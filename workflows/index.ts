/** Every workflow the workers register. */
export { platformHealthCheck } from './health-check.ts';
export { postJournalEntry } from './journal.ts';
export { procureStock, stockCheck } from './procurement.ts';

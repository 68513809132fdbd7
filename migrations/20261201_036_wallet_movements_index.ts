import type { Knex } from 'knex';

/**
 * The portal's wallet page lists a reseller's adjustments and rebates (src/portal/wallet-info.ts).
 * Found through the wallet's postings, a million-order wallet with none was a walk of a million
 * postings (3 s on PostgreSQL 15); these entries are few, so they are found by kind first.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX ledger_entries_wallet_movements ON ledger_entries (posted_at DESC, id DESC) WHERE kind IN ('wallet_adjustment', 'rebate')`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX ledger_entries_wallet_movements');
}

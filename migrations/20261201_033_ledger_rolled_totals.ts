import type { Knex } from 'knex';

/**
 * Totals of the rolled-up ledger (owned by src/ledger/rollups.ts), kept by each roll beside
 * ledger_account_days: the dashboard read 180,000 account-days (2,000 wallets over 90 days) for
 * every trial balance and daily movement; these answer it from one row per account and per day.
 *
 * - ledger_rolled_accounts: per account, the net of every rolled posting.
 * - ledger_rolled_days: per Asia/Shanghai day, the debits and net of every account's rolled postings.
 *
 * Filled here from ledger_account_days, which no roll writes meanwhile (the lock).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE ledger_rolled_accounts (
      account_id  bigint PRIMARY KEY REFERENCES ledger_accounts (id),
      net         bigint NOT NULL
    );
    CREATE TABLE ledger_rolled_days (
      day     date PRIMARY KEY,
      debits  bigint NOT NULL,
      net     bigint NOT NULL
    );
    LOCK TABLE ledger_account_days IN SHARE MODE;
    INSERT INTO ledger_rolled_accounts (account_id, net) SELECT account_id, sum(net) FROM ledger_account_days GROUP BY account_id;
    INSERT INTO ledger_rolled_days (day, debits, net) SELECT day, sum(debits), sum(net) FROM ledger_account_days GROUP BY day;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE ledger_rolled_days, ledger_rolled_accounts');
}

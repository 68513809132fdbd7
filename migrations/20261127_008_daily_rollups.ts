import type { Knex } from 'knex';

/**
 * Daily rollups the dashboard reads instead of scanning millions of postings and orders. Both are
 * derived data, rebuilt from the append-only ledger and the orders table at any time.
 *
 * - ledger_account_days (owned by src/ledger/rollups.ts): per account and Asia/Shanghai day of
 *   posting, the net and the debits. Days are rolled in order, once they ended some minutes ago (no
 *   transaction that started in them is still open); ledger_rollup_state says how far. A balance is
 *   the rolled days plus the postings since, which an (account_id, posted_at) index range answers.
 * - order_day_margins (owned by src/orders/rollups.ts): per business date and SKU, supplier or
 *   reseller, completed orders, gross and margin. A rolled day is listed in order_rollup_days; a
 *   top-up of that day that completes later removes it from the list (the day is read live until
 *   rolled again).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE ledger_account_days (
      account_id  bigint NOT NULL REFERENCES ledger_accounts (id),
      day         date NOT NULL,
      net         bigint NOT NULL,
      debits      bigint NOT NULL,
      postings    int NOT NULL,
      PRIMARY KEY (account_id, day)
    );
    CREATE INDEX ledger_account_days_day ON ledger_account_days (day) INCLUDE (debits, net);

    CREATE TABLE ledger_rollup_state (
      id             boolean PRIMARY KEY DEFAULT true CHECK (id),
      -- every posting before this instant is in ledger_account_days
      rolled_until   timestamptz NOT NULL,
      -- the sum of every rolled posting: 0 while the books balance
      rolled_net     bigint NOT NULL DEFAULT 0,
      rolled_at      timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE order_day_margins (
      dimension      text NOT NULL CHECK (dimension IN ('sku', 'supplier', 'reseller')),
      business_date  date NOT NULL,
      name           text NOT NULL,
      orders         int NOT NULL,
      gross_fen      bigint NOT NULL,
      margin_fen     bigint NOT NULL,
      PRIMARY KEY (dimension, business_date, name)
    );

    CREATE TABLE order_rollup_days (
      business_date  date PRIMARY KEY,
      rolled_at      timestamptz NOT NULL DEFAULT now()
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE order_rollup_days, order_day_margins, ledger_rollup_state, ledger_account_days');
}

import type { Knex } from 'knex';

/**
 * Today's orders rolled up to minutes ago (src/orders/intraday.ts), so the overview reads the last
 * minutes of orders live instead of the whole day (27,000 orders by evening on a busy day, read at
 * every view). order_partial_days holds, per business date not yet rolled for good, the last order id
 * the partial roll covers and the ids below it that were still open then (read live: they may
 * complete later); order_partial_margins the partial figures of the others, as order_day_margins.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE order_partial_days (
      business_date  date PRIMARY KEY,
      until_id       bigint,
      open_ids       bigint[] NOT NULL DEFAULT '{}',
      rolled_at      timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE order_partial_margins (
      dimension      text NOT NULL CHECK (dimension IN ('sku', 'supplier', 'reseller')),
      business_date  date NOT NULL,
      name           text NOT NULL,
      orders         int NOT NULL,
      gross_fen      bigint NOT NULL,
      margin_fen     bigint NOT NULL,
      PRIMARY KEY (dimension, business_date, name)
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE order_partial_margins, order_partial_days');
}

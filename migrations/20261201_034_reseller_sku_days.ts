import type { Knex } from 'knex';

/**
 * order_reseller_sku_days (owned by src/orders/rollups.ts): per reseller, business date and SKU,
 * the orders placed, the spend (all but refunded) and the refunded orders: the portal's analysis
 * read up to 92 days of a reseller's orders live (a million-order shop: 150,000 rows for its
 * default fortnight). Rolled with the day's margins, under the same order_rollup_days marker (a
 * late refund unrolls both).
 *
 * Every day is unrolled here, so the next roll fills the new table too (days not rolled are read live).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE order_reseller_sku_days (
      reseller_id    bigint NOT NULL REFERENCES resellers (id),
      business_date  date NOT NULL,
      sku_code       text NOT NULL,
      orders         int NOT NULL,
      spend_fen      bigint NOT NULL,
      refunded       int NOT NULL,
      PRIMARY KEY (reseller_id, business_date, sku_code)
    );
    DELETE FROM order_rollup_days;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE order_reseller_sku_days');
}

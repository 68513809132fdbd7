import type { Knex } from 'knex';

/**
 * Demand that went unserved (src/inventory/demand.ts): a card order refused out of stock, with the
 * units it asked for. With the units delivered it gives the fill rate (served ÷ asked), and with
 * them the sales velocity the reorder point is computed from. Pruned by housekeeping after 30 days.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE stock_misses (
      id        bigserial PRIMARY KEY,
      sku_code  text NOT NULL REFERENCES skus (code),
      quantity  int NOT NULL CHECK (quantity > 0),
      at        timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX stock_misses_recent ON stock_misses (sku_code, at);
    CREATE INDEX orders_card_recent ON orders (sku_code, created_at) WHERE kind = 'card_code';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS stock_misses; DROP INDEX IF EXISTS orders_card_recent');
}

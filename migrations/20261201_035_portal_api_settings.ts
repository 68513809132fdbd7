import type { Knex } from 'knex';

/**
 * The reseller portal's API page and two-factor login (issue 24).
 *
 * - reseller_users: a TOTP secret being enrolled (shown, not on until a code confirms it) and the
 *   last time step a code was accepted at, so a code cannot be used twice.
 * - portal_sessions: a row that waits for the second factor is no session yet (it opens nothing).
 * - callback_deliveries: a test callback the owner sends from the portal belongs to a reseller, not
 *   to an order; it is logged with the real deliveries, marked as a test.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE reseller_users
      ADD COLUMN totp_pending_sealed bytea,
      ADD COLUMN totp_last_step bigint,
      ADD CONSTRAINT reseller_users_totp_pending_owner CHECK (totp_pending_sealed IS NULL OR role = 'owner');

    ALTER TABLE portal_sessions ADD COLUMN second_factor_pending boolean NOT NULL DEFAULT false;

    ALTER TABLE callback_deliveries
      ALTER COLUMN order_id DROP NOT NULL,
      ADD COLUMN reseller_id bigint REFERENCES resellers (id),
      ADD COLUMN test boolean NOT NULL DEFAULT false,
      ADD CONSTRAINT callback_deliveries_test_of_a_reseller CHECK (order_id IS NOT NULL OR (test AND reseller_id IS NOT NULL));
    CREATE INDEX callback_deliveries_test_reseller ON callback_deliveries (reseller_id, id) WHERE test;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX IF EXISTS callback_deliveries_test_reseller;
    DELETE FROM callback_deliveries WHERE order_id IS NULL;
    ALTER TABLE callback_deliveries
      DROP CONSTRAINT callback_deliveries_test_of_a_reseller,
      DROP COLUMN test,
      DROP COLUMN reseller_id,
      ALTER COLUMN order_id SET NOT NULL;
    DELETE FROM portal_sessions WHERE second_factor_pending;
    ALTER TABLE portal_sessions DROP COLUMN second_factor_pending;
    ALTER TABLE reseller_users
      DROP CONSTRAINT reseller_users_totp_pending_owner,
      DROP COLUMN totp_last_step,
      DROP COLUMN totp_pending_sealed;
  `);
}

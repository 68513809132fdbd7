import type { Knex } from 'knex';

/**
 * Supplier credentials sealed at rest, and supplier callbacks received once.
 *
 * suppliers.api_key and callback_secret were plain text. They move to api_key_sealed and
 * callback_secret_sealed (AES-256-GCM under a key derived from the master key, like reseller
 * secrets). A migration has no master key, so it cannot seal: it makes room, and the first process
 * that opens the supplier registry with the key (`npm start`, `kameng worker`, any CLI command)
 * seals every row that still has a plain value and clears it, in one transaction per row. Until
 * then a row holds exactly one of the two forms (CHECK). The plain columns stay, always NULL once
 * sealed, so the release before this one still finds them after a rollback; a later migration
 * drops them.
 *
 * supplier_callback_receipts: every accepted signed callback, keyed by its signature (which
 * covers the timestamp and the body). The same signed callback sent again conflicts here and
 * changes nothing; replays are counted on the row. Rows older than twice the timestamp window can
 * never be matched again and are pruned.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE suppliers
      ADD COLUMN api_key_sealed bytea,
      ADD COLUMN callback_secret_sealed bytea,
      ALTER COLUMN api_key DROP NOT NULL,
      ALTER COLUMN callback_secret DROP NOT NULL,
      ADD CONSTRAINT suppliers_api_key_one_form CHECK ((api_key IS NULL) <> (api_key_sealed IS NULL)),
      ADD CONSTRAINT suppliers_callback_secret_one_form CHECK ((callback_secret IS NULL) <> (callback_secret_sealed IS NULL));

    CREATE TABLE supplier_callback_receipts (
      supplier_id     bigint NOT NULL REFERENCES suppliers (id),
      signature       text NOT NULL CHECK (signature ~ '^[0-9a-f]{64}$'),
      signed_at       timestamptz NOT NULL,
      request_id      text,
      received_at     timestamptz NOT NULL DEFAULT now(),
      replays         int NOT NULL DEFAULT 0,
      last_replay_at  timestamptz,
      PRIMARY KEY (supplier_id, signature)
    );
    CREATE INDEX supplier_callback_receipts_received ON supplier_callback_receipts (received_at);
  `);
}

export async function down(knex: Knex): Promise<void> {
  // Only possible while nothing is sealed: a sealed value cannot be unsealed without the key.
  await knex.raw(`
    DROP TABLE supplier_callback_receipts;
    ALTER TABLE suppliers
      DROP CONSTRAINT suppliers_api_key_one_form,
      DROP CONSTRAINT suppliers_callback_secret_one_form,
      ALTER COLUMN api_key SET NOT NULL,
      ALTER COLUMN callback_secret SET NOT NULL,
      DROP COLUMN api_key_sealed,
      DROP COLUMN callback_secret_sealed;
  `);
}

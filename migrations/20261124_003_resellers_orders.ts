import type { Knex } from 'knex';

/**
 * Resellers, their API credentials and replay protection, and orders. Owned by src/resellers
 * (resellers, api_nonces) and src/orders (orders, order_events).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE resellers (
      id                  bigserial PRIMARY KEY,
      code                text NOT NULL UNIQUE,
      name                text NOT NULL,
      tier                text NOT NULL DEFAULT 'default' CHECK (tier IN ('default', 'silver', 'gold')),
      status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
      callback_url        text,
      api_key             text NOT NULL UNIQUE,
      -- AES-256-GCM sealed: HMAC verification needs the secret itself, so it cannot be a hash
      api_secret_sealed   bytea NOT NULL,
      created_at          timestamptz NOT NULL DEFAULT now()
    );

    -- A nonce may be used once; rows older than the signature window are pruned.
    CREATE TABLE api_nonces (
      reseller_id  bigint NOT NULL REFERENCES resellers (id),
      nonce        text NOT NULL,
      seen_at      timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (reseller_id, nonce)
    );
    CREATE INDEX api_nonces_seen_at ON api_nonces (seen_at);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS api_nonces, resellers CASCADE');
}

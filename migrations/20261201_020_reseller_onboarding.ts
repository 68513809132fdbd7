import type { Knex } from 'knex';

/**
 * Onboarding resellers (issue 18), owned by src/resellers:
 * - contact, a low-balance threshold and an optional IP allowlist (CIDRs, IPv4/IPv6; empty = any address);
 * - secret rotation: the previous secret stays valid until previous_secret_expires_at (the overlap
 *   window), then never again; revoking it ends the window at once;
 * - suspension with its reason and time (the API answers 403 RESELLER_SUSPENDED).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE resellers
      ADD COLUMN contact                     text NOT NULL DEFAULT '' CHECK (length(contact) <= 200),
      ADD COLUMN low_balance_fen             bigint NOT NULL DEFAULT 0 CHECK (low_balance_fen >= 0),
      ADD COLUMN ip_allowlist                inet[] NOT NULL DEFAULT '{}',
      ADD COLUMN previous_secret_sealed      bytea,
      ADD COLUMN previous_secret_expires_at  timestamptz,
      ADD COLUMN secret_rotated_at           timestamptz,
      ADD COLUMN suspended_at                timestamptz,
      ADD CONSTRAINT resellers_previous_secret_has_an_end
        CHECK ((previous_secret_sealed IS NULL) = (previous_secret_expires_at IS NULL));
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE resellers DROP CONSTRAINT resellers_previous_secret_has_an_end,
      DROP COLUMN contact, DROP COLUMN low_balance_fen, DROP COLUMN ip_allowlist, DROP COLUMN previous_secret_sealed,
      DROP COLUMN previous_secret_expires_at, DROP COLUMN secret_rotated_at, DROP COLUMN suspended_at;
  `);
}

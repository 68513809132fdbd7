import type { Knex } from 'knex';

/**
 * The reseller portal (issue 24): reseller users (owner or staff of one reseller), their sessions
 * (a cookie of their own, kameng_portal, with its CSRF token), and audit rows that name them.
 *
 * audit_log names exactly one kind of actor: a staff user (actor_user_id), a reseller user
 * (actor_reseller_user_id), or nobody when the schedule or the system acted (or a legacy row).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE reseller_users (
      id                  bigserial PRIMARY KEY,
      reseller_id         bigint NOT NULL REFERENCES resellers (id),
      username            text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9._-]{2,40}$'),
      display_name        text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
      role                text NOT NULL CHECK (role IN ('owner', 'staff')),
      password_hash       text NOT NULL,
      totp_secret_sealed  bytea,
      disabled            boolean NOT NULL DEFAULT false,
      created_at          timestamptz NOT NULL DEFAULT now(),
      CHECK (totp_secret_sealed IS NULL OR role = 'owner')
    );
    CREATE INDEX reseller_users_reseller ON reseller_users (reseller_id);

    CREATE TABLE portal_sessions (
      token_sha256      text PRIMARY KEY,
      reseller_user_id  bigint NOT NULL REFERENCES reseller_users (id),
      csrf_token        text NOT NULL,
      expires_at        timestamptz NOT NULL,
      created_at        timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX portal_sessions_user ON portal_sessions (reseller_user_id);
    CREATE INDEX portal_sessions_expires ON portal_sessions (expires_at);

    ALTER TABLE audit_log ADD COLUMN actor_reseller_user_id bigint REFERENCES reseller_users (id);
    ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_is_a_user;
    ALTER TABLE audit_log ADD CONSTRAINT audit_log_actor_is_a_user CHECK (
      (actor_user_id IS NOT NULL AND actor_reseller_user_id IS NULL)
      OR (actor_user_id IS NULL AND actor_reseller_user_id IS NOT NULL)
      OR (actor_user_id IS NULL AND actor_reseller_user_id IS NULL AND (actor IN ('schedule', 'system') OR legacy_actor)));
    -- the portal's rate limits count a reseller user's recent actions (code reveals)
    -- the portal lists one reseller's orders by day and newest first
    CREATE INDEX orders_reseller_day ON orders (reseller_id, business_date, id);
    CREATE INDEX audit_log_actor_reseller_user ON audit_log (actor_reseller_user_id, action, at DESC) WHERE actor_reseller_user_id IS NOT NULL;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_is_a_user;
    DELETE FROM audit_log WHERE actor_reseller_user_id IS NOT NULL;
    ALTER TABLE audit_log DROP COLUMN actor_reseller_user_id;
    ALTER TABLE audit_log ADD CONSTRAINT audit_log_actor_is_a_user
      CHECK (actor_user_id IS NOT NULL OR actor IN ('schedule', 'system') OR legacy_actor);
    DROP INDEX IF EXISTS orders_reseller_day;
    DROP TABLE IF EXISTS portal_sessions, reseller_users;
  `);
}

import type { Knex } from 'knex';

/**
 * Dashboard users and their sessions. Owned by src/users. Passwords are scrypt hashes with a salt
 * of their own; a session token is stored only as its SHA-256, so a leaked table opens nothing.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE dashboard_users (
      id             bigserial PRIMARY KEY,
      username       text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9._-]{2,40}$'),
      display_name   text NOT NULL,
      role           text NOT NULL CHECK (role IN ('admin', 'finance', 'ops', 'viewer')),
      password_hash  text NOT NULL,
      disabled       boolean NOT NULL DEFAULT false,
      created_at     timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE dashboard_sessions (
      token_sha256  text PRIMARY KEY,
      user_id       bigint NOT NULL REFERENCES dashboard_users (id),
      csrf_token    text NOT NULL,
      created_at    timestamptz NOT NULL DEFAULT now(),
      expires_at    timestamptz NOT NULL
    );
    CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_at);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS dashboard_sessions, dashboard_users');
}

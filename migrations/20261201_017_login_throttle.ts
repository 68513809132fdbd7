import type { Knex } from 'knex';

/**
 * Login throttling state, owned by src/users/login-throttle.ts. One row per key: a username
 * (`user:`), a client address (`addr:`, IPv6 by /64) or the pair (`pair:`). Kept in PostgreSQL so
 * every process counts the same failures; a lock is a time it expires, never a flag.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE login_throttle (
      key              text PRIMARY KEY CHECK (key ~ '^(user|addr|pair):' AND length(key) <= 300),
      failures         integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
      last_failure_at  timestamptz,
      locked_until     timestamptz,
      last_success_at  timestamptz
    );
    CREATE INDEX login_throttle_last_failure ON login_throttle (last_failure_at);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS login_throttle');
}

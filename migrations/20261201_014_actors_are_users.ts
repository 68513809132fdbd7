import type { Knex } from 'knex';

/**
 * A person acts, not a string: who did an audited or money-moving thing is a user id, a foreign key
 * to dashboard_users, beside the name kept as text (for history, and for rows written before this,
 * whose names are backfilled to ids where a username matches exactly).
 *
 * The rules hold in the database, whatever the code above it does:
 * - payout_batches: creator and approver are users and different users (four eyes on ids); an
 *   approved, paid or failed batch names its approver.
 * - audit_log, recon_cases, settlement_days: a row names a user, unless the schedule or the
 *   system acted ('schedule' / 'system', no user).
 * Rows written before this whose name matches no user keep it as history, marked legacy_actor (the
 * only rows the "names a user" checks let through; a legacy draft can still be cancelled, a legacy
 * approved batch still paid).
 *
 * dashboard_sessions serve both the dashboard (cookie) and the CLI (`kameng login` token file),
 * told apart by `client` so that a token works only where it was issued.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE dashboard_sessions ADD COLUMN client text NOT NULL DEFAULT 'dashboard' CHECK (client IN ('dashboard', 'cli'));
    CREATE INDEX dashboard_sessions_user ON dashboard_sessions (user_id);

    ALTER TABLE audit_log ADD COLUMN actor_user_id bigint REFERENCES dashboard_users (id), ADD COLUMN legacy_actor boolean NOT NULL DEFAULT false;
    UPDATE audit_log a SET actor_user_id = u.id FROM dashboard_users u WHERE u.username = a.actor;
    UPDATE audit_log SET legacy_actor = true WHERE actor_user_id IS NULL;
    ALTER TABLE audit_log ADD CONSTRAINT audit_log_actor_is_a_user
      CHECK (actor_user_id IS NOT NULL OR actor IN ('schedule', 'system') OR legacy_actor);
    CREATE INDEX audit_log_actor_user ON audit_log (actor_user_id, at DESC);

    ALTER TABLE payout_batches
      ADD COLUMN created_by_user_id bigint REFERENCES dashboard_users (id),
      ADD COLUMN approved_by_user_id bigint REFERENCES dashboard_users (id),
      ADD COLUMN legacy_actor boolean NOT NULL DEFAULT false;
    UPDATE payout_batches b SET created_by_user_id = u.id FROM dashboard_users u WHERE u.username = b.created_by;
    UPDATE payout_batches b SET approved_by_user_id = u.id FROM dashboard_users u WHERE u.username = b.approved_by;
    UPDATE payout_batches SET legacy_actor = true WHERE created_by_user_id IS NULL OR (approved_by IS NOT NULL AND approved_by_user_id IS NULL);
    ALTER TABLE payout_batches ADD CONSTRAINT payout_batches_four_eyes_users
      CHECK (approved_by_user_id IS NULL OR approved_by_user_id <> created_by_user_id);
    ALTER TABLE payout_batches ADD CONSTRAINT payout_batches_named_users
      CHECK (legacy_actor OR (created_by_user_id IS NOT NULL AND (status IN ('draft', 'cancelled') OR approved_by_user_id IS NOT NULL)));

    ALTER TABLE recon_cases ADD COLUMN resolved_by_user_id bigint REFERENCES dashboard_users (id), ADD COLUMN legacy_actor boolean NOT NULL DEFAULT false;
    UPDATE recon_cases c SET resolved_by_user_id = u.id FROM dashboard_users u WHERE u.username = c.resolved_by;
    UPDATE recon_cases SET legacy_actor = true WHERE resolved_by IS NOT NULL AND resolved_by <> 'system' AND resolved_by_user_id IS NULL;
    ALTER TABLE recon_cases ADD CONSTRAINT recon_cases_resolved_by_a_user
      CHECK (state <> 'resolved' OR resolved_by_user_id IS NOT NULL OR resolved_by = 'system' OR legacy_actor);

    ALTER TABLE settlement_days ADD COLUMN settled_by_user_id bigint REFERENCES dashboard_users (id), ADD COLUMN legacy_actor boolean NOT NULL DEFAULT false;
    UPDATE settlement_days d SET settled_by_user_id = u.id FROM dashboard_users u WHERE u.username = d.settled_by;
    UPDATE settlement_days SET legacy_actor = true WHERE settled_by_user_id IS NULL AND settled_by <> 'schedule';
    ALTER TABLE settlement_days ADD CONSTRAINT settlement_days_settled_by_a_user
      CHECK (settled_by_user_id IS NOT NULL OR settled_by = 'schedule' OR legacy_actor);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE settlement_days DROP COLUMN settled_by_user_id, DROP COLUMN legacy_actor;
    ALTER TABLE recon_cases DROP COLUMN resolved_by_user_id, DROP COLUMN legacy_actor;
    ALTER TABLE payout_batches DROP COLUMN approved_by_user_id, DROP COLUMN created_by_user_id, DROP COLUMN legacy_actor;
    ALTER TABLE audit_log DROP COLUMN actor_user_id, DROP COLUMN legacy_actor;
    DROP INDEX IF EXISTS dashboard_sessions_user;
    ALTER TABLE dashboard_sessions DROP COLUMN client;
  `);
}

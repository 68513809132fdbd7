import type { Knex } from 'knex';

/**
 * Stock receipts (src/procurement): a supplier's delivery keeps its good codes and quarantines the
 * rest; what a delivery brought is booked in the import's own transaction; a procurement run is a
 * row per Temporal run.
 *
 * - card_quarantine: codes a supplier delivered that we did not stock (a repeat within the delivery,
 *   a code we already received, an expired or unreadable one), with the reason. APPEND-ONLY: rows
 *   are evidence for a claim; a trigger refuses UPDATE and DELETE (the app role needs INSERT and
 *   SELECT only).
 * - card_batches.quarantined_count: how many codes of the delivery were quarantined (code_count
 *   stays the codes stocked).
 * - supplier_claims: a claim now has a source. 'recon_case' (case_id, as before) or
 *   'card_quarantine' (card_batch_id: the delivery whose quarantined codes we claim back). Both are
 *   netted off the supplier's next payout the same way (src/payouts). Additive: existing rows are
 *   recon_case claims.
 * - procurement_runs: one row per Temporal run (workflow_id, temporal_run_id); rows from before this
 *   migration have no run id. quarantined: codes of the run's delivery that were quarantined.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE card_batches ADD COLUMN quarantined_count int NOT NULL DEFAULT 0 CHECK (quarantined_count >= 0);

    CREATE TABLE card_quarantine (
      id              bigserial PRIMARY KEY,
      batch_id        bigint NOT NULL REFERENCES card_batches (id),
      sku_code        text NOT NULL REFERENCES skus (code),
      supplier_id     bigint REFERENCES suppliers (id),
      -- where in the delivery (1-based)
      line            int NOT NULL,
      serial          text NOT NULL,
      -- sealed like card_codes.code_sealed; NULL when the delivery's code was empty
      code_sealed     bytea,
      fingerprint     bytea,
      expires_on      date,
      reason          text NOT NULL CHECK (reason IN ('empty_code', 'empty_serial', 'bad_expiry', 'expired', 'wrong_sku', 'duplicate_in_delivery', 'already_received')),
      detail          text NOT NULL,
      unit_cost_fen   bigint NOT NULL CHECK (unit_cost_fen >= 0),
      quarantined_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX card_quarantine_batch ON card_quarantine (batch_id);
    CREATE INDEX card_quarantine_recent ON card_quarantine (quarantined_at DESC, id DESC);

    CREATE FUNCTION card_quarantine_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION USING ERRCODE = 'KM006',
        MESSAGE = format('card_quarantine is append-only: %s is refused', TG_OP);
    END $$;
    CREATE TRIGGER card_quarantine_append_only BEFORE UPDATE OR DELETE ON card_quarantine
      FOR EACH ROW EXECUTE FUNCTION card_quarantine_refuse_change();

    ALTER TABLE supplier_claims
      ALTER COLUMN case_id DROP NOT NULL,
      ADD COLUMN source text NOT NULL DEFAULT 'recon_case',
      ADD COLUMN card_batch_id bigint UNIQUE REFERENCES card_batches (id),
      ADD CONSTRAINT supplier_claims_one_subject CHECK (num_nonnulls(case_id, card_batch_id) = 1),
      ADD CONSTRAINT supplier_claims_quarantine_subject CHECK ((source = 'card_quarantine') = (card_batch_id IS NOT NULL));

    ALTER TABLE procurement_runs
      DROP CONSTRAINT procurement_runs_workflow_id_key,
      ADD COLUMN temporal_run_id text,
      ADD COLUMN quarantined int NOT NULL DEFAULT 0 CHECK (quarantined >= 0);
    CREATE UNIQUE INDEX procurement_runs_per_run ON procurement_runs (workflow_id, temporal_run_id);
    CREATE INDEX procurement_runs_workflow ON procurement_runs (workflow_id, started_at DESC);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX IF EXISTS procurement_runs_per_run, procurement_runs_workflow;
    ALTER TABLE procurement_runs DROP COLUMN IF EXISTS temporal_run_id, DROP COLUMN IF EXISTS quarantined;
    DELETE FROM supplier_claims WHERE source = 'card_quarantine';
    ALTER TABLE supplier_claims
      DROP CONSTRAINT IF EXISTS supplier_claims_one_subject, DROP CONSTRAINT IF EXISTS supplier_claims_quarantine_subject,
      DROP COLUMN IF EXISTS source, DROP COLUMN IF EXISTS card_batch_id,
      ALTER COLUMN case_id SET NOT NULL;
    DROP TABLE IF EXISTS card_quarantine;
    DROP FUNCTION IF EXISTS card_quarantine_refuse_change;
    ALTER TABLE card_batches DROP COLUMN IF EXISTS quarantined_count;
  `);
}

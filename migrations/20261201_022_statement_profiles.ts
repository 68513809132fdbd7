import type { Knex } from 'knex';

/**
 * Statement profiles (issue 19): how each supplier's statement is read, saved by a person. Refund
 * and processing lines are classes of their own. A run can stop as suspicious (most lines unknown
 * to us: another day's or another supplier's file) until finance confirms it; a run shows what the
 * reader found beside the lines (preamble, footers, control totals).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE supplier_statement_profiles (
      supplier_id         bigint PRIMARY KEY REFERENCES suppliers (id),
      profile             jsonb NOT NULL,
      updated_by          text NOT NULL,
      updated_by_user_id  bigint REFERENCES dashboard_users (id),
      updated_at          timestamptz NOT NULL DEFAULT now()
    );

    ALTER TABLE recon_items DROP CONSTRAINT recon_items_class_check;
    ALTER TABLE recon_items ADD CONSTRAINT recon_items_class_check CHECK (class IN ('matched', 'amount_mismatch', 'status_mismatch',
      'missing_at_supplier', 'missing_in_ours', 'duplicate_at_supplier', 'refund_at_supplier', 'processing_at_supplier'));

    ALTER TABLE recon_runs DROP CONSTRAINT recon_runs_status_check;
    ALTER TABLE recon_runs ADD CONSTRAINT recon_runs_status_check CHECK (status IN ('running', 'completed', 'rejected', 'failed', 'suspicious'));
    ALTER TABLE recon_runs
      ADD COLUMN findings jsonb NOT NULL DEFAULT '[]'::jsonb,
      -- a suspicious run: what the file held against what the day holds
      ADD COLUMN evidence jsonb,
      ADD COLUMN confirmed_by text;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE recon_runs DROP COLUMN findings, DROP COLUMN evidence, DROP COLUMN confirmed_by;
    ALTER TABLE recon_runs DROP CONSTRAINT recon_runs_status_check;
    ALTER TABLE recon_runs ADD CONSTRAINT recon_runs_status_check CHECK (status IN ('running', 'completed', 'rejected', 'failed'));
    DELETE FROM recon_items WHERE class IN ('refund_at_supplier', 'processing_at_supplier');
    ALTER TABLE recon_items DROP CONSTRAINT recon_items_class_check;
    ALTER TABLE recon_items ADD CONSTRAINT recon_items_class_check CHECK (class IN ('matched', 'amount_mismatch', 'status_mismatch', 'missing_at_supplier', 'missing_in_ours', 'duplicate_at_supplier'));
    DROP TABLE supplier_statement_profiles;
  `);
}

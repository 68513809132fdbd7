import type { Knex } from 'knex';

/** Procurement runs (src/procurement): one row per procureStock workflow, for the dashboard and audit. */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE procurement_runs (
      id              bigserial PRIMARY KEY,
      workflow_id     text NOT NULL UNIQUE,
      sku_code        text NOT NULL REFERENCES skus (code),
      quantity        int NOT NULL CHECK (quantity > 0),
      reason          text NOT NULL,
      status          text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
      supplier_id     bigint REFERENCES suppliers (id),
      request_id      text,
      batch_id        bigint REFERENCES card_batches (id),
      total_cost_fen  bigint,
      failures        jsonb NOT NULL DEFAULT '[]'::jsonb,
      started_at      timestamptz NOT NULL DEFAULT now(),
      finished_at     timestamptz
    );
    CREATE INDEX procurement_runs_started ON procurement_runs (started_at DESC);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS procurement_runs');
}

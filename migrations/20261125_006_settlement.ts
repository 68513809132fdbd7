import type { Knex } from 'knex';

/**
 * Reseller settlement (src/settlement), volume rebates (src/settlement/rebates.ts) and supplier
 * payouts (src/payouts).
 *
 * - A settled day is frozen: every wallet posting is settled exactly once (reseller_statement_lines
 *   is keyed by posting), into the first day settled on or after its business date. A posting that
 *   arrives for a day already settled lands in the next settled day, flagged late with its own date.
 * - A statement's identity (closing = opening + credits - debits) is a CHECK; that its closing
 *   equals the ledger is checked by the settlement before it commits.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    INSERT INTO ledger_account_kinds (kind, normal_side, no_overdraft, label_zh, label_en) VALUES
      ('rebates',            'debit',  false, '返利支出',   'Volume rebates'),
      ('payouts_in_transit', 'credit', false, '在途付款',   'Payouts in transit');

    CREATE TABLE settlement_days (
      business_date  date PRIMARY KEY,
      statements     int NOT NULL,
      lines          int NOT NULL,
      late_lines     int NOT NULL,
      -- when the settling transaction began: late postings are looked for from shortly before it
      started_at     timestamptz NOT NULL,
      settled_at     timestamptz NOT NULL DEFAULT now(),
      settled_by     text NOT NULL
    );

    CREATE TABLE reseller_statements (
      id                 bigserial PRIMARY KEY,
      reseller_id        bigint NOT NULL REFERENCES resellers (id),
      business_date      date NOT NULL REFERENCES settlement_days (business_date),
      currency           char(3) NOT NULL DEFAULT 'CNY',
      opening_fen        bigint NOT NULL,
      topups_fen         bigint NOT NULL,
      orders_count       int NOT NULL,
      orders_gross_fen   bigint NOT NULL,
      refunds_fen        bigint NOT NULL,
      -- signed: positive credits the reseller
      adjustments_fen    bigint NOT NULL,
      rebates_fen        bigint NOT NULL,
      other_fen          bigint NOT NULL,
      credits_fen        bigint NOT NULL CHECK (credits_fen >= 0),
      debits_fen         bigint NOT NULL CHECK (debits_fen >= 0),
      closing_fen        bigint NOT NULL,
      lines              int NOT NULL,
      late_lines         int NOT NULL,
      UNIQUE (reseller_id, business_date, currency),
      CONSTRAINT reseller_statements_identity CHECK (closing_fen = opening_fen + credits_fen - debits_fen),
      CONSTRAINT reseller_statements_sections CHECK (
        credits_fen - debits_fen = topups_fen - orders_gross_fen + refunds_fen + adjustments_fen + rebates_fen + other_fen
      )
    );
    CREATE INDEX reseller_statements_date ON reseller_statements (business_date);

    CREATE TABLE reseller_statement_lines (
      posting_id     bigint PRIMARY KEY REFERENCES ledger_postings (id),
      statement_id   bigint NOT NULL REFERENCES reseller_statements (id),
      entry_id       bigint NOT NULL,
      section        text NOT NULL CHECK (section IN ('topup', 'order', 'refund', 'adjustment', 'rebate', 'other')),
      -- signed from the reseller's side: a credit to the wallet is positive
      amount_fen     bigint NOT NULL,
      -- the entry's own business date; earlier than the statement's when the line is late
      entry_date     date NOT NULL,
      posted_at      timestamptz NOT NULL
    );
    CREATE INDEX reseller_statement_lines_statement ON reseller_statement_lines (statement_id, section, posting_id);

    -- Monthly volume rebate, per price tier, in marginal brackets: rate_bp of the month's net
    -- gross between this threshold and the next one up.
    CREATE TABLE rebate_rules (
      tier           text NOT NULL,
      threshold_fen  bigint NOT NULL CHECK (threshold_fen >= 0),
      rate_bp        int NOT NULL CHECK (rate_bp BETWEEN 0 AND 10000),
      PRIMARY KEY (tier, threshold_fen)
    );

    CREATE TABLE rebate_awards (
      month          char(7) NOT NULL CHECK (month ~ '^\\d{4}-\\d{2}$'),
      reseller_id    bigint NOT NULL REFERENCES resellers (id),
      tier           text NOT NULL,
      net_gross_fen  bigint NOT NULL,
      rebate_fen     bigint NOT NULL CHECK (rebate_fen >= 0),
      entry_id       bigint,
      awarded_at     timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (month, reseller_id)
    );

    CREATE TABLE payout_batches (
      id              bigserial PRIMARY KEY,
      status          text NOT NULL CHECK (status IN ('draft', 'approved', 'paid', 'failed', 'cancelled')),
      period_from     date NOT NULL,
      period_to       date NOT NULL CHECK (period_to >= period_from),
      total_fen       bigint NOT NULL,
      created_by      text NOT NULL,
      created_at      timestamptz NOT NULL DEFAULT now(),
      approved_by     text,
      approved_at     timestamptz,
      bank_reference  text,
      paid_at         timestamptz,
      failed_reason   text,
      failed_at       timestamptz,
      CONSTRAINT payout_batches_four_eyes CHECK (approved_by IS NULL OR approved_by <> created_by)
    );

    CREATE TABLE payout_lines (
      id            bigserial PRIMARY KEY,
      batch_id      bigint NOT NULL REFERENCES payout_batches (id),
      supplier_id   bigint NOT NULL REFERENCES suppliers (id),
      -- what we owe through period_to, before claims
      payable_fen   bigint NOT NULL CHECK (payable_fen > 0),
      claims_fen    bigint NOT NULL CHECK (claims_fen >= 0),
      amount_fen    bigint NOT NULL CHECK (amount_fen > 0 AND amount_fen = payable_fen - claims_fen),
      -- a supplier is in at most one batch that is not yet paid, failed or cancelled
      open          boolean NOT NULL DEFAULT true,
      UNIQUE (batch_id, supplier_id)
    );
    CREATE UNIQUE INDEX payout_lines_one_open ON payout_lines (supplier_id) WHERE open;

    ALTER TABLE supplier_claims ADD COLUMN payout_line_id bigint REFERENCES payout_lines (id);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE supplier_claims DROP COLUMN IF EXISTS payout_line_id;
    DROP TABLE IF EXISTS payout_lines, payout_batches, rebate_awards, rebate_rules,
      reseller_statement_lines, reseller_statements, settlement_days CASCADE;
    DELETE FROM ledger_account_kinds WHERE kind IN ('rebates', 'payouts_in_transit');
  `);
}
